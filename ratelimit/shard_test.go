package ratelimit_test

import (
	"fmt"
	"testing"

	"github.com/gatekey/gatekey/ratelimit"
)

// The tests of sharding and of the MaxBuckets cap (shard.go).

func TestCap(t *testing.T) {
	c := newClock()
	s := newStore(c, ratelimit.MemoryConfig{MaxBuckets: 64, Shards: 1})
	p := ratelimit.Policy{ratelimit.PerMinute(10)}
	// Ten heavy users, nearly out of tokens.
	for i := range 10 {
		take(t, s, fmt.Sprint("heavy-", i), p, 9)
	}
	// A flood of new keys, each nearly full after one request.
	for i := range 10000 {
		take(t, s, fmt.Sprint("flood-", i), p, 1)
	}
	if s.Len() > 64 {
		t.Fatalf("Len = %d above MaxBuckets 64", s.Len())
	}
	if s.Evictions() < 10000-64 {
		t.Fatalf("Evictions = %d", s.Evictions())
	}
	// The heavy users kept their state.
	for i := range 10 {
		key := fmt.Sprint("heavy-", i)
		if d := take(t, s, key, p, 1); !d.Allowed || d.Remaining != 0 {
			t.Errorf("%s: %+v, want allowed with 0 left", key, d)
		}
		if d := take(t, s, key, p, 1); d.Allowed {
			t.Errorf("%s: %+v, want rejected (its bucket was evicted)", key, d)
		}
	}
}

func TestShardDefaults(t *testing.T) {
	// Tiny caps reduce the shard count so that the cap still holds.
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxBuckets: 3, Shards: 1000})
	p := ratelimit.Policy{ratelimit.PerDay(10)}
	for i := range 100 {
		take(t, s, fmt.Sprint(i), p, 1)
	}
	if n := s.Len(); n > 3 {
		t.Fatalf("Len = %d, above MaxBuckets 3", n)
	}
}

// TestCapMultiLimit: at the cap, making room for one limit's bucket never
// evicts the bucket just created for another limit of the same request.
func TestCapMultiLimit(t *testing.T) {
	c := newClock()
	s := newStore(c, ratelimit.MemoryConfig{MaxBuckets: 4, Shards: 1})
	p := ratelimit.MustParsePolicy("10/minute,100/day")
	for i := range 100 {
		key := fmt.Sprint("k", i)
		take(t, s, key, p, 1)
		if d := take(t, s, key, p, 1); d.States[0].Remaining != 8 || d.States[1].Remaining != 98 {
			t.Fatalf("%s: second request %+v, want 8 and 98 left", key, d.States)
		}
		if s.Len() > 4 {
			t.Fatalf("Len = %d above MaxBuckets 4", s.Len())
		}
	}
}
