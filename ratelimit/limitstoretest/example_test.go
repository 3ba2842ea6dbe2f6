package limitstoretest_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
	"github.com/gatekey/gatekey/ratelimit/limitstoretest"
)

// toyStore is a small but complete ratelimit.Store: token buckets in a map
// under one lock, on the system clock. (A real store would also drop full
// buckets, which are indistinguishable from missing ones.)
type toyStore struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64   // as of at
	at     time.Time // when tokens were counted
}

// Take implements ratelimit.Store.
func (s *toyStore) Take(_ context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
	if err := p.Validate(); err != nil {
		return ratelimit.Decision{}, fmt.Errorf("toystore: %w", err)
	}
	if n < 1 {
		return ratelimit.Decision{}, fmt.Errorf("toystore: %w: n = %d", ratelimit.ErrInvalidCost, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets == nil {
		s.buckets = make(map[string]*bucket)
	}
	now := time.Now()

	// Refill every limit's bucket, and allow the request only if each has
	// room. A bucket is named by the limit's position and parameters, so a
	// changed limit starts from a full bucket of its own.
	buckets := make([]*bucket, len(p))
	allowed := true
	for i, l := range p {
		name := fmt.Sprintf("%s/%d/%d/%d/%d", key, i, l.Requests, l.Window, l.Capacity())
		b := s.buckets[name]
		if b == nil {
			b = &bucket{tokens: float64(l.Capacity()), at: now}
			s.buckets[name] = b
		}
		b.tokens = min(float64(l.Capacity()), b.tokens+now.Sub(b.at).Seconds()*float64(l.Rate()))
		b.at = now
		buckets[i] = b
		allowed = allowed && b.tokens >= float64(n)
	}

	// Take from all or none, and describe each limit; NewDecision picks
	// the tightest.
	states := make([]ratelimit.LimitState, len(p))
	for i, l := range p {
		b := buckets[i]
		if allowed {
			b.tokens -= float64(n)
		}
		st := ratelimit.LimitState{Limit: l, Remaining: int(b.tokens), ResetAfter: refill(l, float64(l.Capacity())-b.tokens)}
		if b.tokens < float64(n) && !allowed {
			st.RetryAfter = ratelimit.Never
			if n <= l.Capacity() {
				st.RetryAfter = refill(l, float64(n)-b.tokens)
			}
		}
		states[i] = st
	}
	return ratelimit.NewDecision(allowed, states), nil
}

// refill returns the time l takes to refill k tokens, rounded up.
func refill(l ratelimit.Limit, k float64) time.Duration {
	if k <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(k * float64(l.Window) / float64(l.Requests)))
}

// A store's author checks it against the contract with one call. In a test,
// limitstoretest.Run does the same with a subtest per rule.
func ExampleTestStore() {
	err := limitstoretest.TestStore(context.Background(), func() (ratelimit.Store, error) { return new(toyStore), nil })
	fmt.Println(err)
	// Output:
	// <nil>
}
