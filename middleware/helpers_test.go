package middleware_test

import (
	"bytes"
	"context"
	"hash/crc32"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/apikeytest"
	apierrors "github.com/gatekey/gatekey/errors"
)

// fixture is a Manager with one key of each interesting kind.
type fixture struct {
	clock *apikeytest.Clock
	mgr   *apikey.Manager
	keys  map[string]string      // name → plaintext
	recs  map[string]*apikey.Key // name → record
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{clock: apikeytest.NewClock(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)), keys: map[string]string{}, recs: map[string]*apikey.Key{}}
	mgr, err := apikey.NewManager(&apikey.MemoryStore{}, apikey.ManagerConfig{
		Verifier: apikey.VerifierConfig{Now: f.clock.Now, LastUsedInterval: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() })
	f.mgr = mgr
	ctx := context.Background()
	for name, p := range map[string]apikey.CreateParams{
		"secret":      {Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite},
		"secret-ro":   {Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadOnly},
		"secret-test": {Type: apikey.SecretKey, Environment: apikey.Test, Permission: apikey.ReadWrite},
		"publishable": {Type: apikey.PublishableKey, Environment: apikey.Live, Scopes: []string{"monitors:read"}},
		"scoped":      {Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite, Scopes: []string{"monitors:read", "monitors:write"}},
		"expiring":    {Type: apikey.SecretKey, Environment: apikey.Live, ExpiresAt: f.clock.Now().Add(time.Hour)},
		"revoked":     {Type: apikey.SecretKey, Environment: apikey.Live},
		"disabled":    {Type: apikey.SecretKey, Environment: apikey.Live},
		"office-only": {Type: apikey.SecretKey, Environment: apikey.Live, AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}},
	} {
		p.Name = name
		tok, rec, err := mgr.Create(ctx, p)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		f.keys[name] = tok.Reveal()
		f.recs[name] = rec
	}
	if _, err := mgr.Revoke(ctx, f.recs["revoked"].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.Disable(ctx, f.recs["disabled"].ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Hour) // "expiring" is now expired
	return f
}

// decodeError reads w's error body, which must agree with w's status.
func decodeError(t testing.TB, w *httptest.ResponseRecorder) *apierrors.Error {
	t.Helper()
	e, err := apierrors.Decode(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatalf("body %q is not a JSON error: %v", w.Body, err)
	}
	if e.Status != w.Code {
		t.Errorf("body status %d, response status %d", e.Status, w.Code)
	}
	return e
}

// assertNoLeak fails if the response contains any of the secrets.
func assertNoLeak(t testing.TB, w *httptest.ResponseRecorder, secrets ...string) {
	t.Helper()
	var all strings.Builder
	all.Write(w.Body.Bytes())
	for k, vs := range w.Header() {
		all.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		// Any 16-character run of the key's body must not appear.
		for i := 0; i+16 <= len(s); i += 8 {
			if strings.Contains(all.String(), s[i:i+16]) {
				t.Errorf("response contains part of a presented key")
				return
			}
		}
	}
}

// okHandler records whether it ran and which key it saw.
type okHandler struct {
	called bool
	key    *apikey.Key
}

func (h *okHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.called = true
	h.key, _ = keyFrom(r)
	w.WriteHeader(http.StatusOK)
}

// checksum computes the key checksum independently of apikey:
// CRC-32 (IEEE) of s, base62, big-endian, zero-padded to 6 digits.
func checksum(s string) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	v := crc32.ChecksumIEEE([]byte(s))
	var out [6]byte
	for i := 5; i >= 0; i-- {
		out[i] = digits[v%62]
		v /= 62
	}
	return string(out[:])
}

// quietWriter installs an error writer that logs nowhere.
func quietWriter(h http.Handler) http.Handler {
	return (&apierrors.Writer{Logger: slog.New(slog.DiscardHandler)}).Middleware(h)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
