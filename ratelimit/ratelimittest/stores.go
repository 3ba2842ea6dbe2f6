package ratelimittest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
)

// AlwaysAllow is a ratelimit.Store that allows every valid request. Its
// decisions describe buckets that are full before every request: each limit
// has its capacity minus the cost remaining (never below 0) and is full
// again once the cost has refilled. Like any Store, it rejects an invalid
// policy or a cost below 1 with an error wrapping ratelimit.ErrInvalidLimit
// or ratelimit.ErrInvalidCost. The zero value is ready to use.
type AlwaysAllow struct{}

// Take implements ratelimit.Store.
func (AlwaysAllow) Take(_ context.Context, _ string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
	if err := validate(p, n); err != nil {
		return ratelimit.Decision{}, err
	}
	states := make([]ratelimit.LimitState, len(p))
	for i, l := range p {
		c := l.Capacity()
		states[i] = ratelimit.LimitState{Limit: l, Remaining: max(c-n, 0), ResetAfter: refill(l, min(n, c))}
	}
	return ratelimit.NewDecision(true, states), nil
}

// AlwaysDeny is a ratelimit.Store that rejects every valid request, as if
// every bucket were empty: Remaining is 0 and each limit is full again
// after its whole capacity has refilled (or after RetryAfter, if that is
// longer). Like any Store, it rejects an invalid policy or a cost below 1
// with an error wrapping ratelimit.ErrInvalidLimit or
// ratelimit.ErrInvalidCost. The zero value is ready to use.
type AlwaysDeny struct {
	// RetryAfter is the Decision's RetryAfter, which middleware.RateLimiter
	// sends as the Retry-After header, rounded up to whole seconds. Zero
	// means what an empty bucket would say: the time the slowest limit takes
	// to refill the request's cost (ratelimit.Never if the cost exceeds a
	// limit's capacity).
	RetryAfter time.Duration
}

// Take implements ratelimit.Store.
func (d AlwaysDeny) Take(_ context.Context, _ string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
	if err := validate(p, n); err != nil {
		return ratelimit.Decision{}, err
	}
	states := make([]ratelimit.LimitState, len(p))
	for i, l := range p {
		r := d.RetryAfter
		if r <= 0 {
			r = ratelimit.Never
			if n <= l.Capacity() {
				r = refill(l, n)
			}
		}
		states[i] = ratelimit.LimitState{Limit: l, RetryAfter: r, ResetAfter: max(r, refill(l, l.Capacity()))}
	}
	return ratelimit.NewDecision(false, states), nil
}

// Failing is a ratelimit.Store whose every Take fails, as a store whose
// backend is down does: middleware.RateLimiter then lets requests through,
// or answers 503 if FailClosed is set. The zero value is ready to use.
type Failing struct {
	// Err is the error Take returns. Nil means ratelimit.ErrUnavailable,
	// what a real store's outage wraps.
	Err error
}

// Take implements ratelimit.Store.
func (f Failing) Take(context.Context, string, ratelimit.Policy, int) (ratelimit.Decision, error) {
	if f.Err == nil {
		return ratelimit.Decision{}, ratelimit.ErrUnavailable
	}
	return ratelimit.Decision{}, f.Err
}

// Call is one Take seen by a Recorder.
type Call struct {
	Key      string             // the bucket key
	Policy   ratelimit.Policy   // a copy of the policy passed
	Cost     int                // the n passed to Take
	Decision ratelimit.Decision // what the wrapped Store decided
	Err      error              // what the wrapped Store returned
}

// Recorder is a ratelimit.Store that passes every Take to Store and
// records it, to check which keys a service limits and at what cost. It is
// safe for concurrent use. The zero value records calls to AlwaysAllow.
type Recorder struct {
	// Store decides. Nil means AlwaysAllow{}. Set it before the first Take.
	Store ratelimit.Store

	mu    sync.Mutex
	calls []Call
}

// Take implements ratelimit.Store: it calls r.Store and records the call.
func (r *Recorder) Take(ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
	s := r.Store
	if s == nil {
		s = AlwaysAllow{}
	}
	d, err := s.Take(ctx, key, p, n)
	c := Call{Key: key, Policy: slices.Clone(p), Cost: n, Decision: d, Err: err}
	c.Decision.States = slices.Clone(d.States)
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return d, err
}

// Calls returns the calls recorded so far, in the order they finished.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Reset forgets the calls recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
}

// validate checks Take's arguments as the ratelimit package's stores do.
func validate(p ratelimit.Policy, n int) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("ratelimittest: %w", err)
	}
	if n < 1 {
		return fmt.Errorf("ratelimittest: %w: n = %d, want at least 1", ratelimit.ErrInvalidCost, n)
	}
	return nil
}

// refill returns the time l takes to refill k tokens, rounded up to the
// nanosecond.
func refill(l ratelimit.Limit, k int) time.Duration {
	if k <= 0 {
		return 0
	}
	d := math.Ceil(float64(k) * float64(l.Window) / float64(l.Requests))
	if d >= float64(ratelimit.Never) {
		return ratelimit.Never
	}
	return time.Duration(d)
}
