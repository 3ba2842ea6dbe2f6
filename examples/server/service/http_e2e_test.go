package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/ratelimit"
	"github.com/google/go-cmp/cmp"
)

func containsToken(list, tok string) bool {
	for f := range strings.SplitSeq(list, ",") {
		if strings.EqualFold(strings.TrimSpace(f), tok) {
			return true
		}
	}
	return false
}

// TestCredentialForms: Bearer (any case), token and Basic (curl -u KEY:).
func TestCredentialForms(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	id := mustParse(t, e.admin).ID()
	for _, tc := range []struct {
		name string
		mod  func(*http.Request)
	}{
		{"Bearer", header("Authorization", "Bearer "+e.admin)},
		{"bearer lower-case", header("Authorization", "bearer "+e.admin)},
		{"BEARER upper-case", header("Authorization", "BEARER "+e.admin)},
		{"token", header("Authorization", "token "+e.admin)},
		{"Basic, key as user, empty password", func(r *http.Request) { r.SetBasicAuth(e.admin, "") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := doRequest(t, e.client, e.srv.URL, "GET", "/v1/me", "", nil, e.secrets(), tc.mod)
			wantStatus(t, r, http.StatusOK)
			wantRateLimitHeaders(t, r)
			if got := decodeJSON[keyMeta](t, r).ID; got != id {
				t.Errorf("id %q, want %q", got, id)
			}
		})
	}
}

// TestAuthenticationErrors: the 401/400 rows of the error table, on any
// path, before routing.
func TestAuthenticationErrors(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	k := e.createKey(e.admin, map[string]any{"name": "victim"}).Key

	// No credentials: 401 missing_api_key whatever the path or method.
	for _, rq := range []struct{ method, path string }{
		{"GET", "/v1/me"}, {"POST", "/v1/keys"}, {"GET", "/v1/keys"}, {"DELETE", "/v1/keys/AAAAAAAAAAAA"},
		{"GET", "/v1/monitors"}, {"GET", "/v1/monitors/mon_x"}, {"GET", "/"}, {"GET", "/nowhere"},
		{"DELETE", "/v1/me"}, {"PURGE", "/v1/monitors"}, {"OPTIONS", "/v1/me"},
	} {
		t.Run("no credentials "+rq.method+" "+rq.path, func(t *testing.T) {
			r := doRequest(t, e.client, e.srv.URL, rq.method, rq.path, "", nil, e.secrets())
			wantError(t, r, http.StatusUnauthorized, "missing_api_key")
		})
	}
	// Credentials in places that are not enabled are no credentials.
	for name, mod := range map[string]func(*http.Request){
		"X-API-Key (not enabled)": header("X-API-Key", k),
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, doRequest(t, e.client, e.srv.URL, "GET", "/v1/me", "", nil, e.secrets(), mod), http.StatusUnauthorized, "missing_api_key")
		})
	}
	t.Run("query parameter (not enabled)", func(t *testing.T) {
		wantError(t, doRequest(t, e.client, e.srv.URL, "GET", "/v1/me?api_key="+k, "", nil, e.secrets()), http.StatusUnauthorized, "missing_api_key")
	})

	// Malformed, unknown and wrong keys: identical 401s (apart from the
	// request id), on any path.
	badChecksum := k[:len(k)-1] + string(base62[(strings.IndexByte(base62, k[len(k)-1])+1)%62])
	invalid := map[string]string{
		"malformed":            "not-a-key-at-all-1234567890",
		"short":                "sk_test_abc",
		"bad checksum":         badChecksum,
		"unknown id":           generate(t, apikey.SecretKey, apikey.Test),
		"unknown live id":      generate(t, apikey.SecretKey, apikey.Live),
		"unknown publishable":  generate(t, apikey.PublishableKey, apikey.Test),
		"wrong secret":         wrongSecret(t, k),
		"wrong secret (admin)": wrongSecret(t, e.admin),
		"type swapped":         withChecksum("pk_test_" + k[8:len(k)-6]),
		"environment swapped":  withChecksum("sk_live_" + k[8:len(k)-6]),
		"16 KB":                "sk_test_" + strings.Repeat("A", 16<<10),
	}
	var reference []byte
	var refHeader string
	for name, bad := range invalid {
		for _, path := range []string{"/v1/me", "/nowhere", "/v1/keys"} {
			t.Run("invalid "+name+" "+path, func(t *testing.T) {
				r := doRequest(t, e.client, e.srv.URL, "GET", path, bad, nil, append(e.secrets(), bad))
				wantError(t, r, http.StatusUnauthorized, "invalid_api_key")
				norm := normaliseRequestID(t, r)
				if reference == nil {
					reference, refHeader = norm, r.Header.Get("WWW-Authenticate")
					return
				}
				if d := cmp.Diff(string(reference), string(norm)); d != "" {
					t.Errorf("401 bodies differ between kinds of invalid key (-first +this):\n%s", d)
				}
				if got := r.Header.Get("WWW-Authenticate"); got != refHeader {
					t.Errorf("WWW-Authenticate %q differs from %q", got, refHeader)
				}
			})
		}
	}
	// The victim key still works: wrong-secret attempts do not harm it.
	wantStatus(t, e.do("GET", "/v1/me", k, nil), http.StatusOK)

	// Ambiguous credentials.
	for name, mods := range map[string][]func(*http.Request){
		"two Authorization lines, same key":   {header("Authorization", "Bearer "+k), header("Authorization", "Bearer "+k)},
		"two Authorization lines, two keys":   {header("Authorization", "Bearer "+k), header("Authorization", "Bearer "+e.admin)},
		"Bearer and token lines":              {header("Authorization", "Bearer "+k), header("Authorization", "token "+k)},
		"Bearer and Basic lines":              {header("Authorization", "Bearer "+k), func(r *http.Request) { r.Header.Add("Authorization", basic(k)) }},
		"two lines, one a bogus key":          {header("Authorization", "Bearer "+k), header("Authorization", "Bearer sk_test_nonsense")},
		"two lines on an unknown path":        {header("Authorization", "Bearer "+k), header("Authorization", "Bearer "+k)},
		"two lines, admin key, write request": {header("Authorization", "Bearer "+e.admin), header("Authorization", "Bearer "+e.admin)},
	} {
		t.Run("ambiguous "+name, func(t *testing.T) {
			path := "/v1/me"
			if strings.Contains(name, "unknown path") {
				path = "/nowhere"
			}
			r := doRequest(t, e.client, e.srv.URL, "GET", path, "", nil, e.secrets(), mods...)
			wantError(t, r, http.StatusBadRequest, "ambiguous_credentials")
		})
	}
}

