//go:build unix

package service

// Layer 2: the real binary (examples/server, the main package that runs this
// service), built once per test run, started on a loopback
// port, driven over HTTP and stopped with SIGTERM.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// serverBinary builds the service once per test run.
func serverBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("go tool not on PATH: cannot build the server binary")
		}
		t.Skip("go tool not on PATH: cannot build the server binary")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "gatekey-server-e2e-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "server")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, goTool, "build", "-o", binPath, "github.com/gatekey/gatekey/examples/server").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type proc struct {
	t       *testing.T
	cmd     *exec.Cmd
	stderr  *syncBuffer
	exited  chan struct{}
	waitErr error
	addr    string // host:port once listening
	base    string // http://addr
	client  *http.Client
}

// startBinary starts the server with GATEKEY_ADMIN_KEY set to adminEnv
// (unset when empty) and waits for its "listening on" line unless
// wantListen is false.
func startBinary(t *testing.T, adminEnv string, wantListen bool, args ...string) *proc {
	t.Helper()
	bin := serverBinary(t)
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEKEY_ADMIN_KEY=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if adminEnv != "" {
		cmd.Env = append(cmd.Env, "GATEKEY_ADMIN_KEY="+adminEnv)
	}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{}),
		client: &http.Client{Timeout: 5 * time.Second}}
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			p.stderr.Write([]byte(sc.Text() + "\n"))
		}
		io.Copy(io.Discard, pipe)
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			t.Errorf("server process %d did not die after SIGKILL", cmd.Process.Pid)
		}
	})
	if wantListen {
		m := p.waitFor(regexp.MustCompile(`(?m)^listening on http://(\S+)$`), 15*time.Second)
		p.addr = m[1]
		if host, _, err := net.SplitHostPort(p.addr); err != nil || host != "127.0.0.1" {
			t.Fatalf("listening on %q, want a 127.0.0.1 address", p.addr)
		}
		p.base = "http://" + p.addr
	}
	return p
}

// waitFor waits until stderr matches re, the process exits, or timeout
// passes. It looks again at each line the process writes.
func (p *proc) waitFor(re *regexp.Regexp, timeout time.Duration) []string {
	p.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		next := p.stderr.next() // before looking, so no line is missed
		if m := re.FindStringSubmatch(p.stderr.String()); m != nil {
			return m
		}
		select {
		case <-next:
		case <-p.exited:
			if m := re.FindStringSubmatch(p.stderr.String()); m != nil {
				return m
			}
			p.t.Fatalf("server exited (%v) before printing %q; stderr:\n%s", p.waitErr, re, p.stderr.String())
		case <-deadline.C:
			p.t.Fatalf("no %q on stderr within %v; stderr:\n%s", re, timeout, p.stderr.String())
		}
	}
}

// stop sends SIGTERM and wants a clean exit (status 0) within a few
// seconds.
func (p *proc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	p.wantExit(0, 5*time.Second)
}

func (p *proc) wantExit(code int, timeout time.Duration) {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("server still running %v after SIGTERM; stderr:\n%s", timeout, p.stderr.String())
	}
	got := p.cmd.ProcessState.ExitCode()
	if code == 0 && got != 0 || code != 0 && got == 0 {
		p.t.Errorf("exit status %d (%v), want %d; stderr:\n%s", got, p.waitErr, code, p.stderr.String())
	}
}

func (p *proc) do(method, path, key string, body any, known []string, mods ...func(*http.Request)) response {
	p.t.Helper()
	return doRequest(p.t, p.client, p.base, method, path, key, body, known, mods...)
}

