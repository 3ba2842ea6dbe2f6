// Command chi is a service that routes with chi (github.com/go-chi/chi)
// behind gatekey's front door, middleware.Gate. Router, in router.go,
// adapts the chi router to middleware.Router; everything else is as with
// an http.ServeMux.
//
//	go -C examples/chi run .
//	curl -i localhost:8080/v1/monitors -H "Authorization: Bearer <the printed key>"
//
// It lives in a module of its own so that chi never enters gatekey's own
// go.mod.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

func main() {
	keys, err := apikey.NewManager(&apikey.MemoryStore{}, apikey.ManagerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	key, _, err := keys.Create(context.Background(), apikey.CreateParams{
		Name: "demo", Type: apikey.SecretKey, Environment: apikey.Test, Permission: apikey.ReadWrite})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("your key, shown once:", key.Reveal())

	gate := &middleware.Gate{
		Auth:      middleware.Authenticator{Verifier: keys, Throttle: &middleware.AuthThrottle{}},
		RateLimit: &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("100/minute")},
		CORS:      &middleware.CORS{AllowedOrigins: []string{"*"}},
		Public:    []string{"GET /healthz"},
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: gate.Handler(NewRouter(routes())),
		ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 16 << 10}
	log.Fatal(srv.ListenAndServe())
}

// routes is the service's chi router. Routes are registered as chi users
// always do; the Require wrappers go around the handlers.
func routes() chi.Router {
	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {})
	r.Get("/v1/monitors", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"data":[]}`)
	})
	r.Post("/v1/monitors", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated) // the Gate lets only keys that may write get here
	})
	r.Method("GET", "/v1/keys", middleware.RequireSecret(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"data":[]}`)
	})))
	return r
}