func basic(key string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(key, "")
	return r.Header.Get("Authorization")
}

// normaliseRequestID returns r's body with its request id blanked.
func normaliseRequestID(t *testing.T, r response) []byte {
	t.Helper()
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		return r.Body
	}
	return bytes.ReplaceAll(r.Body, []byte(id), []byte("REQUEST-ID"))
}

// TestRateLimit: a "5/minute" key passes 5 requests, the 6th is 429 with
// Retry-After; a refused request consumes nothing; keys have their own
// buckets.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, withRate("5/minute"))
	other := e.mint(apikey.CreateParams{Name: "other", Type: apikey.SecretKey, Environment: apikey.Test, Permission: apikey.ReadWrite})

	for i := 1; i <= 5; i++ {
		r := e.do("GET", "/v1/me", e.admin, nil)
		wantStatus(t, r, http.StatusOK)
		wantRateLimitHeaders(t, r)
		if i == 1 {
			pol := r.Header.Get("RateLimit-Policy")
			if !strings.Contains(pol, "q=5") || !strings.Contains(pol, "w=60") {
				t.Errorf("RateLimit-Policy %q, want q=5 and w=60", pol)
			}
			if rl := r.Header.Get("RateLimit"); !strings.Contains(rl, "r=4") {
				t.Errorf("RateLimit after the first of 5 = %q, want r=4", rl)
			}
		}
	}
	var retry int
	for range 3 { // refused requests consume nothing
		r := e.do("GET", "/v1/me", e.admin, nil)
		wantError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded")
		wantRateLimitHeaders(t, r)
		n, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || n < 1 || n > 60 {
			t.Errorf("Retry-After %q, want 1..60 seconds", r.Header.Get("Retry-After"))
		}
		retry = n
	}
	// Another key is not affected.
	wantStatus(t, e.do("GET", "/v1/me", other, nil), http.StatusOK)
	// Errors of other kinds by a limited key are also refused with 429.
	wantError(t, e.do("GET", "/nowhere", e.admin, nil), http.StatusTooManyRequests, "rate_limit_exceeded")

	// After Retry-After, exactly one request passes (one token refilled,
	// nothing taken by the refusals).
	e.clock.Advance(time.Duration(retry) * time.Second)
	wantStatus(t, e.do("GET", "/v1/me", e.admin, nil), http.StatusOK)
	wantError(t, e.do("GET", "/v1/me", e.admin, nil), http.StatusTooManyRequests, "rate_limit_exceeded")
	e.clock.Advance(time.Minute)
	for range 5 {
		wantStatus(t, e.do("GET", "/v1/me", e.admin, nil), http.StatusOK)
	}
}

