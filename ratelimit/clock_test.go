package ratelimit_test

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
)

// The tests of the per-shard clock watermark (clock.go).

// TestClockBackwards checks that a clock going backwards never refills a
// bucket twice (golang/go#71360).
func TestClockBackwards(t *testing.T) {
	c := newClock()
	s := newStore(c, ratelimit.MemoryConfig{})
	p := ratelimit.Policy{ratelimit.PerMinute(10)}
	take(t, s, "k", p, 10)
	c.Advance(time.Minute)
	if d := take(t, s, "k", p, 10); !d.Allowed {
		t.Fatalf("%+v", d)
	}
	c.Advance(-30 * time.Second)
	if d := take(t, s, "k", p, 1); d.Allowed {
		t.Fatalf("clock went back 30s: %+v, want rejected", d)
	}
	c.Advance(30 * time.Second)
	if d := take(t, s, "k", p, 1); d.Allowed || d.RetryAfter != 6*time.Second {
		t.Fatalf("clock back where it was: %+v, want rejected for 6s", d)
	}
}

// TestOutOfOrderTimestamps reproduces golang/go#71360: concurrent callers
// stamping requests before they reach the bucket. Over a 10s span at 1/s
// with burst 10, at most 20 requests may pass.
func TestOutOfOrderTimestamps(t *testing.T) {
	p := ratelimit.Policy{ratelimit.PerSecond(1).WithBurst(10)}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for round := range 20 {
		s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(round), uint64(g)))
				for range 50 {
					at := t0.Add(time.Duration(rng.Int64N(int64(10 * time.Second))))
					d, _ := s.TakeAt(at, "k", p, 1)
					if d.Allowed {
						allowed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if got := allowed.Load(); got > 20 {
			t.Fatalf("round %d: %d allowed, want at most 20", round, got)
		}
	}
}