// TestBinary: start with a generated admin key, use it, stop with SIGTERM.
func TestBinary(t *testing.T) {
	t.Parallel()
	p := startBinary(t, "", true)
	admin := p.waitFor(regexp.MustCompile(`(?m)^admin key: (\S+)$`), 5*time.Second)[1]
	tok, err := apikey.Parse(admin)
	if err != nil || !strings.HasPrefix(admin, "sk_test_") {
		t.Fatalf("printed admin key is not a valid sk_test_ key (%v)", err)
	}
	known := []string{admin}

	r := p.do("GET", "/v1/me", admin, nil, known)
	wantStatus(t, r, http.StatusOK)
	wantRateLimitHeaders(t, r)
	me := checkMeta(t, r.Body, meFields...)
	if me.ID != tok.ID() || me.Name != "admin" || me.Environment != "test" || me.Permission != "read_write" || me.Type != "secret" {
		t.Errorf("/v1/me of the printed admin key: %+v", me)
	}
	if me.RateLimit == nil || len(me.RateLimit.Limits) != 2 ||
		me.RateLimit.Limits[0] != (limitJ{100, 60}) || me.RateLimit.Limits[1] != (limitJ{10000, 86400}) {
		t.Errorf("default rate_limit = %+v, want 100/60 and 10000/86400", me.RateLimit)
	}

	// The three documented credential forms.
	for _, mod := range []func(*http.Request){
		header("Authorization", "token "+admin),
		func(r *http.Request) { r.SetBasicAuth(admin, "") },
	} {
		wantStatus(t, p.do("GET", "/v1/me", "", nil, known, mod), http.StatusOK)
	}

	wantError(t, p.do("GET", "/v1/me", "", nil, known), http.StatusUnauthorized, "missing_api_key")
	wantError(t, p.do("GET", "/v1/nothing", admin, nil, known), http.StatusNotFound, "not_found")
	wantError(t, p.do("DELETE", "/v1/me", admin, nil, known), http.StatusMethodNotAllowed, "method_not_allowed")

	// A 16 KB credential gets a JSON 401, not net/http's plain-text 431.
	huge := "sk_test_" + strings.Repeat("A", 16<<10)
	wantError(t, p.do("GET", "/v1/me", huge, nil, append(known, huge)), http.StatusUnauthorized, "invalid_api_key")

	// Create a key and use it.
	r = p.do("POST", "/v1/keys", admin, map[string]any{"name": "ci", "permission": "read_only"}, known)
	wantStatus(t, r, http.StatusCreated)
	k := checkMeta(t, r.Body, "key")
	known = append(known, k.Key)
	wantStatus(t, p.do("GET", "/v1/keys", k.Key, nil, known), http.StatusOK)
	wantError(t, p.do("POST", "/v1/monitors", k.Key, map[string]any{"name": "x", "url": "https://example.com"}, known),
		http.StatusForbidden, "insufficient_permissions")

	p.stop()

	// The admin key was printed once, and no key appears anywhere else.
	out := p.stderr.String()
	if n := strings.Count(out, admin); n != 1 {
		t.Errorf("admin key appears %d times on stderr, want once (the admin key line)", n)
	}
	for _, s := range leakForms(k.Key) {
		if strings.Contains(out, s) {
			t.Errorf("stderr (logs) holds a created key")
		}
	}
	if strings.Contains(out, huge[:64]) {
		t.Errorf("stderr (logs) holds a presented key")
	}
}

// TestBinaryGracefulShutdown: SIGTERM lets an in-flight request finish,
// then the process exits 0.
func TestBinaryGracefulShutdown(t *testing.T) {
	t.Parallel()
	p := startBinary(t, "", true)
	admin := p.waitFor(regexp.MustCompile(`(?m)^admin key: (\S+)$`), 5*time.Second)[1]

	conn, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	body := `{"name":"in flight"}`
	// With Expect: 100-continue, net/http answers "100 Continue" when the
	// handler first reads the body: then the request is surely in flight.
	fmt.Fprintf(conn, "POST /v1/keys HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		p.addr, admin, len(body))
	br := bufio.NewReader(conn)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("want 100 Continue, got %q, %v", line, err)
	}
	if line, err := br.ReadString('\n'); err != nil || line != "\r\n" {
		t.Fatalf("want the end of the 100 response, got %q, %v", line, err)
	}
	io.WriteString(conn, body[:5])

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The server says so once its listener is closed.
	p.waitFor(regexp.MustCompile(`no new connections`), 5*time.Second)
	select {
	case <-p.exited:
		t.Fatalf("server exited with a request in flight; stderr:\n%s", p.stderr.String())
	default:
	}
	// New connections are refused once shutting down.
	if c, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
		c.Close()
		t.Errorf("server still accepts connections after SIGTERM")
	}
	io.WriteString(conn, body[5:])
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight request got no response: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("in-flight request: %d, want 201: %s", res.StatusCode, b)
	}
	p.wantExit(0, 5*time.Second)
}

// TestBinaryAdminKeyFromEnv: GATEKEY_ADMIN_KEY is registered as a
// read-write admin in its environment, and no key is printed.
func TestBinaryAdminKeyFromEnv(t *testing.T) {
	t.Parallel()
	live := generate(t, apikey.SecretKey, apikey.Live)
	p := startBinary(t, live, true)
	known := []string{live}
	if strings.Contains(p.stderr.String(), "admin key:") {
		t.Errorf("an admin key line was printed although GATEKEY_ADMIN_KEY was set")
	}
	r := p.do("GET", "/v1/me", live, nil, known)
	wantStatus(t, r, http.StatusOK)
	me := checkMeta(t, r.Body, meFields...)
	if me.ID != mustParse(t, live).ID() || me.Name != "admin" || me.Environment != "live" || me.Permission != "read_write" || me.Type != "secret" {
		t.Errorf("/v1/me of GATEKEY_ADMIN_KEY: %+v, want admin/live/read_write/secret", me)
	}
	r = p.do("POST", "/v1/keys", live, map[string]any{"name": "prod"}, known)
	wantStatus(t, r, http.StatusCreated)
	if k := checkMeta(t, r.Body, "key"); !strings.HasPrefix(k.Key, "sk_live_") || k.Environment != "live" {
		t.Errorf("key created by the live admin: %.8s… in %q, want sk_live_ / live", k.Key, k.Environment)
	}
	// A test key is not this service's admin.
	wantError(t, p.do("GET", "/v1/me", generate(t, apikey.SecretKey, apikey.Test), nil, known), http.StatusUnauthorized, "invalid_api_key")
	p.stop()
	if strings.Contains(p.stderr.String(), live) || strings.Contains(p.stderr.String(), "admin key:") {
		t.Errorf("stderr mentions the configured admin key")
	}
}

