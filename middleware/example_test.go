package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

// newExampleKeys returns a Manager over an in-memory store with a
// read-write secret key, a read-only secret key and a publishable key. A
// real service passes its own apikey.ManagedStore (SQL, Redis, …).
func newExampleKeys() (mgr *apikey.Manager, readWrite, readOnly, publishable string) {
	mgr, err := apikey.NewManager(&apikey.MemoryStore{}, apikey.ManagerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	create := func(p apikey.CreateParams) string {
		tok, _, err := mgr.Create(context.Background(), p)
		if err != nil {
			log.Fatal(err)
		}
		return tok.Reveal()
	}
	readWrite = create(apikey.CreateParams{Name: "server", Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite})
	readOnly = create(apikey.CreateParams{Name: "dashboard", Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadOnly})
	publishable = create(apikey.CreateParams{Name: "web app", Type: apikey.PublishableKey, Environment: apikey.Live})
	return mgr, readWrite, readOnly, publishable
}

// do sends one request to h and prints the status and error code.
func do(h http.Handler, method, path, key string) {
	r := httptest.NewRequest(method, path, nil)
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if i := strings.Index(w.Body.String(), `"code":"`); i >= 0 {
		fmt.Println(method, path, w.Code, strings.SplitN(w.Body.String()[i+8:], `"`, 2)[0])
		return
	}
	fmt.Println(method, path, w.Code)
}

// The Gate is the front door: every part, in the right order, in front of
// a router. Unauthenticated callers get 401 whatever the path, so they
// learn nothing of the routes; a read-only key gets 405 on a path without
// that method and 403 on a write route; a public route needs no key.
func ExampleGate() {
	mgr, readWrite, readOnly, publishable := newExampleKeys()
	defer mgr.Close()

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", ok)
	mux.Handle("GET /v1/monitors", ok)
	mux.Handle("POST /v1/monitors", ok) // the Gate lets only keys that may write use POST
	mux.Handle("POST /v1/keys", middleware.RequireSecret(ok))

	gate := &middleware.Gate{
		Auth:      middleware.Authenticator{Verifier: mgr},
		RateLimit: &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("100/minute")},
		Public:    []string{"GET /healthz"},
	}
	handler := gate.Handler(mux)

	do(handler, "GET", "/healthz", "")
	do(handler, "GET", "/v1/monitors", "")
	do(handler, "GET", "/v1/elsewhere", "")
	do(handler, "GET", "/v1/elsewhere", readOnly)
	do(handler, "DELETE", "/v1/monitors", readOnly)
	do(handler, "POST", "/v1/monitors", readOnly)
	do(handler, "POST", "/v1/monitors", readWrite)
	do(handler, "POST", "/v1/keys", publishable)
	// Output:
	// GET /healthz 200
	// GET /v1/monitors 401 missing_api_key
	// GET /v1/elsewhere 401 missing_api_key
	// GET /v1/elsewhere 404 not_found
	// DELETE /v1/monitors 405 method_not_allowed
	// POST /v1/monitors 403 insufficient_permissions
	// POST /v1/monitors 200
	// POST /v1/keys 403 secret_key_required
}

// The Authenticator on its own: every request needs a valid key, and a
// CORS preflight is no exception without a CORS part in front.
func ExampleAuthenticator() {
	mgr, key, _, _ := newExampleKeys()
	defer mgr.Close()

	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	handler := (&middleware.Authenticator{Verifier: mgr}).Handler(me)

	do(handler, "GET", "/v1/me", key)
	do(handler, "GET", "/v1/me", "")
	do(handler, "GET", "/v1/me", "sk_live_not-a-real-key")
	do(handler, "OPTIONS", "/v1/me", "")
	// Output:
	// GET /v1/me 200
	// GET /v1/me 401 missing_api_key
	// GET /v1/me 401 invalid_api_key
	// OPTIONS /v1/me 401 missing_api_key
}

