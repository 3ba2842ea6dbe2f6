package middlewaretest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/middleware/middlewaretest"
)

func TestWithKey(t *testing.T) {
	k := &apikey.Key{ID: "abcdefghijkl", Type: apikey.SecretKey, Environment: apikey.Live}
	r := httptest.NewRequest("GET", "/", nil)
	r2 := middlewaretest.WithKey(r, k)

	if got, ok := middleware.KeyFromContext(r2.Context()); !ok || got != k {
		t.Errorf("KeyFromContext = %v, %v; want the key given to WithKey", got, ok)
	}
	if _, ok := middleware.KeyFromContext(r.Context()); ok {
		t.Error("WithKey changed the original request's context")
	}
	if r2 == r || r2.URL != r.URL || r2.Method != r.Method {
		t.Error("WithKey did not return a shallow copy of the request")
	}
	// A nil key hides an outer one.
	if got, ok := middleware.KeyFromContext(middlewaretest.WithKey(r2, nil).Context()); ok {
		t.Errorf("after WithKey(r, nil): KeyFromContext = %v, true; want no key", got)
	}
}

// The per-route checks see the key that WithKey stored, exactly as they
// would see one that Authenticator verified.
func TestWithKeyAuthorization(t *testing.T) {
	readWrite := &apikey.Key{ID: "rwrwrwrwrwrw", Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite}
	readOnly := &apikey.Key{ID: "rorororororo", Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadOnly}
	publishable := &apikey.Key{ID: "pkpkpkpkpkpk", Type: apikey.PublishableKey, Environment: apikey.Test, Scopes: []string{"monitors:read"}}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, tc := range []struct {
		name    string
		handler http.Handler
		method  string
		key     *apikey.Key
		want    int
	}{
		{"write with read-write key", middleware.RequireWrite(ok), "POST", readWrite, 200},
		{"write with read-only key", middleware.RequireWrite(ok), "POST", readOnly, 403},
		{"method permission, read", middleware.RequireMethodPermission(ok), "GET", readOnly, 200},
		{"method permission, write", middleware.RequireMethodPermission(ok), "DELETE", readOnly, 403},
		{"secret route, secret key", middleware.RequireSecret(ok), "GET", readOnly, 200},
		{"secret route, publishable key", middleware.RequireSecret(ok), "GET", publishable, 403},
		{"scope held", middleware.RequireScopes("monitors:read")(ok), "GET", publishable, 200},
		{"scope missing", middleware.RequireScopes("monitors:write")(ok), "GET", publishable, 403},
		{"environment", middleware.RequireEnvironment(apikey.Live)(ok), "GET", publishable, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tc.handler.ServeHTTP(w, middlewaretest.WithKey(httptest.NewRequest(tc.method, "/", nil), tc.key))
			if w.Code != tc.want {
				t.Errorf("status %d, want %d; body %s", w.Code, tc.want, w.Body)
			}
		})
	}
}
