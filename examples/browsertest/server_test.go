package browsertest

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/examples/server/service"
)

// password is the dashboard password of the service under test.
const password = "browser test password"

// chromiumPath finds Debian's chromium, or skips the test (fails it in CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; CI must install it (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed: apt-get install -y chromium (the test then drives it headless)")
	return ""
}

// serviceURL starts the reference service as `server -dashboard` would
// run, on a free loopback port, and returns its base URL. Its output,
// which holds the admin key, is kept to be checked, never printed.
func serviceURL(t *testing.T) (string, *output) {
	t.Helper()
	out := &output{changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	getenv := func(name string) string {
		if name == "GATEKEY_DASHBOARD_PASSWORD" {
			return password
		}
		return ""
	}
	go func() {
		done <- service.Run(ctx, []string{"-addr", "127.0.0.1:0", "-dashboard"}, getenv, out, nil)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the service: %v", err)
		}
	})
	deadline := time.After(30 * time.Second)
	for {
		if u, ok := out.listening(); ok {
			return u, out
		}
		select {
		case err := <-done:
			t.Fatalf("the service stopped: %v", err)
		case <-deadline:
			t.Fatal("the service did not start listening in 30s")
		case <-out.next():
		}
	}
}

// output collects what the service writes to its stderr.
type output struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{} // closed and replaced on every Write
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(o.changed)
	o.changed = make(chan struct{})
	return o.b.Write(p)
}

func (o *output) next() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.changed
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// listening returns the address of the "listening on" line.
func (o *output) listening() (string, bool) {
	for line := range strings.Lines(o.String()) {
		if u, ok := strings.CutPrefix(line, "listening on "); ok {
			return strings.TrimSpace(u), true
		}
	}
	return "", false
}

// callAPI sends GET /v1/me with key and returns the status and the error
// code of the answer ("" for none).
func callAPI(t *testing.T, base, key string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/v1/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	code := ""
	if _, rest, ok := strings.Cut(string(body), `"code":"`); ok {
		code, _, _ = strings.Cut(rest, `"`)
	}
	return resp.StatusCode, code
}

// holdsKey reports whether s holds something shaped like an API key.
func holdsKey(s string) bool { return apikey.RedactAll(s) != s }