// countingStore counts key look-ups and can fail on demand.
type countingStore struct {
	apikey.MemoryStore
	lookups  atomic.Int64
	failWith atomic.Pointer[error] // returned by LookupKey and ListKeys when set
}

func (s *countingStore) LookupKey(ctx context.Context, id string) (*apikey.Key, error) {
	s.lookups.Add(1)
	if p := s.failWith.Load(); p != nil {
		return nil, *p
	}
	return s.MemoryStore.LookupKey(ctx, id)
}

func (s *countingStore) ListKeys(ctx context.Context, f apikey.ListFilter) ([]*apikey.Key, error) {
	if p := s.failWith.Load(); p != nil {
		return nil, *p
	}
	return s.MemoryStore.ListKeys(ctx, f)
}

func (s *countingStore) fail(err error) {
	if err == nil {
		s.failWith.Store(nil)
		return
	}
	s.failWith.Store(&err)
}

// TestAuthFailureThrottle: with 3/minute, after 3 invalid keys from one
// address, every request from it, the valid admin key included, gets 429
// before any key look-up, until the bucket refills.
func TestAuthFailureThrottle(t *testing.T) {
	t.Parallel()
	store := &countingStore{}
	e := newTestEnv(t, withAuthFailureRate("3/minute"), withConfig(func(c *Config) { c.Keys = store }))
	fresh := e.mint(apikey.CreateParams{Name: "never verified", Type: apikey.SecretKey, Environment: apikey.Test, Permission: apikey.ReadWrite})
	revoked := e.createKey(e.admin, map[string]any{"name": "revoked"})
	wantStatus(t, e.do("DELETE", "/v1/keys/"+revoked.ID, e.admin, nil), http.StatusOK)

	// Answers other than invalid_api_key do not count.
	for range 5 {
		wantError(t, e.do("GET", "/v1/me", "", nil), http.StatusUnauthorized, "missing_api_key")
		wantError(t, e.do("GET", "/v1/me", revoked.Key, nil), http.StatusUnauthorized, "revoked_api_key")
		wantError(t, e.do("GET", "/v1/me", "", nil, header("Authorization", "Bearer "+e.admin), header("Authorization", "Bearer "+e.admin)),
			http.StatusBadRequest, "ambiguous_credentials")
	}
	wantStatus(t, e.do("GET", "/v1/me", e.admin, nil), http.StatusOK)

	for i := range 3 {
		bad := generate(t, apikey.SecretKey, apikey.Test)
		wantError(t, e.do("GET", "/v1/me", bad, nil), http.StatusUnauthorized, "invalid_api_key")
		_ = i
	}
	before := store.lookups.Load()
	for _, tc := range []struct {
		name string
		key  string
	}{
		{"valid admin key", e.admin},
		{"valid key never looked up", fresh},
		{"unknown key", generate(t, apikey.SecretKey, apikey.Test)},
		{"no key", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer e.use(t)()
			r := e.do("GET", "/v1/me", tc.key, nil)
			wantError(t, r, http.StatusTooManyRequests, "rate_limit_exceeded")
			if n, err := strconv.Atoi(r.Header.Get("Retry-After")); r.Status == http.StatusTooManyRequests && (err != nil || n < 1) {
				t.Errorf("Retry-After %q, want ≥ 1", r.Header.Get("Retry-After"))
			}
		})
	}
	if after := store.lookups.Load(); after != before {
		t.Errorf("a throttled address caused %d key look-ups, want none", after-before)
	}
	// CORS preflights come before the throttle.
	r := e.do("OPTIONS", "/v1/me", "", nil, header("Origin", "https://app.example.com"), header("Access-Control-Request-Method", "GET"))
	if r.Status != http.StatusNoContent {
		t.Errorf("preflight from a throttled address: %d, want 204", r.Status)
	}
	// Until the bucket refills.
	e.clock.Advance(time.Minute)
	wantStatus(t, e.do("GET", "/v1/me", e.admin, nil), http.StatusOK)
	wantStatus(t, e.do("GET", "/v1/me", fresh, nil), http.StatusOK)
}

