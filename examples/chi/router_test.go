package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/middleware/middlewaretest"
)

// chiRoutes registers the suite's routes on a chi router, as a chi user
// would, and adapts it.
func chiRoutes(routes []middlewaretest.Route) middleware.Router {
	r := chi.NewRouter()
	for _, rt := range routes {
		if rt.Method == "" {
			r.Handle(rt.Pattern, rt.Handler)
		} else {
			r.Method(rt.Method, rt.Pattern, rt.Handler)
		}
	}
	return NewRouter(r)
}

// TestGateOnChi drives the same table of requests through the Gate on chi
// as the middleware package drives through it on an http.ServeMux: status,
// code, and whether the handler ran.
func TestGateOnChi(t *testing.T) {
	if err := middlewaretest.TestRouter(chiRoutes); err != nil {
		t.Error(err)
	}
}

// TestAuthenticatorOnChiRefusesKeylessPreflight is the regression test of
// a hole: the Authenticator let a keyless CORS preflight through to the
// next handler, and with chi's Handle (every method) that is the protected
// handler itself.
func TestAuthenticatorOnChiRefusesKeylessPreflight(t *testing.T) {
	mgr, err := apikey.NewManager(&apikey.MemoryStore{}, apikey.ManagerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	ran := false
	r := chi.NewRouter()
	r.Handle("/v1/admin/purge", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
	h := (&middleware.Authenticator{Verifier: mgr}).Handler(r)

	req := httptest.NewRequest("OPTIONS", "/v1/admin/purge", nil)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Access-Control-Request-Method", "DELETE")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if ran || w.Code != http.StatusUnauthorized {
		t.Errorf("keyless preflight: %d, handler ran %v; want 401 and not run", w.Code, ran)
	}
}

// TestRoutesBehindGate checks the example service itself.
func TestRoutesBehindGate(t *testing.T) {
	mgr, err := apikey.NewManager(&apikey.MemoryStore{}, apikey.ManagerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	tok, _, err := mgr.Create(context.Background(), apikey.CreateParams{Type: apikey.PublishableKey, Environment: apikey.Test})
	if err != nil {
		t.Fatal(err)
	}
	h := (&middleware.Gate{Auth: middleware.Authenticator{Verifier: mgr}, Public: []string{"GET /healthz"}}).Handler(NewRouter(routes()))
	for _, tc := range []struct {
		method, path, key string
		status            int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/v1/monitors", "", 401},
		{"GET", "/v1/monitors", tok.Reveal(), 200},
		{"POST", "/v1/monitors", tok.Reveal(), 403},
		{"GET", "/v1/keys", tok.Reveal(), 403},
		{"PUT", "/v1/monitors", tok.Reveal(), 405},
		{"GET", "/v1/nothing", tok.Reveal(), 404},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.key != "" {
			r.Header.Set("Authorization", "Bearer "+tc.key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.status {
			t.Errorf("%s %s: %d, want %d: %s", tc.method, tc.path, w.Code, tc.status, w.Body)
		}
	}
}
