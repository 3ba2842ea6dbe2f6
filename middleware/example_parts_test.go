package middleware_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/credits"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

// CORS answers preflights itself, before any key is asked for, with the
// methods the router has for the path; a preflight for a path that does
// not exist gets the JSON 404, readable by the page that sent it.
func ExampleCORS() {
	mgr, _, _, _ := newExampleKeys()
	defer mgr.Close()

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("GET /v1/monitors", ok)
	mux.Handle("POST /v1/monitors", ok)
	handler := (&middleware.Gate{
		Auth: middleware.Authenticator{Verifier: mgr},
		CORS: &middleware.CORS{AllowedOrigins: []string{"https://app.example.com"}},
	}).Handler(mux)

	for _, path := range []string{"/v1/monitors", "/v1/nothing"} {
		r := httptest.NewRequest("OPTIONS", path, nil)
		r.Header.Set("Origin", "https://app.example.com")
		r.Header.Set("Access-Control-Request-Method", "POST")
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(path, w.Code, w.Header().Get("Access-Control-Allow-Origin"), w.Header().Get("Access-Control-Allow-Methods"))
	}
	// Output:
	// /v1/monitors 204 https://app.example.com GET, HEAD, POST
	// /v1/nothing 404 https://app.example.com
}

// RequireTLS refuses plain HTTP with 403 rather than redirecting: a key
// sent in clear text has already leaked. Behind a TLS-terminating proxy,
// name the proxy so that its X-Forwarded-Proto is believed.
func ExampleRequireTLS() {
	proxies, _ := middleware.ParseTrustedProxies("10.0.0.0/8")
	handler := (&middleware.RequireTLS{Proxies: proxies}).Handler(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	send := func(name string, r *http.Request) {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		hsts := w.Header().Get("Strict-Transport-Security")
		if hsts == "" {
			hsts = "-"
		}
		fmt.Println(name, w.Code, "HSTS:", hsts)
	}
	send("plain", httptest.NewRequest("GET", "http://api.example.com/v1/me", nil))

	direct := httptest.NewRequest("GET", "https://api.example.com/v1/me", nil)
	direct.TLS = &tls.ConnectionState{}
	send("tls", direct)

	proxied := httptest.NewRequest("GET", "http://api.example.com/v1/me", nil)
	proxied.RemoteAddr = "10.0.0.5:4000"
	proxied.Header.Set("X-Forwarded-Proto", "https")
	send("proxied", proxied)
	// Output:
	// plain 403 HSTS: -
	// tls 200 HSTS: max-age=31536000
	// proxied 200 HSTS: max-age=31536000
}

// RequireScopes grants routes beyond read and write: here, only keys with
// the billing:read scope see invoices, whatever their permission.
func ExampleRequireScopes() {
	mgr, _ := apikey.NewManager(&apikey.MemoryStore{}, apikey.ManagerConfig{})
	defer mgr.Close()
	create := func(scopes ...string) string {
		tok, _, _ := mgr.Create(context.Background(), apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live,
			Permission: apikey.ReadWrite, Scopes: scopes})
		return tok.Reveal()
	}
	billing, plain := create("billing:read"), create()

	invoices := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("GET /v1/invoices", middleware.RequireScopes("billing:read")(invoices))
	handler := (&middleware.Gate{Auth: middleware.Authenticator{Verifier: mgr}}).Handler(mux)

	do(handler, "GET", "/v1/invoices", billing)
	r := httptest.NewRequest("GET", "/v1/invoices", nil)
	r.Header.Set("Authorization", "Bearer "+plain)
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// GET /v1/invoices 200
	// 403 Bearer error="insufficient_scope", scope="billing:read"
}

// RequireEnvironment keeps test keys away from routes that move real
// money, and live keys away from test-only tools.
func ExampleRequireEnvironment() {
	mgr, _ := apikey.NewManager(&apikey.MemoryStore{}, apikey.ManagerConfig{})
	defer mgr.Close()
	live, _, _ := mgr.Create(context.Background(), apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite})
	test, _, _ := mgr.Create(context.Background(), apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Test, Permission: apikey.ReadWrite})

	payout := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("POST /v1/payouts", middleware.RequireEnvironment(apikey.Live)(payout))
	handler := (&middleware.Gate{Auth: middleware.Authenticator{Verifier: mgr}}).Handler(mux)

	do(handler, "POST", "/v1/payouts", live.Reveal())
	do(handler, "POST", "/v1/payouts", test.Reveal())
	// Output:
	// POST /v1/payouts 200
	// POST /v1/payouts 403 environment_not_allowed
}

