// Command quickstart is the README's quick start: an existing ServeMux
// behind gatekey's front door, the Gate: authentication, rate limiting,
// JSON errors, request ids and panic recovery, in the right order.
//
//	go run ./examples/quickstart
//	curl -i localhost:8080/v1/hello -H "Authorization: Bearer <the printed key>"
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

func main() {
	keys, err := apikey.NewManager(&apikey.MemoryStore{}, apikey.ManagerConfig{}) // your own Store in production
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

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/hello", func(w http.ResponseWriter, r *http.Request) {
		k, _ := middleware.KeyFromContext(r.Context())
		fmt.Fprintf(w, "hello, %s\n", k.Name)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})

	gate := &middleware.Gate{
		Auth:      middleware.Authenticator{Verifier: keys},                                 // 401s, 503s
		RateLimit: &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("100/minute")}, // 429s
		Public:    []string{"GET /healthz"},                                                 // no key needed
	} // also: JSON 404s and 405s, read-only keys kept to reads, panics as JSON 500s

	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: gate.Handler(mux),
		ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 16 << 10}
	log.Fatal(srv.ListenAndServe())
}
