package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/middleware/middlewaretest"
	"github.com/gatekey/gatekey/ratelimit"
)

// serveMux registers routes on a new http.ServeMux, which is a Router as
// it is.
func serveMux(routes []middlewaretest.Route) middleware.Router {
	mux := http.NewServeMux()
	for _, rt := range routes {
		p := rt.Pattern
		if rt.Method != "" {
			p = rt.Method + " " + p
		}
		mux.Handle(p, rt.Handler)
	}
	return mux
}

// TestGateServeMux drives the router suite's table through the Gate on a
// ServeMux; examples/chi drives the same table through chi.
func TestGateServeMux(t *testing.T) {
	if err := middlewaretest.TestRouter(serveMux); err != nil {
		t.Error(err)
	}
}

// brokenRouter wraps a ServeMux and misreports its routes.
type brokenRouter struct {
	*http.ServeMux
	handler func(mux *http.ServeMux, r *http.Request) (http.Handler, string)
}

func (b brokenRouter) Handler(r *http.Request) (http.Handler, string) {
	return b.handler(b.ServeMux, r)
}

// TestRouterSuiteFailsBrokenRouters: the suite is worth passing only if it
// fails routers that misreport their routes.
func TestRouterSuiteFailsBrokenRouters(t *testing.T) {
	for name, handler := range map[string]func(*http.ServeMux, *http.Request) (http.Handler, string){
		"never matches": func(*http.ServeMux, *http.Request) (http.Handler, string) { return nil, "" },
		"always matches": func(mux *http.ServeMux, r *http.Request) (http.Handler, string) {
			h, _ := mux.Handler(r)
			return h, "/"
		},
		"hides the handler": func(mux *http.ServeMux, r *http.Request) (http.Handler, string) {
			_, p := mux.Handler(r)
			return nil, p
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := middlewaretest.TestRouter(func(routes []middlewaretest.Route) middleware.Router {
				return brokenRouter{serveMux(routes).(*http.ServeMux), handler}
			})
			if err == nil {
				t.Error("the suite passed a broken router")
			}
		})
	}
}

func TestGateMisconfiguration(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	for name, tc := range map[string]struct {
		gate   *middleware.Gate
		routes middleware.Router
		want   string
	}{
		"nil router":      {&middleware.Gate{Auth: middleware.Authenticator{Verifier: f.mgr}}, nil, "middleware: Gate.Handler called with a nil Router"},
		"no verifier":     {&middleware.Gate{}, mux, "middleware: Gate.Auth.Verifier is nil"},
		"bad public":      {&middleware.Gate{Auth: middleware.Authenticator{Verifier: f.mgr}, Public: []string{"GET healthz"}}, mux, "middleware: Gate.Public: "},
		"no policy":       {&middleware.Gate{Auth: middleware.Authenticator{Verifier: f.mgr}, RateLimit: &middleware.RateLimiter{}}, mux, "middleware: RateLimiter needs a Policy"},
		"bad CORS origin": {&middleware.Gate{Auth: middleware.Authenticator{Verifier: f.mgr}, CORS: &middleware.CORS{AllowedOrigins: []string{"example.com"}}}, mux, "middleware: CORS.AllowedOrigins"},
		"bad realm":       {&middleware.Gate{Auth: middleware.Authenticator{Verifier: f.mgr, Realm: `"`}}, mux, "middleware: Authenticator.Realm"},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if v := recover(); v == nil || !strings.HasPrefix(fmt.Sprint(v), tc.want) {
					t.Errorf("panic %v, want one starting %q", v, tc.want)
				}
			}()
			tc.gate.Handler(tc.routes)
		})
	}
}

// TestGateSnapshot: Handler copies the configuration, parts included.
func TestGateSnapshot(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/me", nop)
	rl := &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("1/minute")}
	gate := &middleware.Gate{Auth: middleware.Authenticator{Verifier: f.mgr}, RateLimit: rl, Logger: discardLogger()}
	h := gate.Handler(mux)
	rl.Policy = ratelimit.MustParsePolicy("1000/minute")
	gate.Public = []string{"/"}
	gate.Auth.Verifier = nil
	if w := get(h, ""); w.Code != 401 {
		t.Errorf("keyless request after the Gate changed: %d", w.Code)
	}
	get(h, f.keys["secret"])
	if w := get(h, f.keys["secret"]); w.Code != 429 {
		t.Errorf("second request under the original 1/minute: %d", w.Code)
	}
}

// TestGateErrors: the Gate's Writer shapes its own errors and those of the
// routes.
func TestGateErrors(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/monitors", apierrors.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		return apierrors.New(http.StatusConflict, apierrors.CodeConflict, "busy")
	}))
	h := (&middleware.Gate{
		Auth:   middleware.Authenticator{Verifier: f.mgr},
		Errors: apierrors.Writer{Encoding: apierrors.EncodingSimple},
		Logger: discardLogger(),
	}).Handler(mux)
	for key, want := range map[string]string{
		"":               `{"error":"No API key provided"}`,
		f.keys["secret"]: `{"error":"busy"}`,
	} {
		if got := strings.TrimSpace(get(h, key).Body.String()); got != want {
			t.Errorf("body %s, want %s", got, want)
		}
	}
}