// AuthThrottle stops key guessing per client address: after the limit of
// invalid keys, the address is refused 429 before any look-up, even with a
// valid key, until the bucket refills.
func ExampleAuthThrottle() {
	mgr, key, _, _ := newExampleKeys()
	defer mgr.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /v1/me", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	handler := (&middleware.Gate{Auth: middleware.Authenticator{
		Verifier: mgr,
		Throttle: &middleware.AuthThrottle{Limit: ratelimit.PerMinute(3)},
	}}).Handler(mux)

	guess := "sk_live_" + strings.Repeat("A", 50)
	for range 3 {
		do(handler, "GET", "/v1/me", guess)
	}
	do(handler, "GET", "/v1/me", key)
	// Output:
	// GET /v1/me 401 invalid_api_key
	// GET /v1/me 401 invalid_api_key
	// GET /v1/me 401 invalid_api_key
	// GET /v1/me 429 rate_limit_exceeded
}

// Credits meter a plan: 2 credits a month here. Every route costs 1
// unless it says otherwise; /v1/me is free; the report route is for the
// "pro" plan only, and costs 5.
func ExampleCredits() {
	mgr, key, _, _ := newExampleKeys()
	defer mgr.Close()

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("GET /v1/monitors", ok)
	mux.Handle("GET /v1/me", middleware.Cost(0)(ok))
	mux.Handle("POST /v1/reports", middleware.RequireTier("pro")(middleware.Cost(5)(ok)))

	handler := (&middleware.Gate{
		Auth: middleware.Authenticator{Verifier: mgr},
		Credits: &middleware.Credits{
			Allowance: credits.PerMonth(2),
			Store:     credits.NewMemoryStore(credits.MemoryConfig{}),
		},
	}).Handler(mux)

	for _, path := range []string{"/v1/monitors", "/v1/monitors", "/v1/monitors", "/v1/me"} {
		do(handler, "GET", path, key)
	}
	do(handler, "POST", "/v1/reports", key)
	// Output:
	// GET /v1/monitors 200
	// GET /v1/monitors 200
	// GET /v1/monitors 402 quota_exceeded
	// GET /v1/me 200
	// POST /v1/reports 402 payment_required
}

// Idempotency makes a retried write safe: the retry gets the first
// answer, marked Idempotent-Replayed, and the handler runs once; the key
// reused for another request gets 422. The route that answers with a new
// API key opts out, since kept answers are stored.
func ExampleIdempotency() {
	mgr, key, _, _ := newExampleKeys()
	defer mgr.Close()

	created := 0
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/monitors", func(w http.ResponseWriter, r *http.Request) {
		created++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"mon_%d"}`, created)
	})
	mux.Handle("POST /v1/keys", middleware.IgnoreIdempotencyKey(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))

	handler := (&middleware.Gate{
		Auth:        middleware.Authenticator{Verifier: mgr},
		Idempotency: &middleware.Idempotency{Store: idempotency.NewMemoryStore(idempotency.MemoryConfig{})},
	}).Handler(mux)

	post := func(body string) {
		r := httptest.NewRequest("POST", "/v1/monitors", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+key)
		r.Header.Set("Idempotency-Key", "8e03978e-40d5-43e8-bc93-6894a57f9324")
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		answer := w.Body.String()
		if e, err := apierrors.Decode(strings.NewReader(answer)); err == nil {
			fmt.Println(w.Code, e.Code)
			return
		}
		fmt.Printf("%d %s replayed=%q\n", w.Code, answer, w.Header().Get("Idempotent-Replayed"))
	}
	post(`{"name":"Homepage"}`)
	post(`{"name":"Homepage"}`) // a retry
	post(`{"name":"Pricing"}`)  // the same key for another request
	fmt.Println("created:", created)
	// Output:
	// 201 {"id":"mon_1"} replayed=""
	// 201 {"id":"mon_1"} replayed="true"
	// 422 idempotency_key_mismatch
	// created: 1
}