// TestAuthFailureThrottlePerAddress: the throttle is per client address,
// resolved through the trusted proxies only.
func TestAuthFailureThrottlePerAddress(t *testing.T) {
	t.Parallel()
	xff := func(ip string) func(*http.Request) { return header("X-Forwarded-For", ip) }

	t.Run("trusted proxy", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t, withAuthFailureRate("2/minute"), withConfig(func(c *Config) {
			c.TrustedProxies.Networks = mustPrefixes(t, "127.0.0.0/8", "::1/128")
		}))
		// limit+1 failures, so that this test does not depend on whether the
		// limit-th or the next failure engages the throttle (see
		// TestAuthFailureThrottle for that).
		for range 3 {
			e.do("GET", "/v1/me", generate(t, apikey.SecretKey, apikey.Test), nil, xff("203.0.113.1"))
		}
		wantError(t, e.do("GET", "/v1/me", e.admin, nil, xff("203.0.113.1")), http.StatusTooManyRequests, "rate_limit_exceeded")
		wantStatus(t, e.do("GET", "/v1/me", e.admin, nil, xff("203.0.113.2")), http.StatusOK)
		// And a key restricted to a network works through the proxy.
		office := e.mint(apikey.CreateParams{Name: "office", Type: apikey.SecretKey, Environment: apikey.Test, AllowedNetworks: mustPrefixes(t, "10.0.0.0/8")})
		wantStatus(t, e.do("GET", "/v1/me", office, nil, xff("10.1.2.3")), http.StatusOK)
		wantError(t, e.do("GET", "/v1/me", office, nil, xff("203.0.113.2")), http.StatusForbidden, "ip_not_allowed")
	})
	t.Run("untrusted X-Forwarded-For is ignored", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t, withAuthFailureRate("2/minute"))
		for i := range 3 {
			e.do("GET", "/v1/me", generate(t, apikey.SecretKey, apikey.Test), nil, xff("203.0.113."+strconv.Itoa(i+1)))
		}
		wantError(t, e.do("GET", "/v1/me", e.admin, nil, xff("198.51.100.7")), http.StatusTooManyRequests, "rate_limit_exceeded")
	})
}