// TestBinaryInvalidAdminKey: an invalid GATEKEY_ADMIN_KEY stops start-up
// with a non-zero status, without echoing the value.
func TestBinaryInvalidAdminKey(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]string{
		"publishable": generate(t, apikey.PublishableKey, apikey.Live),
		"garbage":     "sk_live_" + strings.Repeat("Z", 50),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := startBinary(t, v, false)
			p.wantExit(1, 10*time.Second)
			out := p.stderr.String()
			if strings.Contains(out, "listening on") {
				t.Errorf("server started with an invalid GATEKEY_ADMIN_KEY")
			}
			for _, s := range append(leakForms(v), v[8:40]) {
				if strings.Contains(out, s) {
					t.Errorf("stderr echoes the invalid GATEKEY_ADMIN_KEY: %s", out)
				}
			}
		})
	}
}

// TestBinaryFlags: -rate, -error-format, -cors-origins, -log-format and
// -require-tls reach the service.
func TestBinaryFlags(t *testing.T) {
	t.Parallel()
	t.Run("rate, simple errors, CORS, JSON logs", func(t *testing.T) {
		t.Parallel()
		origin := "https://app.example.com"
		p := startBinary(t, "", true, "-rate", "2/minute", "-error-format", "simple", "-cors-origins", origin+",https://b.example", "-log-format", "json")
		admin := p.waitFor(regexp.MustCompile(`(?m)^admin key: (\S+)$`), 5*time.Second)[1]
		known := []string{admin}
		for range 2 {
			r := p.do("GET", "/v1/me", admin, nil, known)
			wantStatus(t, r, http.StatusOK)
			if !strings.Contains(r.Header.Get("RateLimit-Policy"), "q=2") {
				t.Errorf("RateLimit-Policy %q, want q=2", r.Header.Get("RateLimit-Policy"))
			}
		}
		r := p.do("GET", "/v1/me", admin, nil, known)
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("3rd request with -rate 2/minute: %d, want 429", r.Status)
		}
		if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		var simple map[string]any
		if err := json.Unmarshal(r.Body, &simple); err != nil || len(simple) != 1 || simple["error"] == nil {
			t.Errorf(`-error-format simple body %s, want {"error":"message"}`, r.Body)
		} else if _, ok := simple["error"].(string); !ok {
			t.Errorf(`-error-format simple body %s, want {"error":"message"}`, r.Body)
		}
		r = p.do("OPTIONS", "/v1/keys", "", nil, known, header("Origin", origin), header("Access-Control-Request-Method", "POST"))
		if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("preflight: %d, Access-Control-Allow-Origin %q, want 204 and %q", r.Status, r.Header.Get("Access-Control-Allow-Origin"), origin)
		}
		p.stop()
		// Every log line is JSON, apart from the two start-up lines.
		for line := range strings.SplitSeq(strings.TrimSpace(p.stderr.String()), "\n") {
			if strings.HasPrefix(line, "admin key: ") || strings.HasPrefix(line, "listening on ") {
				continue
			}
			if !json.Valid([]byte(line)) {
				t.Errorf("-log-format json: line is not JSON: %.200s", line)
			}
		}
	})
	t.Run("require-tls", func(t *testing.T) {
		t.Parallel()
		p := startBinary(t, "", true, "-require-tls")
		admin := p.waitFor(regexp.MustCompile(`(?m)^admin key: (\S+)$`), 5*time.Second)[1]
		wantError(t, p.do("GET", "/v1/me", admin, nil, []string{admin}), http.StatusForbidden, "https_required")
		p.stop()
	})
	t.Run("bad flag values", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{{"-rate", "lots"}, {"-error-format", "xml"}, {"-auth-failure-rate", "0/minute"}, {"-tls-cert", "x.pem"}} {
			p := startBinary(t, "", false, args...)
			p.wantExit(1, 10*time.Second)
		}
	})
}
