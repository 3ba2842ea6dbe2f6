package ratelimittest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gatekey/gatekey/apikey/apikeytest"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
	"github.com/gatekey/gatekey/ratelimit/ratelimittest"
)

// get sends a request to h and prints the status and the rate-limit headers.
func get(h http.Handler) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/monitors", nil))
	fmt.Printf("%d RateLimit: %s Retry-After: %q\n", w.Code, w.Header().Get("RateLimit"), w.Header().Get("Retry-After"))
}

// A store that rejects everything tests how a service answers 429, without
// first spending a bucket.
func ExampleAlwaysDeny() {
	limit := &middleware.RateLimiter{
		Policy: ratelimit.MustParsePolicy("100/minute"),
		Store:  ratelimittest.AlwaysDeny{RetryAfter: 30 * time.Second},
	}
	get(limit.Handler(http.NotFoundHandler()))
	// Output:
	// 429 RateLimit: "100-per-minute";r=0;t=60 Retry-After: "30"
}

// The real store on a fake clock: the bucket refills only when the test
// advances the clock. An apikeytest.Clock can also drive key expiry.
func Example_fakeClock() {
	clock := apikeytest.NewClock(time.Time{})
	limit := &middleware.RateLimiter{
		Policy: ratelimit.MustParsePolicy("2/minute"),
		Store:  ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: clock.Now}),
	}
	h := limit.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	get(h)
	get(h)
	get(h)
	clock.Advance(30 * time.Second)
	get(h)
	// Output:
	// 200 RateLimit: "2-per-minute";r=1;t=30 Retry-After: ""
	// 200 RateLimit: "2-per-minute";r=0;t=60 Retry-After: ""
	// 429 RateLimit: "2-per-minute";r=0;t=60 Retry-After: "30"
	// 200 RateLimit: "2-per-minute";r=0;t=60 Retry-After: ""
}

// A Recorder shows which bucket keys a service limits, and at what cost.
func ExampleRecorder() {
	rec := &ratelimittest.Recorder{}
	limit := &middleware.RateLimiter{
		Policy: ratelimit.MustParsePolicy("100/minute"),
		Store:  rec,
		Key:    func(r *http.Request) string { return "tenant:" + r.Header.Get("X-Tenant") },
		Cost:   func(r *http.Request) int { return 5 },
	}
	r := httptest.NewRequest("GET", "/v1/reports", nil)
	r.Header.Set("X-Tenant", "acme")
	limit.Handler(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), r)

	for _, c := range rec.Calls() {
		fmt.Println(c.Key, c.Policy, c.Cost, c.Decision.Allowed, c.Decision.Remaining)
	}
	// Output:
	// tenant:acme 100/minute 5 true 95
}
