package middlewaretest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/middleware/middlewaretest"
)

// A handler is tested in isolation: the request carries a key record as if
// the Authenticator had verified it, with no key store and no credentials.
// The record can be written by hand, or minted with apikeytest.
func ExampleWithKey() {
	// The handler under test reads the caller's key, as handlers behind
	// middleware.Authenticator do.
	listMonitors := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := middleware.KeyFromContext(r.Context())
		fmt.Fprintf(w, "monitors of %s\n", key.Owner)
	})
	createMonitor := middleware.RequireWrite(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	key := &apikey.Key{ID: "0123456789ab", Type: apikey.SecretKey, Environment: apikey.Live,
		Permission: apikey.ReadOnly, Owner: "acct_42"}

	w := httptest.NewRecorder()
	listMonitors.ServeHTTP(w, middlewaretest.WithKey(httptest.NewRequest("GET", "/v1/monitors", nil), key))
	fmt.Print(w.Code, " ", w.Body)

	w = httptest.NewRecorder()
	createMonitor.ServeHTTP(w, middlewaretest.WithKey(httptest.NewRequest("POST", "/v1/monitors", nil), key))
	fmt.Println(w.Code)
	// Output:
	// 200 monitors of acct_42
	// 403
}

// A router adapter proves itself against the Gate's table. Here the
// router is a ServeMux, which needs no adapter; examples/chi does the
// same for chi.
func ExampleTestRouter() {
	newRouter := func(routes []middlewaretest.Route) middleware.Router {
		mux := http.NewServeMux()
		for _, rt := range routes {
			pattern := rt.Pattern
			if rt.Method != "" {
				pattern = rt.Method + " " + pattern
			}
			mux.Handle(pattern, rt.Handler)
		}
		return mux
	}
	fmt.Println(middlewaretest.TestRouter(newRouter))
	// Output:
	// <nil>
}
