package middleware_test

// Adversarial tests from an independent security review of the Gate. The
// first three stood for weaknesses the review found (public routes decided
// by another router than the one that serves them; a query-string key
// echoed in a redirect; route enumeration through preflights from any
// origin), each failing until it was fixed; the others record what the
// review checked and found safe. No test prints a plaintext key.

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

// adversarialGate returns a Gate over routes with the fixture's keys, quiet.
func adversarialGate(f *fixture, public ...string) *middleware.Gate {
	return &middleware.Gate{
		Auth:   middleware.Authenticator{Verifier: f.mgr},
		Public: public,
		Logger: discardLogger(),
	}
}

// adversarialServe sends one request to h and returns the answer.
func adversarialServe(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// ---------------------------------------------------------------------------
// Finding 1: Gate.Public is decided by a private ServeMux that holds only the
// public patterns, not by the route the Router actually serves. Any request
// that this private mux matches (or merely redirects) is treated as public,
// and is then served by whatever route the real Router picks for it,
// without a key.
// ---------------------------------------------------------------------------

// rawRouter routes like chi does: on r.URL.RawPath when set, else
// r.URL.Path, without cleaning "." and ".." segments. Patterns are exact
// paths, paths ending in "/*" (a catch-all), or "/{name}" (one segment).
// examples/chi's adapter over the real chi v5.5.0 behaves the same way
// (examples/chi runs middlewaretest.TestRouter, which has these paths).
type rawRouter struct{ routes []rawRoute }

type rawRoute struct {
	method, pattern string
	h               http.Handler
}

func (rr *rawRouter) Handler(r *http.Request) (http.Handler, string) {
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	for _, rt := range rr.routes {
		if rt.method != r.Method {
			continue
		}
		switch {
		case strings.HasSuffix(rt.pattern, "/*"):
			if strings.HasPrefix(path, strings.TrimSuffix(rt.pattern, "*")) {
				return rt.h, rt.pattern
			}
		case strings.HasPrefix(rt.pattern, "/{"):
			if len(path) > 1 && !strings.Contains(path[1:], "/") {
				return rt.h, rt.pattern
			}
		case rt.pattern == path:
			return rt.h, rt.pattern
		}
	}
	return nil, ""
}

func (rr *rawRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := rr.Handler(r)
	if pattern == "" {
		http.NotFound(w, r)
		return
	}
	h.ServeHTTP(w, r)
}

// TestAdversarialPublicUncleanPathNonCleaningRouter: with a router that
// does not clean paths (chi, gorilla with SkipClean, httprouter-style
// adapters), "GET /healthz" in Public makes every path that *cleans* to
// /healthz public, and a path with a percent-encoded letter public too;
// the router then serves a protected wildcard or parameter route keyless.
func TestAdversarialPublicUncleanPathNonCleaningRouter(t *testing.T) {
	f := newFixture(t)
	files, slug := &okHandler{}, &okHandler{}
	rr := &rawRouter{routes: []rawRoute{
		{"GET", "/healthz", nop},
		{"GET", "/v1/files/*", files}, // protected: not in Public
		{"GET", "/{slug}", slug},      // protected: not in Public
	}}
	h := adversarialGate(f, "GET /healthz").Handler(rr)

	for _, tc := range []struct {
		path    string
		handler *okHandler
	}{
		{"/v1/files/../../healthz", files}, // the public mux cleans it to /healthz
		{"/heal%74hz", slug},               // the public mux unescapes it to /healthz
	} {
		tc.handler.called = false
		w := adversarialServe(h, httptest.NewRequest("GET", tc.path, nil))
		if tc.handler.called || w.Code != http.StatusUnauthorized {
			t.Errorf("keyless GET %s: status %d, protected handler ran: %v (want 401, not run)", tc.path, w.Code, tc.handler.called)
		}
	}
	// The protected route itself, asked for plainly, is protected.
	files.called = false
	if w := adversarialServe(h, httptest.NewRequest("GET", "/v1/files/report.pdf", nil)); w.Code != 401 || files.called {
		t.Errorf("control: keyless GET /v1/files/report.pdf: %d, ran %v", w.Code, files.called)
	}
}

// TestAdversarialPublicServeMuxPrecedence: even with an http.ServeMux as
// the Router, the private public-mux does not see the service's other
// patterns, so ServeMux precedence differs between "is it public?" and "what
// is served?". A protected route that is more specific than a public one
// (a subtree inside a public subtree, a host-specific route) is served
// without a key; so is an exact route that a public subtree pattern merely
// redirects to.
func TestAdversarialPublicServeMuxPrecedence(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name      string
		public    string
		protected string // pattern of the protected route
		target    string // the request
	}{
		{"protected subtree inside a public subtree", "GET /files/", "GET /files/private/", "http://api.example.com/files/private/payroll.csv"},
		{"host-specific protected route", "GET /healthz", "GET admin.example.com/healthz", "http://admin.example.com/healthz"},
		{"trailing-slash redirect counts as a match", "GET /docs/", "GET /docs", "http://api.example.com/docs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			protected := &okHandler{}
			mux := http.NewServeMux()
			mux.Handle(tc.public, nop)
			mux.Handle(tc.protected, protected)
			h := adversarialGate(f, tc.public).Handler(mux)
			w := adversarialServe(h, httptest.NewRequest("GET", tc.target, nil))
			if protected.called || w.Code != http.StatusUnauthorized {
				t.Errorf("Public %q, protected %q: keyless GET %s got %d, protected handler ran: %v (want 401, not run)",
					tc.public, tc.protected, tc.target, w.Code, protected.called)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Finding 2: with SourceQuery enabled, the Gate serves the Router's
// redirect for an unclean path (or a missing trailing slash) after
// authentication, and net/http's redirect copies the query, so the full key
// comes back in the Location header and the HTML body of a cacheable 301.
// ---------------------------------------------------------------------------

func TestAdversarialQueryKeyEchoedInRedirect(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/monitors", nop)
	mux.Handle("GET /v1/reports/", nop)
	h := (&middleware.Gate{
		Auth:   middleware.Authenticator{Verifier: f.mgr, Sources: []middleware.Source{middleware.SourceQuery}},
		Logger: discardLogger(),
	}).Handler(mux)
	for _, path := range []string{"/v1//monitors", "/v1/reports"} {
		w := adversarialServe(h, httptest.NewRequest("GET", path+"?api_key="+f.keys["secret"], nil))
		if w.Code >= 300 && w.Code < 400 {
			t.Logf("GET %s?api_key=…: %d redirect", path, w.Code)
		}
		assertNoLeak(t, w, f.keys["secret"])
	}
}

// ---------------------------------------------------------------------------
// Checked and found safe.
// ---------------------------------------------------------------------------

// TestAdversarialSafeUncleanPathOnServeMux: with a ServeMux as the Router, an
// unclean path that cleans to a public route only redirects; it never
// serves the protected route keyless.
func TestAdversarialSafeUncleanPathOnServeMux(t *testing.T) {
	f := newFixture(t)
	files := &okHandler{}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", nop)
	mux.Handle("GET /v1/files/", files)
	h := adversarialGate(f, "GET /healthz").Handler(mux)
	for _, p := range []string{"/v1/files/../../healthz", "/v1/files/..%2F..%2Fhealthz", "/heal%74hz", "//healthz"} {
		files.called = false
		w := adversarialServe(h, httptest.NewRequest("GET", p, nil))
		if files.called {
			t.Errorf("keyless GET %s ran the protected handler (%d)", p, w.Code)
		}
	}
}

// TestAdversarialSafeKeylessPreflights: behind the Gate, no keyless OPTIONS
// reaches a handler serving every method, whatever the origin, an empty
// Access-Control-Request-Method, or an unclean path; without CORS a
// preflight is authenticated.
func TestAdversarialSafeKeylessPreflights(t *testing.T) {
	f := newFixture(t)
	purge := &okHandler{}
	mux := http.NewServeMux()
	mux.Handle("/v1/admin/purge", purge)
	withCORS := adversarialGate(f)
	withCORS.CORS = &middleware.CORS{AllowedOrigins: []string{"https://app.example.com"}}
	for name, h := range map[string]http.Handler{"CORS": withCORS.Handler(mux), "no CORS": adversarialGate(f).Handler(mux)} {
		for _, hdr := range [][2]string{
			{"https://app.example.com", "DELETE"},
			{"https://evil.example", "DELETE"},
			{"https://app.example.com", ""},
			{"null", "PURGE"},
		} {
			for _, p := range []string{"/v1/admin/purge", "/v1/admin/./purge"} {
				purge.called = false
				r := httptest.NewRequest("OPTIONS", p, nil)
				r.Header.Set("Origin", hdr[0])
				r.Header["Access-Control-Request-Method"] = []string{hdr[1]}
				w := adversarialServe(h, r)
				if purge.called {
					t.Errorf("%s: keyless preflight %v to %s reached the handler (%d)", name, hdr, p, w.Code)
				}
				if w.Header().Get("Access-Control-Allow-Credentials") != "" {
					t.Errorf("%s: Access-Control-Allow-Credentials sent", name)
				}
				if hdr[0] != "https://app.example.com" && w.Header().Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("%s: origin %q allowed", name, hdr[0])
				}
			}
		}
	}
}

// TestAdversarialSafeReadOnlyKeyWriteMethods: the Gate's default rule stops a
// read-only key on every non-read method of a route that serves every
// method, including unknown ones, and ignores method-override headers.
func TestAdversarialSafeReadOnlyKeyWriteMethods(t *testing.T) {
	f := newFixture(t)
	purge := &okHandler{}
	mux := http.NewServeMux()
	mux.Handle("/v1/admin/purge", purge)
	h := adversarialGate(f).Handler(mux)
	for _, m := range []string{"POST", "DELETE", "PURGE", "CONNECT", "TRACE", "get"} {
		purge.called = false
		r := httptest.NewRequest(m, "/v1/admin/purge", nil)
		r.Header.Set("Authorization", "Bearer "+f.keys["secret-ro"])
		w := adversarialServe(h, r)
		if purge.called || w.Code != http.StatusForbidden {
			t.Errorf("read-only key, %s: %d, handler ran %v", m, w.Code, purge.called)
		}
	}
	purge.called = false
	r := httptest.NewRequest("GET", "/v1/admin/purge", nil)
	r.Header.Set("Authorization", "Bearer "+f.keys["secret-ro"])
	r.Header.Set("X-HTTP-Method-Override", "DELETE")
	if w := adversarialServe(h, r); !purge.called || w.Code != 200 {
		t.Errorf("GET with an override header: %d", w.Code)
	}
}

// TestAdversarialSafeRequestIDs: hostile X-Request-Id values never reach the
// response header or the error body; the body's id is the header's.
func TestAdversarialSafeRequestIDs(t *testing.T) {
	f := newFixture(t)
	h := adversarialGate(f).Handler(http.NewServeMux())
	for _, v := range [][]string{
		{"a\"b"}, {"a b"}, {"x\r\nSet-Cookie: a=b"}, {strings.Repeat("a", 129)}, {"ok1", "ok2"}, {"é"}, {""},
	} {
		r := httptest.NewRequest("GET", "/v1/me", nil)
		r.Header["X-Request-Id"] = v
		w := adversarialServe(h, r)
		id := w.Header().Get("X-Request-Id")
		if !strings.HasPrefix(id, "req_") {
			t.Errorf("X-Request-Id %q kept as %q", v, id)
		}
		if e := decodeError(t, w); e.RequestID != id {
			t.Errorf("body id %q, header %q", e.RequestID, id)
		}
	}
}

// TestAdversarialSafeForwardedForPorts: the port-tolerant X-Forwarded-For parser
// does not let a client choose its address: hops it writes itself, with or
// without ports, bracketed or IPv4-mapped, are never reached while the
// trusted proxy appends the real peer.
func TestAdversarialSafeForwardedForPorts(t *testing.T) {
	f := newFixture(t) // "office-only" allows 198.51.100.0/24
	mux := http.NewServeMux()
	mux.Handle("GET /v1/me", nop)
	g := adversarialGate(f)
	g.Proxies = middleware.TrustedProxies{Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	h := g.Handler(mux)
	for xff, want := range map[string]int{
		"198.51.100.7:4711":                            200, // the proxy's own hop, with a port
		"[::ffff:198.51.100.7]:4711":                   200,
		"198.51.100.7:1, 203.0.113.9:5555":             403, // client-written left hop
		"[::ffff:198.51.100.7]:1, 203.0.113.9":         403,
		"198.51.100.7, [2001:db8::1]:443":              403,
		"198.51.100.7, 10.0.0.9:80, 203.0.113.9:5":     403,
		"203.0.113.9:5, 10.0.0.9:80":                   403,
		"198.51.100.7:1, 203.0.113.9:5, 10.0.0.9:8080": 403,
	} {
		r := httptest.NewRequest("GET", "/v1/me", nil)
		r.RemoteAddr = "10.0.0.2:4000"
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("Authorization", "Bearer "+f.keys["office-only"])
		if w := adversarialServe(h, r); w.Code != want {
			t.Errorf("X-Forwarded-For %q: %d, want %d", xff, w.Code, want)
		}
	}
	// Not from a trusted peer: headers are ignored entirely.
	r := httptest.NewRequest("GET", "/v1/me", nil)
	r.RemoteAddr = "203.0.113.9:4000"
	r.Header.Set("X-Forwarded-For", "198.51.100.7:1")
	r.Header.Set("X-Real-Ip", "198.51.100.7:1")
	r.Header.Set("Authorization", "Bearer "+f.keys["office-only"])
	if w := adversarialServe(h, r); w.Code != 403 {
		t.Errorf("untrusted peer spoofing: %d", w.Code)
	}
}

// TestAdversarialSafeThrottle: one address's failures do not block another,
// a blocked address gets 429 even with a valid key and is not looked up,
// and rotating the port of a forwarded hop does not create new buckets.
func TestAdversarialSafeThrottle(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/me", nop)
	g := adversarialGate(f)
	g.Auth.Throttle = &middleware.AuthThrottle{Limit: ratelimit.PerMinute(3), Now: f.clock.Now}
	g.Proxies = middleware.TrustedProxies{Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	h := g.Handler(mux)
	send := func(xff, key string) int {
		r := httptest.NewRequest("GET", "/v1/me", nil)
		r.RemoteAddr = "10.0.0.2:4000"
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("Authorization", "Bearer "+key)
		return adversarialServe(h, r).Code
	}
	for i := range 5 {
		send("203.0.113.9:"+string(rune('1'+i)), "sk_live_garbage")
	}
	if c := send("203.0.113.9:9", f.keys["secret"]); c != 429 {
		t.Errorf("blocked address, new port, valid key: %d, want 429", c)
	}
	if c := send("198.51.100.7:9", f.keys["secret"]); c != 200 {
		t.Errorf("another address, valid key: %d, want 200", c)
	}
}

// TestAdversarialSafeErrorsNoSharedState: error values handed to hooks and
// callers are copies; changing them does not change later answers.
func TestAdversarialSafeErrorsNoSharedState(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/me", nop)
	g := adversarialGate(f)
	g.Auth.OnFailure = func(_ *http.Request, e *apierrors.Error) {
		e.Status, e.Code, e.Message = 200, "ok", "hijacked"
		if e.Header != nil {
			e.Header.Set("WWW-Authenticate", "hijacked")
		}
	}
	h := g.Handler(mux)
	for range 2 {
		w := adversarialServe(h, httptest.NewRequest("GET", "/v1/me", nil))
		e := decodeError(t, w)
		if w.Code != 401 || e.Code != apierrors.CodeMissingAPIKey || strings.Contains(w.Header().Get("WWW-Authenticate"), "hijacked") {
			t.Errorf("after a hook changed its copy: %d %s %q", w.Code, e.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
}

// TestAdversarialSafeHostileInputNoPanic: odd methods, request targets and
// headers never make a part of the Gate panic (a panic would surface as the
// Recoverer's 500), on a ServeMux and on a raw-path router.
func TestAdversarialSafeHostileInputNoPanic(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", nop)
	mux.Handle("/v1/admin/purge", nop)
	mux.Handle("GET /v1/monitors/{id}", nop)
	rr := &rawRouter{routes: []rawRoute{{"GET", "/healthz", nop}, {"GET", "/v1/files/*", nop}}}
	for name, rt := range map[string]middleware.Router{"ServeMux": mux, "raw": rr} {
		g := adversarialGate(f, "GET /healthz")
		g.CORS = &middleware.CORS{AllowedOrigins: []string{"https://app.example.com"}}
		g.TLS = &middleware.RequireTLS{}
		g.Auth.Throttle = &middleware.AuthThrottle{}
		g.Proxies = middleware.TrustedProxies{Networks: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}}
		h := g.Handler(rt)
		seen := map[int]int{}
		defer func() { t.Logf("%s: statuses seen %v", name, seen) }()
		for _, m := range []string{"GET", "OPTIONS", "CONNECT", "", "g e t", strings.Repeat("X", 4096)} {
			for _, target := range []*url.URL{
				{Path: "*"}, {Path: ""}, {Path: "//"}, {Path: "/v1/monitors/"}, {Path: "/v1/monitors/a/../../.."},
				{Path: "/v1/files/x", RawPath: "/v1/files%2Fx"}, {Path: "/\x00"}, {Opaque: "//evil.example/healthz"},
			} {
				for _, hdr := range []map[string][]string{
					{},
					{"Origin": {"https://app.example.com"}, "Access-Control-Request-Method": {strings.Repeat("a", 100) + "\r\n"}},
					{"Origin": {""}, "Access-Control-Request-Method": {"", ""}},
					{"X-Forwarded-For": {",,,", "[", "[]:1", "1.2.3.4:99999", "::ffff:1.2.3.4%eth0"}, "X-Forwarded-Proto": {"https,"}},
					{"X-Real-Ip": {"[::1]"}, "Authorization": {"Basic " + strings.Repeat("=", 8)}},
					{"Authorization": {"Bearer " + f.keys["secret"]}},
					{"Authorization": {"Bearer " + f.keys["secret-ro"]}, "Origin": {"https://app.example.com"}, "X-Forwarded-For": {"[2001:db8::1]:4711"}},
					{"Authorization": {"Bearer"}, "Accept": {"application/problem+json;q=" + strings.Repeat("9", 50)}},
				} {
					r := &http.Request{Method: m, URL: target, Header: http.Header(hdr), Host: "api.example.com",
						RemoteAddr: "10.0.0.2:1", RequestURI: target.String(), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
						TLS: &tls.ConnectionState{}}
					w := adversarialServe(h, r.WithContext(t.Context()))
					seen[w.Code]++
					if w.Code == http.StatusInternalServerError {
						t.Errorf("%s: %q %q %v: 500", name, m, target, hdr)
					}
				}
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Finding 3 (informational): the Gate's documentation says an
// unauthenticated caller "learns nothing of the routes", but with CORS set
// a keyless preflight tells existing paths (204) from missing ones (404)
// even for an origin that is not allowed, where no browser needs the
// difference.
// ---------------------------------------------------------------------------

func TestAdversarialPreflightRouteOracleForDisallowedOrigin(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("DELETE /v1/internal/tenants/{id}", nop)
	g := adversarialGate(f)
	g.CORS = &middleware.CORS{AllowedOrigins: []string{"https://app.example.com"}}
	h := g.Handler(mux)
	status := func(path string) int {
		r := httptest.NewRequest("OPTIONS", path, nil)
		r.Header.Set("Origin", "https://attacker.example")
		r.Header.Set("Access-Control-Request-Method", "DELETE")
		return adversarialServe(h, r).Code
	}
	if a, b := status("/v1/internal/tenants/1"), status("/v1/nothing/here/1"); a != b {
		t.Errorf("keyless preflight from a disallowed origin: existing path %d, missing path %d: routes are enumerable without a key", a, b)
	}
}