// TestRequireTLS: plain HTTP gets 403 https_required before anything else.
func TestRequireTLS(t *testing.T) {
	t.Parallel()
	t.Run("plain HTTP", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t, withConfig(func(c *Config) { c.RequireTLS = true }))
		for _, tc := range []struct {
			name, method, path, key string
			mods                    []func(*http.Request)
		}{
			{"valid key", "GET", "/v1/me", e.admin, nil},
			{"no key", "GET", "/v1/me", "", nil},
			{"invalid key", "GET", "/v1/me", "sk_test_invalid", nil},
			{"unknown path", "GET", "/nowhere", e.admin, nil},
			{"write", "POST", "/v1/keys", e.admin, nil},
			{"preflight", "OPTIONS", "/v1/me", "", []func(*http.Request){header("Origin", "https://a.example"), header("Access-Control-Request-Method", "GET")}},
			{"forged X-Forwarded-Proto", "GET", "/v1/me", e.admin, []func(*http.Request){header("X-Forwarded-Proto", "https")}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				defer e.use(t)()
				wantError(t, e.do(tc.method, tc.path, tc.key, nil, tc.mods...), http.StatusForbidden, "https_required")
			})
		}
	})
	t.Run("HTTPS", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t, withTLS(), withConfig(func(c *Config) { c.RequireTLS = true }))
		wantStatus(t, e.do("GET", "/v1/me", e.admin, nil), http.StatusOK)
		wantError(t, e.do("GET", "/v1/me", "", nil), http.StatusUnauthorized, "missing_api_key")
	})
	t.Run("trusted proxy terminating TLS", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t, withConfig(func(c *Config) {
			c.RequireTLS = true
			c.TrustedProxies.Networks = mustPrefixes(t, "127.0.0.0/8", "::1/128")
		}))
		wantStatus(t, e.do("GET", "/v1/me", e.admin, nil, header("X-Forwarded-Proto", "https")), http.StatusOK)
		wantError(t, e.do("GET", "/v1/me", e.admin, nil), http.StatusForbidden, "https_required")
	})
}

// TestSimpleErrorFormat: -error-format simple gives {"error":"message"}.
func TestSimpleErrorFormat(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, withRate("3/minute"), withConfig(func(c *Config) { c.ErrorEncoding = apierrors.EncodingSimple }))
	for _, tc := range []struct {
		name         string
		method, path string
		key          string
		body         any
		status       int
	}{
		{"401 missing", "GET", "/v1/me", "", nil, 401},
		{"401 invalid", "GET", "/v1/me", "sk_test_invalid", nil, 401},
		{"404", "GET", "/nowhere", e.admin, nil, 404},
		{"405", "DELETE", "/v1/me", e.admin, nil, 405},
		{"400", "POST", "/v1/keys", e.admin, `{"nope":1}`, 400},
		{"429", "GET", "/v1/me", e.admin, nil, 429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer e.use(t)()
			r := e.do(tc.method, tc.path, tc.key, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			wantStatusHeaders(t, r)
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				t.Errorf("Content-Type %q, want application/json", r.Header.Get("Content-Type"))
			}
			var got map[string]any
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatalf("body: %v: %s", err, r.Body)
			}
			msg, ok := got["error"].(string)
			if len(got) != 1 || !ok || msg == "" {
				t.Errorf(`body = %s, want {"error":"message"}`, r.Body)
			}
		})
	}
}

// TestProblemJSON: Accept: application/problem+json selects RFC 9457.
func TestProblemJSON(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	r := e.do("GET", "/v1/me", "", nil, header("Accept", "application/problem+json"))
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("status %d", r.Status)
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", r.Header.Get("Content-Type"))
	}
	if !containsToken(strings.Join(r.Header.Values("Vary"), ","), "Accept") {
		t.Errorf("Vary %q lacks Accept", r.Header.Values("Vary"))
	}
	var p map[string]any
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	if p["status"] != float64(401) || p["code"] != "missing_api_key" || p["title"] == nil {
		t.Errorf("problem body %s: want status 401, code missing_api_key and a title", r.Body)
	}
	// The default JSON body also says Vary: Accept, since Accept chooses it.
	r = e.do("GET", "/v1/me", "", nil)
	if !containsToken(strings.Join(r.Header.Values("Vary"), ","), "Accept") {
		t.Errorf("default error body: Vary %q lacks Accept", r.Header.Values("Vary"))
	}
}

