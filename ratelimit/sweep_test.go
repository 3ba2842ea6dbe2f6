package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
)

// The tests of dropping full buckets (sweep.go).

func TestDropFullBuckets(t *testing.T) {
	c := newClock()
	s := newStore(c, ratelimit.MemoryConfig{Shards: 1})
	p := ratelimit.Policy{ratelimit.PerDay(10)}
	for i := range 1000 {
		take(t, s, fmt.Sprint("old-", i), p, 1)
	}
	if s.Len() != 1000 {
		t.Fatalf("Len = %d, want 1000", s.Len())
	}
	c.Advance(24*time.Hour/10 - 1) // one nanosecond short of refilled
	if n := s.Sweep(); n != 0 {
		t.Fatalf("Sweep dropped %d buckets that are not yet full", n)
	}
	c.Advance(1)
	// No explicit Sweep: new buckets trigger sweeps as the shard grows.
	for i := range 3000 {
		take(t, s, fmt.Sprint("new-", i), p, 1)
	}
	if s.Len() != 3000 {
		t.Fatalf("Len = %d, want 3000: the refilled buckets should have been swept", s.Len())
	}
	// Periodic samples drop refilled buckets with no new keys at all.
	c.Advance(24 * time.Hour)
	for range 3000 * 64 / 4 * 3 {
		take(t, s, "hot", p, 1)
		c.Advance(time.Millisecond)
	}
	if n := s.Len(); n > 100 {
		t.Errorf("Len = %d after many operations on one key; samples should have dropped most full buckets", n)
	}
	c.Advance(24 * time.Hour)
	s.Sweep()
	if s.Len() != 0 {
		t.Fatalf("Len = %d after Sweep, want 0", s.Len())
	}
}
