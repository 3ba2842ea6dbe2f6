package middleware_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
)

// newService is a Gate over a real server: request id and recovery, TLS
// requirement, authentication, routing, per-route checks, handler.
func newService(t *testing.T, f *fixture, tls bool) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	me := func(w http.ResponseWriter, r *http.Request) {
		k, _ := middleware.KeyFromContext(r.Context())
		json.NewEncoder(w).Encode(map[string]string{"id": k.ID, "name": k.Name})
	}
	mux.Handle("GET /v1/me", http.HandlerFunc(me))
	mux.Handle("GET /v1/keys", middleware.RequireSecret(http.HandlerFunc(me)))
	mux.Handle("POST /v1/monitors", middleware.RequireWrite(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})))
	mux.Handle("GET /v1/panic", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("kaboom") }))

	chain := (&middleware.Gate{
		Auth:   middleware.Authenticator{Verifier: f.mgr},
		TLS:    &middleware.RequireTLS{},
		Logger: discardLogger(), // keeps the panic's log line out of test output
	}).Handler(mux)
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(chain)
	} else {
		srv = httptest.NewServer(chain)
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestFullChain(t *testing.T) {
	f := newFixture(t)
	srv := newService(t, f, true)
	tests := []struct {
		name, method, path, key string
		status                  int
		code                    string
	}{
		{"me", "GET", "/v1/me", "secret", 200, ""},
		{"no key, unknown path", "GET", "/nope", "", 401, "missing_api_key"},
		{"bad key, unknown path", "GET", "/nope", "garbage", 401, "invalid_api_key"},
		{"valid key, unknown path", "GET", "/nope", "secret", 404, "not_found"},
		{"read-only key, path without that method", "DELETE", "/v1/me", "secret-ro", 405, "method_not_allowed"},
		{"read-only key on a write route", "POST", "/v1/monitors", "secret-ro", 403, "insufficient_permissions"},
		{"read-write key on a write route", "POST", "/v1/monitors", "secret", 201, ""},
		{"publishable on a secret-only route", "GET", "/v1/keys", "publishable", 403, "secret_key_required"},
		{"revoked key", "GET", "/v1/me", "revoked", 401, "revoked_api_key"},
		{"expired key", "GET", "/v1/me", "expiring", 401, "expired_api_key"},
		{"panic", "GET", "/v1/panic", "secret", 500, "internal_error"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if tc.key != "" {
				k := f.keys[tc.key]
				if k == "" {
					k = tc.key
				}
				req.Header.Set("Authorization", "Bearer "+k)
			}
			wantID := fmt.Sprintf("it-%d", i)
			req.Header.Set("X-Request-Id", wantID)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if resp.Header.Get("Strict-Transport-Security") == "" {
				t.Error("no HSTS header over TLS")
			}
			rid := resp.Header.Get("X-Request-Id")
			if rid != wantID {
				t.Errorf("X-Request-Id %q", rid)
			}
			if tc.code == "" {
				return
			}
			e, err := apierrors.Decode(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			if string(e.Code) != tc.code || e.RequestID != rid {
				t.Errorf("error %+v, want code %s and request id %s", e, tc.code, rid)
			}
			if strings.Contains(string(body), "kaboom") {
				t.Error("panic value leaked")
			}
		})
	}
}

func TestFullChainPlainHTTP(t *testing.T) {
	f := newFixture(t)
	srv := newService(t, f, false)
	req, _ := http.NewRequest("GET", srv.URL+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+f.keys["secret"])
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	e, err := apierrors.Decode(resp.Body)
	if err != nil || resp.StatusCode != 403 || e.Code != apierrors.CodeHTTPSRequired || resp.Header.Get("Location") != "" {
		t.Errorf("plain HTTP: %d %v %v Location=%q", resp.StatusCode, e, err, resp.Header.Get("Location"))
	}
}