// TestCORS: preflights and actual cross-origin requests.
func TestCORS(t *testing.T) {
	t.Parallel()
	origin := "https://app.example.com"
	preflight := func(method string) []func(*http.Request) {
		return []func(*http.Request){header("Origin", origin), header("Access-Control-Request-Method", method),
			header("Access-Control-Request-Headers", "authorization, content-type")}
	}
	for _, cfgOrigins := range [][]string{{"*"}, {origin, "https://other.example"}} {
		t.Run(strings.Join(cfgOrigins, ","), func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, withConfig(func(c *Config) { c.CORSOrigins = cfgOrigins }))
			for _, tc := range []struct {
				path, method string
				methods      []string
			}{
				{"/v1/me", "GET", []string{"GET"}},
				{"/v1/keys", "POST", []string{"GET", "POST"}},
				{"/v1/keys/AAAAAAAAAAAA", "DELETE", []string{"GET", "DELETE"}},
				{"/v1/keys/AAAAAAAAAAAA/roll", "POST", []string{"POST"}},
				{"/v1/monitors", "POST", []string{"GET", "POST"}},
				{"/v1/monitors/mon_x", "GET", []string{"GET", "DELETE"}},
			} {
				t.Run("preflight "+tc.path, func(t *testing.T) {
					defer e.use(t)()
					r := e.do("OPTIONS", tc.path, "", nil, preflight(tc.method)...)
					if r.Status != http.StatusNoContent {
						t.Fatalf("preflight %s: %d, want 204: %s", tc.path, r.Status, r.Body)
					}
					h := r.Header
					if got := h.Get("Access-Control-Allow-Origin"); got != "*" && got != origin {
						t.Errorf("Access-Control-Allow-Origin %q", got)
					}
					for _, m := range tc.methods {
						if !containsToken(h.Get("Access-Control-Allow-Methods"), m) {
							t.Errorf("Access-Control-Allow-Methods %q lacks %s", h.Get("Access-Control-Allow-Methods"), m)
						}
					}
					for _, hd := range []string{"Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"} {
						if !containsToken(h.Get("Access-Control-Allow-Headers"), hd) {
							t.Errorf("Access-Control-Allow-Headers %q lacks %s", h.Get("Access-Control-Allow-Headers"), hd)
						}
					}
					// The service reads no X-API-Key, so browsers are not told they may send one.
					if containsToken(h.Get("Access-Control-Allow-Headers"), "X-API-Key") {
						t.Errorf("Access-Control-Allow-Headers %q allows X-API-Key, which the service does not read", h.Get("Access-Control-Allow-Headers"))
					}
					if n, err := strconv.Atoi(h.Get("Access-Control-Max-Age")); err != nil || n <= 0 {
						t.Errorf("Access-Control-Max-Age %q", h.Get("Access-Control-Max-Age"))
					}
					if !containsToken(strings.Join(h.Values("Vary"), ","), "Origin") {
						t.Errorf("Vary %q lacks Origin", h.Values("Vary"))
					}
				})
			}
			t.Run("preflight of an unknown path", func(t *testing.T) {
				defer e.use(t)()
				r := e.do("OPTIONS", "/v1/nothing", "", nil, preflight("GET")...)
				wantError(t, r, http.StatusNotFound, "not_found")
				// Without it the browser would not let the page read the 404.
				if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" && got != origin {
					t.Errorf("404 to a preflight: Access-Control-Allow-Origin %q", got)
				}
			})
			t.Run("actual requests", func(t *testing.T) {
				defer e.use(t)()
				for _, tc := range []struct {
					name, key string
					status    int
				}{{"success", e.admin, 200}, {"401", "", 401}, {"404", e.admin, 404}} {
					path := "/v1/me"
					if tc.status == 404 {
						path = "/nowhere"
					}
					r := e.do("GET", path, tc.key, nil, header("Origin", origin))
					if r.Status != tc.status {
						t.Errorf("%s: status %d", tc.name, r.Status)
					}
					if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" && got != origin {
						t.Errorf("%s: Access-Control-Allow-Origin %q", tc.name, got)
					}
					exp := r.Header.Get("Access-Control-Expose-Headers")
					for _, hd := range []string{"RateLimit", "RateLimit-Policy", "Retry-After", "WWW-Authenticate", "X-Request-Id"} {
						if !containsToken(exp, hd) {
							t.Errorf("%s: Access-Control-Expose-Headers %q lacks %s", tc.name, exp, hd)
						}
					}
				}
			})
			if len(cfgOrigins) > 1 {
				t.Run("origin not allowed", func(t *testing.T) {
					defer e.use(t)()
					r := e.do("OPTIONS", "/v1/me", "", nil, header("Origin", "https://evil.example"), header("Access-Control-Request-Method", "GET"))
					if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
						t.Errorf("preflight from a foreign origin got Access-Control-Allow-Origin %q", got)
					}
					r = e.do("GET", "/v1/me", e.admin, nil, header("Origin", "https://evil.example"))
					if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
						t.Errorf("request from a foreign origin got Access-Control-Allow-Origin %q", got)
					}
				})
			}
		})
	}
}

