// Command quickstart is the README's quick start: an existing handler
// wrapped with gatekey's authentication, rate limiting and JSON errors.
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
	apierrors "github.com/gatekey/gatekey/errors"
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
	handler := middleware.Chain(
		middleware.Recover, // panics become JSON 500s
		middleware.RequestID,
		(&middleware.Authenticator{Verifier: keys}).Handler,                                // 401s, 503s
		(&middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("100/minute")}).Handler, // 429s
	)(apierrors.Mux(mux)) // JSON 404 and 405

	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: handler,
		ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 16 << 10}
	log.Fatal(srv.ListenAndServe())
}
