package middleware_test

// Adversarial tests from an independent security review. Each fails if the
// weakness it names exists. No test
// prints a plaintext key.

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"strings"
	"testing"

	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
)

// srRelabel swaps the "sk_live_" label of key for prefix and fixes the checksum.
func srRelabel(key, prefix string) string {
	body := key[len("sk_live_") : len(key)-6]
	return prefix + body + checksum(prefix+body)
}

// srWrongSecret changes one secret character of key and fixes the checksum.
func srWrongSecret(key string) string {
	b := []byte(key[:len(key)-6])
	i := len(b) - 1
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b) + checksum(string(b))
}

func srSnapshot(w *httptest.ResponseRecorder) string {
	var hs []string
	for k, vs := range w.Header() {
		hs = append(hs, k+": "+strings.Join(vs, ","))
	}
	sort.Strings(hs)
	return strings.Join(hs, "\n") + "\n\n" + w.Body.String()
}

// Wrong secrets for revoked, disabled and expired keys, relabelled genuine
// keys (pk/test/service), unknown ids and malformed keys all get exactly the
// same response (status, every header, body), with a Logger and OnFailure
// hook installed too.
func TestAdversarialDeadKeysIndistinguishableWithoutSecret(t *testing.T) {
	f := newFixture(t)
	var codes []string
	auth := (&middleware.Authenticator{
		Verifier:  f.mgr,
		Logger:    slog.New(slog.DiscardHandler),
		OnFailure: func(_ *http.Request, e *apierrors.Error) { codes = append(codes, string(e.Code)) },
	}).Handler(&okHandler{})
	presented := map[string]string{
		"unknown id":           srWrongSecret(srRelabel(f.keys["secret"], "sk_live_")[:8] + "ZZZZZZZZZZZZ" + f.keys["secret"][20:]),
		"revoked wrong":        srWrongSecret(f.keys["revoked"]),
		"disabled wrong":       srWrongSecret(f.keys["disabled"]),
		"expired wrong":        srWrongSecret(f.keys["expiring"]),
		"revoked as pk":        srRelabel(f.keys["revoked"], "pk_live_"),
		"revoked as test":      srRelabel(f.keys["revoked"], "sk_test_"),
		"secret as pk":         srRelabel(f.keys["secret"], "pk_live_"),
		"secret with service":  srRelabel(f.keys["secret"], "acme_sk_live_"),
		"secret without label": srRelabel(f.keys["secret"], "sk_"),
		"malformed":            "sk_live_" + strings.Repeat("x", 10),
		"bad checksum":         f.keys["revoked"][:len(f.keys["revoked"])-1] + "0",
	}
	var first, firstName string
	for name, p := range presented {
		if p == f.keys["revoked"] {
			continue // "bad checksum" could coincide only by chance
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+p)
		w := httptest.NewRecorder()
		auth.ServeHTTP(w, r)
		assertNoLeak(t, w, p)
		if w.Code != 401 {
			t.Errorf("%s: status %d, want 401", name, w.Code)
		}
		got := srSnapshot(w)
		if first == "" {
			first, firstName = got, name
			continue
		}
		if got != first {
			t.Errorf("response to %q differs from response to %q", name, firstName)
		}
	}
	for _, c := range codes {
		if c != string(apierrors.CodeInvalidAPIKey) {
			t.Errorf("OnFailure saw code %q for a caller without the secret", c)
		}
	}
}

// AllowedNetworks cannot be bypassed with IPv4-mapped IPv6 peers or with
// forwarding headers from untrusted peers, and a trusted proxy's
// X-Forwarded-For is read from the right.
func TestAdversarialAllowedNetworksSpoofing(t *testing.T) {
	f := newFixture(t) // "office-only" allows 198.51.100.0/24
	key := f.keys["office-only"]
	proxies := middleware.TrustedProxies{Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	tests := []struct {
		name    string
		proxies middleware.TrustedProxies
		remote  string
		headers map[string]string
		status  int
	}{
		{"inside", middleware.TrustedProxies{}, "198.51.100.7:1", nil, 200},
		{"mapped inside", middleware.TrustedProxies{}, "[::ffff:198.51.100.7]:1", nil, 200},
		{"mapped outside", middleware.TrustedProxies{}, "[::ffff:203.0.113.1]:1", nil, 403},
		{"xff from untrusted peer", middleware.TrustedProxies{}, "203.0.113.1:1",
			map[string]string{"X-Forwarded-For": "198.51.100.7", "X-Real-Ip": "198.51.100.7"}, 403},
		{"xff spoofed left of proxy entry", proxies, "10.1.1.1:1",
			map[string]string{"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}, 403},
		{"xff mapped spoof", proxies, "10.1.1.1:1",
			map[string]string{"X-Forwarded-For": "198.51.100.7, ::ffff:203.0.113.9"}, 403},
		{"proxy reports inside", proxies, "[::ffff:10.1.1.1]:1",
			map[string]string{"X-Forwarded-For": "203.0.113.9, ::ffff:198.51.100.7"}, 200},
		{"unix socket peer", middleware.TrustedProxies{}, "@", nil, 403},
	}
	for _, tc := range tests {
		h := &okHandler{}
		auth := (&middleware.Authenticator{Verifier: f.mgr, Proxies: tc.proxies}).Handler(h)
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		r.Header.Set("Authorization", "Bearer "+key)
		for k, v := range tc.headers {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		quietWriter(auth).ServeHTTP(w, r)
		if w.Code != tc.status || h.called != (tc.status == 200) {
			t.Errorf("%s: status %d (handler called %v), want %d", tc.name, w.Code, h.called, tc.status)
		}
	}
}
