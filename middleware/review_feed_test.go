package middleware_test

// Reviewer's tests: refusals for want of look-up slots (ErrTooManyLookups)
// counted by the AuthThrottle, and the fail-open Fallback.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

func reviewRequest(h http.Handler, addr, key string) int {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = addr
	r.Header.Set("Authorization", "Bearer "+key)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// busyAlways refuses every key for want of slots.
type busyAlways struct{}

func (busyAlways) Verify(context.Context, string) (*apikey.Key, error) {
	return nil, apikey.ErrTooManyLookups
}

// TestReviewSlotRefusalWithoutThrottle: no Throttle, no panic: 503 with
// Retry-After.
func TestReviewSlotRefusalWithoutThrottle(t *testing.T) {
	f := newFixture(t)
	h := quietWriter((&middleware.Authenticator{Verifier: busyAlways{}, Logger: discardLogger()}).Handler(&okHandler{}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+f.keys["secret"])
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("slot refusal without a throttle: %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
}

// TestReviewSlotRefusalIPv6: refusals from addresses rotating within one
// /64 are one count; another /64 is not blocked by them.
func TestReviewSlotRefusalIPv6(t *testing.T) {
	f := newFixture(t)
	throttle := &middleware.AuthThrottle{
		Limit: ratelimit.MustParsePolicy("3/minute")[0],
		Store: ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: f.clock.Now}),
		Now:   f.clock.Now,
	}
	h := quietWriter((&middleware.Authenticator{Verifier: busyAlways{}, Throttle: throttle, Logger: discardLogger()}).Handler(&okHandler{}))
	var codes []int
	for _, a := range []string{"[2001:db8:1:2::1]:1", "[2001:db8:1:2::2]:1", "[2001:db8:1:2:ffff::3]:1", "[2001:db8:1:2::4]:1"} {
		codes = append(codes, reviewRequest(h, a, f.keys["secret"]))
	}
	if codes[3] != 429 {
		t.Errorf("one /64 rotating addresses: %v, want the 4th 429", codes)
	}
	if code := reviewRequest(h, "[2001:db8:1:3::1]:1", f.keys["secret"]); code != 503 {
		t.Errorf("another /64: %d, want 503 (not blocked)", code)
	}
	if code := reviewRequest(h, "[::ffff:192.0.2.1]:1", f.keys["secret"]); code != 503 {
		t.Errorf("a v4-mapped address: %d, want 503", code)
	}
}

type reviewDownStore struct{}

func (reviewDownStore) Take(context.Context, string, ratelimit.Policy, int) (ratelimit.Decision, error) {
	return ratelimit.Decision{}, errors.New("store down")
}

// TestReviewFallbackKeepsPolicy: failing open still applies the policy,
// per key, with headers; failing closed answers 503.
func TestReviewFallbackKeepsPolicy(t *testing.T) {
	f := newFixture(t)
	for _, closed := range []bool{false, true} {
		rl := &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("2/minute"), Store: reviewDownStore{}, FailClosed: closed, Logger: discardLogger()}
		if !closed {
			rl.Fallback = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: f.clock.Now})
		}
		auth := &middleware.Authenticator{Verifier: f.mgr, Logger: discardLogger()}
		h := quietWriter(auth.Handler(rl.Handler(&okHandler{})))
		var codes []int
		for _, k := range []string{"secret", "secret", "secret", "secret-ro"} {
			codes = append(codes, reviewRequest(h, "192.0.2.1:1", f.keys[k]))
		}
		want := []int{200, 200, 429, 200}
		if closed {
			want = []int{503, 503, 503, 503}
		}
		for i := range want {
			if codes[i] != want[i] {
				t.Errorf("FailClosed=%v: %v, want %v", closed, codes, want)
				break
			}
		}
	}
}
