package middlewaretest_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
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

// An error response decodes into the errors package's type, which matches
// the ready-made errors by code.
func ExampleDecodeError() {
	w := httptest.NewRecorder()
	apierrors.Write(w, httptest.NewRequest("GET", "/", nil), apierrors.ErrRevokedAPIKey)

	e, err := middlewaretest.DecodeError(w.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Status, e.Code, e.Message)
	fmt.Println(errors.Is(e, apierrors.ErrRevokedAPIKey), errors.Is(e, apierrors.ErrExpiredAPIKey))
	// Output:
	// 401 revoked_api_key This API key has been revoked
	// true false
}
