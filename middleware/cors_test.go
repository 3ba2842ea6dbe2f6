package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatekey/gatekey/middleware"
)

func TestCORS(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/monitors", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("POST /v1/monitors", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("DELETE /v1/monitors/{id}", func(http.ResponseWriter, *http.Request) {})

	tests := []struct {
		name     string
		origins  []string
		method   string
		path     string
		headers  map[string]string
		status   int
		want     http.Header // headers that must be present with these values
		absent   []string
		reachesH bool
	}{
		{
			name: "preflight for a route", origins: []string{"*"}, method: "OPTIONS", path: "/v1/monitors",
			headers: map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
			status:  204,
			want: http.Header{
				"Access-Control-Allow-Origin":  {"*"},
				"Access-Control-Allow-Methods": {"GET, HEAD, POST"},
				"Access-Control-Allow-Headers": {"Authorization, Content-Type, Idempotency-Key, X-Request-Id"},
				"Access-Control-Max-Age":       {"600"},
				"Vary":                         {"Origin"},
			},
		},
		{
			name: "preflight for a path with a wildcard", origins: []string{"https://app.example.com"}, method: "OPTIONS", path: "/v1/monitors/mon_1",
			headers: map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "DELETE"},
			status:  204,
			want: http.Header{
				"Access-Control-Allow-Origin":  {"https://app.example.com"},
				"Access-Control-Allow-Methods": {"DELETE"},
				"Vary":                         {"Origin"},
			},
		},
		{
			name: "preflight for an unknown path", origins: []string{"*"}, method: "OPTIONS", path: "/v1/nothing",
			headers: map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
			status:  404,
			// The browser lets the page read the 404 only with ACAO.
			want: http.Header{"Content-Type": {"application/json"}, "Access-Control-Allow-Origin": {"*"}},
		},
		{
			name: "preflight for an unknown path, listed origin", origins: []string{"https://app.example.com"}, method: "OPTIONS", path: "/v1/nothing",
			headers: map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
			status:  404,
			want:    http.Header{"Access-Control-Allow-Origin": {"https://app.example.com"}, "Vary": {"Origin", "Accept"}},
		},
		{
			name: "same-origin request, listed origins", origins: []string{"https://app.example.com"}, method: "GET", path: "/v1/monitors",
			status: 200, reachesH: true,
			// A cache must not serve this answer to a cross-origin request.
			want: http.Header{"Vary": {"Origin"}}, absent: []string{"Access-Control-Allow-Origin"},
		},
		{
			name: "preflight from an origin not allowed", origins: []string{"https://app.example.com"}, method: "OPTIONS", path: "/v1/monitors",
			headers: map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
			status:  204,
			absent:  []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods"},
		},
		{
			name: "actual cross-origin request", origins: []string{"*"}, method: "GET", path: "/v1/monitors",
			headers: map[string]string{"Origin": "https://app.example.com"},
			status:  200, reachesH: true,
			want: http.Header{
				"Access-Control-Allow-Origin":   {"*"},
				"Access-Control-Expose-Headers": {"Idempotent-Replayed, RateLimit, RateLimit-Policy, Retry-After, WWW-Authenticate, X-Request-Id"},
			},
		},
		{
			name: "same-origin request", origins: []string{"*"}, method: "GET", path: "/v1/monitors",
			status: 200, reachesH: true,
			absent: []string{"Access-Control-Allow-Origin", "Vary"},
		},
		{
			name: "plain OPTIONS is not a preflight", origins: []string{"*"}, method: "OPTIONS", path: "/v1/monitors",
			headers: map[string]string{"Origin": "https://app.example.com"},
			status:  200, reachesH: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reached := false
			next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })
			h := (&middleware.CORS{AllowedOrigins: tc.origins, Routes: mux}).Handler(next)
			r := httptest.NewRequest(tc.method, tc.path, nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status || reached != tc.reachesH {
				t.Fatalf("status %d reached=%v, want %d %v", w.Code, reached, tc.status, tc.reachesH)
			}
			got := http.Header{}
			for k := range tc.want {
				got[k] = w.Header()[k]
			}
			if diff := cmp.Diff(tc.want, got); tc.want != nil && diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			for _, k := range tc.absent {
				if v := w.Header().Get(k); v != "" {
					t.Errorf("%s = %q, want none", k, v)
				}
			}
		})
	}
}

func TestCORSMisconfiguration(t *testing.T) {
	for name, c := range map[string]*middleware.CORS{
		"no routes":     {AllowedOrigins: []string{"*"}},
		"not an origin": {AllowedOrigins: []string{"app.example.com"}, Routes: http.NewServeMux()},
		"a list in one": {AllowedOrigins: []string{"https://a.example, https://b.example"}, Routes: http.NewServeMux()},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if v := recover(); v == nil || !strings.HasPrefix(fmt.Sprint(v), "middleware: CORS.") {
					t.Errorf("panic %v, want one naming a CORS field", v)
				}
			}()
			c.Handler(nop)
		})
	}
}
