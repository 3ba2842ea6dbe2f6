package apikeytest_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/apikeytest"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

// newService builds the service under test as its main function would,
// except that keys come from the Env's Manager and the rate limiter runs on
// the Env's fake clock: the Gate, with 5 requests a minute per key, in
// front of the routes, where creating a monitor needs a key that may write.
func newService(env *apikeytest.Env) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/monitors", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"data":[]}`)
	})
	mux.Handle("POST /v1/monitors", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	gate := &middleware.Gate{
		Auth: middleware.Authenticator{Verifier: env.Manager},
		RateLimit: &middleware.RateLimiter{
			Policy: ratelimit.MustParsePolicy("5/minute"),
			Store:  ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: env.Clock.Now}),
		},
	}
	return gate.Handler(mux)
}

// send serves one request presenting key and returns the response.
func send(h http.Handler, method, path string, key apikey.Token) *http.Response {
	r := httptest.NewRequest(method, path, nil)
	r.Header.Set("Authorization", "Bearer "+key.Reveal())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// printError prints a response's status and its error body, decoded into
// an *apierrors.Error.
func printError(res *http.Response) *apierrors.Error {
	e, err := apierrors.Decode(res.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.StatusCode, e.Code, e.Message)
	return e
}

// A read-only key may read but gets 403 insufficient_permissions on a
// write. (In a test, use apikeytest.New(t, …), which also closes the Env.)
func ExampleEnv_MintReadOnly() {
	env, err := apikeytest.NewEnv(apikeytest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close()
	service := newService(env)

	key, rec := env.MintReadOnly()
	fmt.Println(rec.Type, rec.Permission)

	fmt.Println(send(service, "GET", "/v1/monitors", key).StatusCode)
	e := printError(send(service, "POST", "/v1/monitors", key))
	fmt.Println(errors.Is(e, apierrors.CodeInsufficientPermissions))
	// Output:
	// secret read_only
	// 200
	// 403 insufficient_permissions This API key does not have permission to perform this request
	// true
}

// A revoked key gets 401 revoked_api_key, with a WWW-Authenticate challenge.
func ExampleEnv_Revoke() {
	env, err := apikeytest.NewEnv(apikeytest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close()
	service := newService(env)

	key, rec := env.MintSecret()
	fmt.Println(send(service, "POST", "/v1/monitors", key).StatusCode)

	env.Revoke(rec.ID)
	res := send(service, "POST", "/v1/monitors", key)
	e := printError(res)
	fmt.Println(errors.Is(e, apierrors.CodeRevokedAPIKey), res.Header.Get("WWW-Authenticate") != "")
	// Output:
	// 201
	// 401 revoked_api_key This API key has been revoked
	// true true
}

// With a limit of 5 requests a minute, the 6th request in a row gets 429
// with Retry-After; once the fake clock has moved on by that much, the next
// request passes. Nothing sleeps.
func ExampleClock() {
	env, err := apikeytest.NewEnv(apikeytest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close()
	service := newService(env)
	key, _ := env.MintSecret()

	var statuses []int
	for range 5 {
		statuses = append(statuses, send(service, "GET", "/v1/monitors", key).StatusCode)
	}
	fmt.Println(statuses)
	res := send(service, "GET", "/v1/monitors", key)
	printError(res)
	fmt.Println("Retry-After:", res.Header.Get("Retry-After"))

	env.Clock.Advance(12 * time.Second)
	fmt.Println(send(service, "GET", "/v1/monitors", key).StatusCode)
	// Output:
	// [200 200 200 200 200]
	// 429 rate_limit_exceeded Rate limit exceeded
	// Retry-After: 12
	// 200
}

// A key minted with an expiry works until the fake clock reaches it.
func ExampleEnv_Mint() {
	env, err := apikeytest.NewEnv(apikeytest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close()
	service := newService(env)

	key, rec := env.Mint(apikey.CreateParams{
		Name:        "nightly export",
		Environment: apikey.Test,
		Permission:  apikey.ReadWrite,
		Scopes:      []string{"exports:write"},
		ExpiresAt:   env.Clock.Now().Add(time.Hour),
	})
	fmt.Println(rec.Name, rec.Type, rec.Environment, rec.Permission, rec.Scopes)
	fmt.Println(send(service, "GET", "/v1/monitors", key).StatusCode)

	env.Clock.Advance(time.Hour)
	printError(send(service, "GET", "/v1/monitors", key))
	// Output:
	// nightly export secret test read_write [exports:write]
	// 200
	// 401 expired_api_key This API key has expired
}

// Keys are deterministic: the same Seed and the same sequence of Mint calls
// give the same keys and records on every run, for golden files. A Token
// prints only its redacted form.
func ExampleNewEnv() {
	mint := func(seed uint64) (apikey.Token, *apikey.Key) {
		env, err := apikeytest.NewEnv(apikeytest.Config{Seed: seed})
		if err != nil {
			log.Fatal(err)
		}
		defer env.Close()
		return env.MintPublishable("monitors:read")
	}
	a, rec := mint(1)
	b, _ := mint(1)
	c, _ := mint(2)
	fmt.Println(a)
	fmt.Println(rec.ID, rec.Permission, rec.CreatedAt.Format(time.RFC3339))
	fmt.Println(a.Reveal() == b.Reveal(), a.Reveal() == c.Reveal())
	// Output:
	// pk_live_iiw1H3lRmyFr…
	// iiw1H3lRmyFr read_only 2030-01-01T00:00:00Z
	// true false
}