// Authenticate is the Authenticator's decision without HTTP around it.
func ExampleAuthenticator_Authenticate() {
	mgr, key, _, _ := newExampleKeys()
	defer mgr.Close()
	auth := &middleware.Authenticator{Verifier: mgr}

	r := httptest.NewRequest("GET", "/v1/me", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	k, err := auth.Authenticate(r)
	fmt.Println(k.Name, err)

	r.Header.Set("Authorization", "Bearer sk_live_not-a-real-key")
	_, err = auth.Authenticate(r)
	fmt.Println(errors.Is(err, apierrors.CodeInvalidAPIKey))
	// Output:
	// server <nil>
	// true
}

// Read routes take any key; write routes need a read-write secret key.
// RequireWrite says so whatever the method; the Gate says so of every
// write method.
func ExampleRequireWrite() {
	mgr, readWrite, readOnly, publishable := newExampleKeys()
	defer mgr.Close()

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("GET /v1/monitors", ok)
	mux.Handle("POST /v1/monitors/{id}/pause", middleware.RequireWrite(ok))
	handler := (&middleware.Gate{Auth: middleware.Authenticator{Verifier: mgr}}).Handler(mux)

	do(handler, "GET", "/v1/monitors", readOnly)
	do(handler, "POST", "/v1/monitors/mon_1/pause", readOnly)
	do(handler, "POST", "/v1/monitors/mon_1/pause", publishable)
	do(handler, "POST", "/v1/monitors/mon_1/pause", readWrite)
	// Output:
	// GET /v1/monitors 200
	// POST /v1/monitors/mon_1/pause 403 insufficient_permissions
	// POST /v1/monitors/mon_1/pause 403 insufficient_permissions
	// POST /v1/monitors/mon_1/pause 200
}

// List routes that expose account data take secret keys only: a
// publishable key, which may ship inside a web or mobile app, gets 403.
func ExampleRequireSecret() {
	mgr, _, readOnly, publishable := newExampleKeys()
	defer mgr.Close()

	listKeys := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("GET /v1/keys", middleware.RequireSecret(listKeys))
	handler := (&middleware.Gate{Auth: middleware.Authenticator{Verifier: mgr}}).Handler(mux)

	do(handler, "GET", "/v1/keys", readOnly)
	do(handler, "GET", "/v1/keys", publishable)
	// Output:
	// GET /v1/keys 200
	// GET /v1/keys 403 secret_key_required
}

// Handlers read the verified key's record from the request context. The
// plaintext key is never there.
func ExampleKeyFromContext() {
	mgr, key, _, _ := newExampleKeys()
	defer mgr.Close()

	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, _ := middleware.KeyFromContext(r.Context()) // always there behind the Authenticator
		fmt.Printf("name=%s type=%s environment=%s permission=%s\n", k.Name, k.Type, k.Environment, k.Permission)
	})
	handler := (&middleware.Authenticator{Verifier: mgr}).Handler(me)

	r := httptest.NewRequest("GET", "/v1/me", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	handler.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// name=server type=secret environment=live permission=read_write
}

// Limit an unauthenticated endpoint (a sign-up form, say) per client
// address. The service runs behind a load balancer at 10.0.0.0/8, whose
// X-Forwarded-For header is believed; anyone else's is ignored.
func ExampleKeyByIP() {
	proxies, err := middleware.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		log.Fatal(err)
	}
	signup := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	limiter := &middleware.RateLimiter{
		Policy: ratelimit.Policy{ratelimit.PerMinute(2)},
		Key:    middleware.KeyByIP(proxies),
	}
	handler := limiter.Handler(signup)

	send := func(peer, forwardedFor string) {
		r := httptest.NewRequest("POST", "/signup", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", forwardedFor)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		retry := w.Header().Get("Retry-After")
		if retry == "" {
			retry = "-"
		}
		fmt.Println(forwardedFor, w.Code, w.Header().Get("RateLimit"), "Retry-After:", retry)
	}
	send("10.0.0.5:4000", "203.0.113.9")
	send("10.0.0.6:4000", "203.0.113.9") // another proxy, same client
	send("10.0.0.5:4000", "203.0.113.9")
	send("10.0.0.5:4000", "198.51.100.7")
	// Output:
	// 203.0.113.9 200 "2-per-minute";r=1;t=30 Retry-After: -
	// 203.0.113.9 200 "2-per-minute";r=0;t=60 Retry-After: -
	// 203.0.113.9 429 "2-per-minute";r=0;t=60 Retry-After: 30
	// 198.51.100.7 200 "2-per-minute";r=1;t=30 Retry-After: -
}

// Each key's tier picks its limits. The policy is chosen on every request,
// so moving a key to another tier takes effect at once (within the key
// cache's TTL when the tier lives in the key record).
func ExampleRateLimiter_tiers() {
	mgr, _ := apikey.NewManager(&apikey.MemoryStore{}, apikey.ManagerConfig{})
	defer mgr.Close()
	free, _, _ := mgr.Create(context.Background(), apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live})
	pro, _, _ := mgr.Create(context.Background(), apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live, Tier: "pro"})

	tiers := map[string]ratelimit.Policy{
		"":    ratelimit.MustParsePolicy("100/minute, 10000/day"),
		"pro": ratelimit.MustParsePolicy("1000/minute, 1000000/day"),
	}
	limiter := &middleware.RateLimiter{PolicyFor: func(r *http.Request) ratelimit.Policy {
		k, _ := middleware.KeyFromContext(r.Context())
		return tiers[k.Tier]
	}}
	auth := &middleware.Authenticator{Verifier: mgr}
	handler := auth.Handler(limiter.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))

	for _, key := range []apikey.Token{free, pro} {
		r := httptest.NewRequest("GET", "/v1/monitors", nil)
		r.Header.Set("Authorization", "Bearer "+key.Reveal())
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(w.Header().Get("RateLimit-Policy"))
	}
	// Output:
	// "100-per-minute";q=100;w=60, "10000-per-day";q=10000;w=86400
	// "1000-per-minute";q=1000;w=60, "1000000-per-day";q=1000000;w=86400
}