// TestGateCORSHeaders: the preflight answer allows the headers the
// Authenticator reads, and only those.
func TestGateCORSHeaders(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/monitors", nop)
	for _, tc := range []struct {
		sources []middleware.Source
		header  string
		want    string
	}{
		{nil, "", "Authorization, Content-Type, Idempotency-Key, X-Request-Id"},
		{[]middleware.Source{middleware.SourceHeader}, "", "Content-Type, Idempotency-Key, X-API-Key, X-Request-Id"},
		{[]middleware.Source{middleware.SourceBearer, middleware.SourceHeader}, "X-Acme-Key", "Authorization, Content-Type, Idempotency-Key, X-Acme-Key, X-Request-Id"},
	} {
		h := (&middleware.Gate{
			Auth: middleware.Authenticator{Verifier: f.mgr, Sources: tc.sources, HeaderName: tc.header},
			CORS: &middleware.CORS{AllowedOrigins: []string{"*"}},
		}).Handler(mux)
		r := httptest.NewRequest("OPTIONS", "/v1/monitors", nil)
		r.Header.Set("Origin", "https://app.example.com")
		r.Header.Set("Access-Control-Request-Method", "GET")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("Access-Control-Allow-Headers"); w.Code != 204 || got != tc.want {
			t.Errorf("sources %v: %d, Access-Control-Allow-Headers %q, want %q", tc.sources, w.Code, got, tc.want)
		}
	}
}

// TestGateProxies: the Gate's Proxies reach every part that sets none: the
// key's allowed networks see the client behind the proxy.
func TestGateProxies(t *testing.T) {
	f := newFixture(t) // "office-only" allows 198.51.100.0/24
	mux := http.NewServeMux()
	mux.Handle("GET /v1/me", nop)
	h := (&middleware.Gate{
		Auth:    middleware.Authenticator{Verifier: f.mgr},
		Proxies: middleware.TrustedProxies{Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	}).Handler(mux)
	for xff, want := range map[string]int{"198.51.100.7": 200, "203.0.113.1": 403} {
		r := httptest.NewRequest("GET", "/v1/me", nil)
		r.RemoteAddr = "10.0.0.2:4000"
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("Authorization", "Bearer "+f.keys["office-only"])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("client %s: %d, want %d", xff, w.Code, want)
		}
	}
}

// TestStandalonePartsRefuseKeylessPreflights is the regression test of a
// hole: the Authenticator and the Require checks used to let a keyless
// CORS preflight through to the next handler, which on a route serving
// every method is the protected handler itself.
func TestStandalonePartsRefuseKeylessPreflights(t *testing.T) {
	f := newFixture(t)
	h := &okHandler{}
	mux := http.NewServeMux()
	mux.Handle("/v1/admin/purge", middleware.RequireWrite(h))
	for name, handler := range map[string]http.Handler{
		"Authenticator": (&middleware.Authenticator{Verifier: f.mgr, Logger: discardLogger()}).Handler(mux),
		"RequireWrite":  quietWriter(mux),
	} {
		r := httptest.NewRequest("OPTIONS", "/v1/admin/purge", nil)
		r.Header.Set("Origin", "https://evil.example")
		r.Header.Set("Access-Control-Request-Method", "DELETE")
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		if h.called || w.Code < 400 {
			t.Errorf("%s: keyless preflight got %d, handler ran %v", name, w.Code, h.called)
		}
	}
}

