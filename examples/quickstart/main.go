// Command quickstart is the README's quick start: a ServeMux wrapped with
// gatekey's Recover and RequestID middleware and JSON 404/405 errors.
//
//	go run ./examples/quickstart
//	curl -i localhost:8080/v1/monitors/mon_2
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"time"

	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
)

func main() {
	mux := http.NewServeMux()
	mux.Handle("GET /v1/monitors/{id}", apierrors.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("id") != "mon_1" {
			return apierrors.NewNotFound("No such monitor")
		}
		return json.NewEncoder(w).Encode(map[string]string{"id": "mon_1"})
	}))
	// Panics become JSON 500s, every response gets an X-Request-Id, and unknown
	// paths or wrong methods get JSON 404/405 (with Allow).
	handler := middleware.Chain(middleware.Recover, middleware.RequestID)(apierrors.Mux(mux))
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: handler,
		ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 16 << 10}
	log.Fatal(srv.ListenAndServe())
}