// TestRequestID: a valid incoming X-Request-Id is kept, anything else is
// replaced by a generated req_… id; the error body carries the same id.
func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	generated := regexp.MustCompile(`^req_[A-Za-z0-9._:-]+$`)
	for _, tc := range []struct {
		name, in string
		keep     bool
	}{
		{"none", "", false},
		{"simple", "abc-123", true},
		{"all allowed characters", "aZ0._:-", true},
		{"128 characters", strings.Repeat("r", 128), true},
		{"129 characters", strings.Repeat("r", 129), false},
		{"space", "a b", false},
		{"slash", "a/b", false},
		{"non-ASCII", "réq", false},
		{"header injection attempt", "abc%0d%0aSet-Cookie:x", false},
	} {
		for _, key := range []string{"", e.admin} {
			t.Run(tc.name+"/authenticated="+strconv.FormatBool(key != ""), func(t *testing.T) {
				defer e.use(t)()
				var mods []func(*http.Request)
				if tc.in != "" {
					mods = append(mods, header("X-Request-Id", tc.in))
				}
				path := "/nowhere" // an error either way: 401 or 404
				r := e.do("GET", path, key, nil, mods...)
				got := r.Header.Get("X-Request-Id")
				if tc.keep && got != tc.in {
					t.Errorf("X-Request-Id %q, want the incoming %q kept", got, tc.in)
				}
				if !tc.keep && (got == tc.in || !generated.MatchString(got)) {
					t.Errorf("X-Request-Id %q, want a generated req_… id", got)
				}
				if len(r.Header.Values("X-Request-Id")) != 1 {
					t.Errorf("X-Request-Id sent %d times", len(r.Header.Values("X-Request-Id")))
				}
				if e, _ := decodeErr(t, r); e.RequestID != got {
					t.Errorf("body request_id %q, header %q", e.RequestID, got)
				}
			})
		}
	}
	// Successful responses too.
	r := e.do("GET", "/v1/me", e.admin, nil, header("X-Request-Id", "trace-1"))
	if r.Header.Get("X-Request-Id") != "trace-1" {
		t.Errorf("success: X-Request-Id %q", r.Header.Get("X-Request-Id"))
	}
}

// TestHugeHeader: a 16 KB credential reaches the middleware and gets a JSON
// 401, not net/http's plain-text 431 (needs main.go's MaxHeaderBytes, which
// newTestEnv copies; TestBinary checks the real server).
func TestHugeHeader(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	huge := "sk_test_" + strings.Repeat("x", 16<<10)
	for _, mod := range []func(*http.Request){
		header("Authorization", "Bearer "+huge),
		header("Authorization", "Basic "+strings.Repeat("QUFB", 4<<10)),
	} {
		r := e.do("GET", "/v1/me", "", nil, mod)
		wantError(t, r, http.StatusUnauthorized, "invalid_api_key")
	}
	// Other large headers with a valid key are fine.
	wantStatus(t, e.do("GET", "/v1/me", e.admin, nil, header("X-Padding", strings.Repeat("p", 16<<10))), http.StatusOK)
}