// TestGateNestedRouters: a Router inside a Router, mounted as it is or
// under a prefix with StripPrefix, is routed as one: JSON 404 and 405,
// the inner route's checks in order, and Public naming the inner route by
// its full pattern.
func TestGateNestedRouters(t *testing.T) {
	f := newFixture(t)
	health, things, secret := &okHandler{}, &okHandler{}, &okHandler{}
	v2 := http.NewServeMux() // mounted under a prefix: its patterns are relative
	v2.Handle("GET /health", health)
	v2.Handle("GET /things", things)
	v2.Handle("POST /things", middleware.RequireSecret(secret))
	v3 := http.NewServeMux() // mounted as it is: its patterns are full paths
	v3.Handle("GET /v3/things", things)
	v3.Handle("POST /v3/things", middleware.RequireSecret(secret))
	mux := http.NewServeMux()
	mux.Handle("/v2/", middleware.StripPrefix("/v2", v2))
	mux.Handle("/v3/", v3)
	h := (&middleware.Gate{
		Auth:   middleware.Authenticator{Verifier: f.mgr},
		Public: []string{"GET /v2/health"},
		Logger: discardLogger(),
	}).Handler(mux)

	for _, tc := range []struct {
		method, path, key string
		status            int
		code              apierrors.Code
		ran               *okHandler
		allow             string
	}{
		{"GET", "/v2/health", "", 200, "", health, ""},
		{"GET", "/v2/things", "", 401, apierrors.CodeMissingAPIKey, nil, ""},
		{"GET", "/health", "", 401, apierrors.CodeMissingAPIKey, nil, ""},
		{"GET", "/v2/things", "secret-ro", 200, "", things, ""},
		{"GET", "/v2/nothing", "secret", 404, apierrors.CodeNotFound, nil, ""},
		{"DELETE", "/v2/things", "secret-ro", 405, apierrors.CodeMethodNotAllowed, nil, "GET, HEAD, POST"},
		{"POST", "/v2/things", "publishable", 403, apierrors.CodeSecretKeyRequired, nil, ""},
		{"POST", "/v2/things", "secret", 200, "", secret, ""},
		{"GET", "/v3/nothing", "secret", 404, apierrors.CodeNotFound, nil, ""},
		{"DELETE", "/v3/things", "secret-ro", 405, apierrors.CodeMethodNotAllowed, nil, "GET, HEAD, POST"},
		{"POST", "/v3/things", "publishable", 403, apierrors.CodeSecretKeyRequired, nil, ""},
	} {
		health.called, things.called, secret.called = false, false, false
		r := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.key != "" {
			r.Header.Set("Authorization", "Bearer "+f.keys[tc.key])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.status {
			t.Errorf("%s %s (%s): %d, want %d: %s", tc.method, tc.path, tc.key, w.Code, tc.status, w.Body)
			continue
		}
		if tc.code != "" && decodeError(t, w).Code != tc.code {
			t.Errorf("%s %s (%s): code %s, want %s", tc.method, tc.path, tc.key, decodeError(t, w).Code, tc.code)
		}
		for _, o := range []*okHandler{health, things, secret} {
			if o.called != (o == tc.ran) {
				t.Errorf("%s %s (%s): a handler ran that should not have, or not the one that should", tc.method, tc.path, tc.key)
			}
		}
		if got := w.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}

func TestStripPrefix(t *testing.T) {
	inner := http.NewServeMux()
	inner.Handle("GET /things/{id}", nop)
	inner.Handle("/any", nop)
	rt := middleware.StripPrefix("/v2", inner)
	for target, want := range map[string]string{
		"/v2/things/1":   "GET /v2/things/{id}",
		"/v2/any":        "/v2/any",
		"/v2/things%2F1": "",
		"/v3/things/1":   "",
		"/things/1":      "",
		"/v2":            "",
	} {
		if _, got := rt.Handler(httptest.NewRequest("GET", target, nil)); got != want {
			t.Errorf("Handler(GET %s) pattern %q, want %q", target, got, want)
		}
	}
	defer func() {
		if v := recover(); v == nil || !strings.HasPrefix(fmt.Sprint(v), "middleware: StripPrefix") {
			t.Errorf("StripPrefix(nil) panic %v", v)
		}
	}()
	middleware.StripPrefix("/x", nil)
}

// TestGateUncleanPaths: a path ServeMux would redirect (not canonical, or
// a subtree without its slash) is answered 404 by the Gate, without a
// Location and without echoing the path or query, where a client may have
// put its key; public routes too.
func TestGateUncleanPaths(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/things/{id}", nop)
	mux.Handle("GET /v1/me", nop)
	mux.Handle("/v1/sub/", nop)
	mux.Handle("GET /v1/health", nop)
	h := (&middleware.Gate{
		Auth:   middleware.Authenticator{Verifier: f.mgr},
		Public: []string{"GET /v1/health"},
		Logger: discardLogger(),
	}).Handler(mux)
	key := f.keys["secret"]
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/v1/things/x", 200},
		{"/v1/sub/a/b", 200},
		{"/v1/health", 200},
		{"/v1//things/" + key, 404},
		{"/v1/things/x/../" + key, 404},
		{"/v1/./me?k=" + key, 404},
		{"/" + key + "/../v1/me", 404},
		{"//v1/me", 404},
		{"/v1/sub?k=" + key, 404},
		{"/v1//health?k=" + key, 404},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		u, err := url.Parse(tc.path) // as sent: no dot segments resolved
		if err != nil {
			t.Fatal(err)
		}
		r.URL = u
		r.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.status || w.Header().Get("Location") != "" {
			t.Errorf("%s: %d (Location %q), want %d", apikeyRedact(tc.path), w.Code, apikeyRedact(w.Header().Get("Location")), tc.status)
		}
		if tc.status == 404 && decodeError(t, w).Code != apierrors.CodeNotFound {
			t.Errorf("%s: code %s, want not_found", apikeyRedact(tc.path), decodeError(t, w).Code)
		}
		if strings.Contains(w.Body.String(), key[len(key)-38:]) {
			t.Errorf("%s: the answer echoes the key", apikeyRedact(tc.path))
		}
	}
}

func apikeyRedact(s string) string { return apikey.RedactAll(s) }
