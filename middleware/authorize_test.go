package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/middleware"
)

func TestAuthorization(t *testing.T) {
	f := newFixture(t)
	type check = func(http.Handler) http.Handler
	tests := []struct {
		name   string
		check  check
		key    string
		method string
		header [2]string
		status int
		code   string
	}{
		{"secret on secret route", middleware.RequireSecret, "secret", "GET", [2]string{}, 200, ""},
		{"read-only secret on secret route", middleware.RequireSecret, "secret-ro", "GET", [2]string{}, 200, ""},
		{"publishable on secret route", middleware.RequireSecret, "publishable", "GET", [2]string{}, 403, "secret_key_required"},

		{"read-write on write", middleware.RequireWrite, "secret", "POST", [2]string{}, 200, ""},
		{"read-only on write", middleware.RequireWrite, "secret-ro", "POST", [2]string{}, 403, "insufficient_permissions"},
		{"read-only on write-only GET", middleware.RequireWrite, "secret-ro", "GET", [2]string{}, 403, "insufficient_permissions"},
		{"publishable on write", middleware.RequireWrite, "publishable", "POST", [2]string{}, 403, "insufficient_permissions"},

		{"read-only GET", middleware.RequireMethodPermission, "secret-ro", "GET", [2]string{}, 200, ""},
		{"read-only HEAD", middleware.RequireMethodPermission, "secret-ro", "HEAD", [2]string{}, 200, ""},
		{"read-only OPTIONS", middleware.RequireMethodPermission, "secret-ro", "OPTIONS", [2]string{}, 200, ""},
		{"read-only DELETE", middleware.RequireMethodPermission, "secret-ro", "DELETE", [2]string{}, 403, "insufficient_permissions"},
		{"read-only unknown method", middleware.RequireMethodPermission, "secret-ro", "PURGE", [2]string{}, 403, "insufficient_permissions"},
		{"read-only POST with override header", middleware.RequireMethodPermission, "secret-ro", "POST",
			[2]string{"X-HTTP-Method-Override", "GET"}, 403, "insufficient_permissions"},
		{"read-only GET with override header", middleware.RequireMethodPermission, "secret-ro", "GET",
			[2]string{"X-HTTP-Method-Override", "DELETE"}, 200, ""},
		{"publishable PUT", middleware.RequireMethodPermission, "publishable", "PUT", [2]string{}, 403, "insufficient_permissions"},
		{"read-write PATCH", middleware.RequireMethodPermission, "secret", "PATCH", [2]string{}, 200, ""},

		{"live key on live route", middleware.RequireEnvironment(apikey.Live), "secret", "GET", [2]string{}, 200, ""},
		{"test key on live route", middleware.RequireEnvironment(apikey.Live), "secret-test", "GET", [2]string{}, 403, "environment_not_allowed"},
		{"test key on test route", middleware.RequireEnvironment(apikey.Test), "secret-test", "GET", [2]string{}, 200, ""},

		{"scoped key", middleware.RequireScopes("monitors:write"), "scoped", "POST", [2]string{}, 200, ""},
		{"key without scope", middleware.RequireScopes("monitors:write"), "secret", "POST", [2]string{}, 403, "insufficient_scope"},
		{"publishable with granted scope", middleware.RequireScopes("monitors:read"), "publishable", "GET", [2]string{}, 200, ""},
		{"publishable without scope", middleware.RequireScopes("monitors:read", "monitors:write"), "publishable", "GET", [2]string{}, 403, "insufficient_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &okHandler{}
			auth := &middleware.Authenticator{Verifier: f.mgr}
			srv := auth.Handler(tc.check(h))
			r := httptest.NewRequest(tc.method, "/v1/things", nil)
			r.Header.Set("Authorization", "Bearer "+f.keys[tc.key])
			if tc.header[0] != "" {
				r.Header.Set(tc.header[0], tc.header[1])
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.code == "" {
				if !h.called {
					t.Error("handler not called")
				}
				return
			}
			if h.called {
				t.Error("handler was called")
			}
			body := decodeError(t, w)
			if string(body.Code) != tc.code {
				t.Errorf("code %q, want %q", body.Code, tc.code)
			}
			if tc.code == "insufficient_scope" {
				missing, _ := body.Details["missing_scopes"].([]any)
				if len(missing) == 0 || !slices.Contains(missing, any("monitors:write")) {
					t.Errorf("details %v", body.Details)
				}
				// RFC 6750, 3.1: the challenge names the scopes the route needs.
				ch := w.Header().Get("WWW-Authenticate")
				if !strings.HasPrefix(ch, `Bearer error="insufficient_scope", scope="`) || !strings.Contains(ch, "monitors:write") {
					t.Errorf("WWW-Authenticate %q", ch)
				}
			} else if w.Header().Get("WWW-Authenticate") != "" {
				t.Errorf("403 %s with WWW-Authenticate %q", tc.code, w.Header().Get("WWW-Authenticate"))
			}
			assertNoLeak(t, w, f.keys[tc.key])
		})
	}
}

// TestAuthorizationWithoutAuthenticator fails closed: a check with no key in
// the context is a server bug, answered 500, never the handler.
func TestAuthorizationWithoutAuthenticator(t *testing.T) {
	for name, mw := range map[string]func(http.Handler) http.Handler{
		"RequireSecret":           middleware.RequireSecret,
		"RequireWrite":            middleware.RequireWrite,
		"RequireMethodPermission": middleware.RequireMethodPermission,
		"RequireEnvironment":      middleware.RequireEnvironment(apikey.Live),
		"RequireScopes":           middleware.RequireScopes("a"),
	} {
		h := &okHandler{}
		w := httptest.NewRecorder()
		quietWriter(mw(h)).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != 500 || h.called {
			t.Errorf("%s: %d, handler=%v", name, w.Code, h.called)
		}
		// A preflight is no exception: it carries no key either.
		r := httptest.NewRequest("OPTIONS", "/", nil)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Origin", "https://app.example.com")
		h = &okHandler{}
		w = httptest.NewRecorder()
		quietWriter(mw(h)).ServeHTTP(w, r)
		if w.Code != 500 || h.called {
			t.Errorf("%s: keyless preflight got %d, handler=%v; want 500 without the handler", name, w.Code, h.called)
		}
	}
}

func TestAuthorizationMisconfiguration(t *testing.T) {
	for name, f := range map[string]func(){
		"no scopes":       func() { middleware.RequireScopes() },
		"empty scope":     func() { middleware.RequireScopes("") },
		"quoted scope":    func() { middleware.RequireScopes(`a"b`) },
		"spaced scope":    func() { middleware.RequireScopes("a b") },
		"nil handler":     func() { middleware.RequireSecret(nil) },
		"bad environment": func() { middleware.RequireEnvironment(0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