// TestStoreFailures: an unreachable store is 503 with Retry-After, never a
// 401; an unexpected store error is a 500 that reveals nothing.
func TestStoreFailures(t *testing.T) {
	t.Parallel()
	store := &countingStore{}
	e := newTestEnv(t, withConfig(func(c *Config) { c.Keys = store }))

	store.fail(wrapUnavailable("dial tcp 10.9.8.7:5432: connection refused (password=hunter2)"))
	r := e.do("GET", "/v1/me", e.admin, nil)
	wantError(t, r, http.StatusServiceUnavailable, "service_unavailable")
	if strings.Contains(string(r.Body), "hunter2") || strings.Contains(string(r.Body), "10.9.8.7") {
		t.Errorf("503 leaks the store error: %s", r.Body)
	}

	store.fail(nil)
	wantStatus(t, e.do("GET", "/v1/me", e.admin, nil), http.StatusOK) // now cached
	store.fail(wrapUnavailable("timeout"))
	wantError(t, e.do("GET", "/v1/keys", e.admin, nil), http.StatusServiceUnavailable, "service_unavailable")

	store.fail(errors.New("pq: syntax error near password=hunter2 at 10.9.8.7"))
	r = e.do("GET", "/v1/keys", e.admin, nil)
	wantError(t, r, http.StatusInternalServerError, "internal_error")
	if strings.Contains(string(r.Body), "hunter2") || strings.Contains(string(r.Body), "pq:") {
		t.Errorf("500 leaks internals: %s", r.Body)
	}
	store.fail(nil)
	wantStatus(t, e.do("GET", "/v1/keys", e.admin, nil), http.StatusOK)
}

type unavailableErr struct{ msg string }

func (u unavailableErr) Error() string { return u.msg }
func (u unavailableErr) Unwrap() error { return apikey.ErrUnavailable }

func wrapUnavailable(msg string) error { return unavailableErr{msg} }

func ratelimit100() ratelimit.Policy { return ratelimit.MustParsePolicy("100/minute") }

// TestLogs: one structured line per request with the key id, and never a
// key (checkLogs, run for every test environment, enforces the latter).
func TestLogs(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	k := e.createKey(e.admin, map[string]any{"name": "logged"})
	wantStatus(t, e.do("GET", "/v1/me", k.Key, nil, header("X-Request-Id", "log-check-1")), http.StatusOK)
	wantError(t, e.do("GET", "/v1/me", wrongSecret(t, k.Key), nil, header("X-Request-Id", "log-check-2")), http.StatusUnauthorized, "invalid_api_key")
	wantStatus(t, e.do("POST", "/v1/keys/"+k.ID+"/roll", e.admin, map[string]any{"expires_in": 60}), http.StatusCreated)

	var found bool
	for line := range strings.SplitSeq(e.logs.String(), "\n") {
		if !strings.Contains(line, "log-check-1") || !strings.Contains(line, `"status":200`) {
			continue
		}
		found = true
		if !strings.Contains(line, k.ID) {
			t.Errorf("request log line lacks the key id %s: %s", k.ID, line)
		}
	}
	if !found {
		t.Errorf("no request log line for request log-check-1 in:\n%s", e.logs.String())
	}
}

// TestLogsNeverContainKeyInPath: a client that puts a key in the URL path
// (GET /v1/keys/sk_live_…, a common mistake) must not get it logged.
func TestLogsNeverContainKeyInPath(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	k := e.createKey(e.admin, map[string]any{"name": "pasted"})
	for _, p := range []string{"/v1/keys/" + k.Key, "/v1/monitors/" + k.Key, "/" + k.Key} {
		r := e.do("GET", p, e.admin, nil)
		wantError(t, r, http.StatusNotFound, "not_found")
	}
	logs := e.logs.String()
	for _, s := range leakForms(k.Key) {
		if strings.Contains(logs, s) {
			t.Errorf("request log holds a plaintext key that the client sent in the URL path (%.12s…)", s)
		}
	}
}

// TestInvalidAdminKeyConfig: GATEKEY_ADMIN_KEY must be a valid secret key,
// and the error never echoes it.
func TestInvalidAdminKeyConfig(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]string{
		"publishable key": generate(t, apikey.PublishableKey, apikey.Live),
		"bad checksum":    "sk_live_" + strings.Repeat("a", 50),
		"garbage":         "hunter2-this-is-not-a-key",
	} {
		t.Run(name, func(t *testing.T) {
			s, err := New(Config{Rate: ratelimit100(), AuthFailureRate: ratelimit100()[0], AdminKey: v})
			if err == nil {
				s.Close()
				t.Fatalf("newServer accepted GATEKEY_ADMIN_KEY %q", name)
			}
			if strings.Contains(err.Error(), v) || strings.Contains(err.Error(), v[len(v)-20:]) {
				t.Errorf("error echoes the configured key: %v", err)
			}
		})
	}
}
