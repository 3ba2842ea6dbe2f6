package ratelimit_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
)

// TestMemoryPerKey: a million distinct keys each make one request; after the
// refill time, sweeping returns the store to empty. It logs the heap bytes
// per tracked key, and fails above 110 (about 84 with 24-byte buckets held
// by value; 118 as *rate.Limiters).
func TestMemoryPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("1M keys")
	}
	const n = 1_000_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "key_" + strconv.Itoa(i)
	}
	c := newClock()
	p := ratelimit.Policy{ratelimit.PerMinute(100)}
	ctx := context.Background()

	before := heap()
	s := newStore(c, ratelimit.MemoryConfig{MaxBuckets: 2 << 20})
	for _, k := range keys {
		if d, _ := s.Take(ctx, k, p, 1); !d.Allowed {
			t.Fatalf("%s: %+v", k, d)
		}
	}
	after := heap()
	if s.Len() != n {
		t.Fatalf("Len = %d, want %d", s.Len(), n)
	}
	perKey := float64(after-before) / n
	t.Logf("%d keys: %.1f bytes per tracked key (%.1f MB)", n, perKey, float64(after-before)/1e6)
	if perKey > 110 {
		t.Errorf("%.1f bytes per key, want at most 110", perKey)
	}

	c.Advance(time.Minute)
	dropped := s.Sweep()
	released := heap()
	t.Logf("after the refill time: Sweep dropped %d, Len %d, heap above baseline %.1f MB", dropped, s.Len(), float64(released-before)/1e6)
	if s.Len() != 0 {
		t.Errorf("Len = %d after Sweep, want 0", s.Len())
	}
	if perKeyLeft := float64(released-before) / n; perKeyLeft > 10 {
		t.Errorf("%.1f bytes per dropped key still in use", perKeyLeft)
	}
	runtime.KeepAlive(keys)
	runtime.KeepAlive(s)
}

func heap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

var (
	unlimited = ratelimit.Policy{{Requests: ratelimit.MaxTokens, Window: time.Second}}
	perMinute = ratelimit.Policy{ratelimit.PerMinute(100)}
	twoLimits = ratelimit.Policy{{Requests: ratelimit.MaxTokens, Window: time.Second}, {Requests: ratelimit.MaxTokens, Window: 24 * time.Hour}}
)

func benchTake(b *testing.B, s *ratelimit.MemoryStore, p ratelimit.Policy, key func(i int) string, wantAllowed bool) {
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d, err := s.Take(ctx, key(i), p, 1)
		if err != nil || d.Allowed != wantAllowed {
			b.Fatalf("%+v %v", d, err)
		}
		i++
	}
}

func benchTakeParallel(b *testing.B, s *ratelimit.MemoryStore, p ratelimit.Policy, key func(i int) string, wantAllowed bool) {
	ctx := context.Background()
	b.ReportAllocs()
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) << 20
		for pb.Next() {
			d, err := s.Take(ctx, key(i), p, 1)
			if err != nil || d.Allowed != wantAllowed {
				b.Errorf("%+v %v", d, err)
				return
			}
			i++
		}
	})
}

func hot(int) string { return "key_0123456789ab" }

func keys(n int) func(int) string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = "key_" + strconv.Itoa(i)
	}
	return func(i int) string { return ks[i%n] }
}

func BenchmarkTake(b *testing.B) {
	fixed := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	fixedClock := ratelimit.MemoryConfig{Now: func() time.Time { return fixed }}
	denyStore := func() *ratelimit.MemoryStore {
		s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
		s.Take(context.Background(), hot(0), ratelimit.Policy{ratelimit.PerDay(1)}, 1)
		return s
	}
	k10k := keys(10_000)

	b.Run("HotAllowed", func(b *testing.B) {
		benchTake(b, ratelimit.NewMemoryStore(ratelimit.MemoryConfig{}), unlimited, hot, true)
	})
	b.Run("HotAllowed/FixedClock", func(b *testing.B) { benchTake(b, ratelimit.NewMemoryStore(fixedClock), unlimited, hot, true) })
	b.Run("HotAllowed/TwoLimits", func(b *testing.B) {
		benchTake(b, ratelimit.NewMemoryStore(ratelimit.MemoryConfig{}), twoLimits, hot, true)
	})
	b.Run("HotDenied", func(b *testing.B) { benchTake(b, denyStore(), ratelimit.Policy{ratelimit.PerDay(1)}, hot, false) })
	b.Run("Keys10k", func(b *testing.B) {
		benchTake(b, ratelimit.NewMemoryStore(ratelimit.MemoryConfig{}), unlimited, k10k, true)
	})
	b.Run("NewKeys1M", func(b *testing.B) { benchNewKeys(b, false) })

	b.Run("Parallel/HotAllowed", func(b *testing.B) {
		benchTakeParallel(b, ratelimit.NewMemoryStore(ratelimit.MemoryConfig{}), unlimited, hot, true)
	})
	b.Run("Parallel/HotDenied", func(b *testing.B) {
		benchTakeParallel(b, denyStore(), ratelimit.Policy{ratelimit.PerDay(1)}, hot, false)
	})
	b.Run("Parallel/Keys10k", func(b *testing.B) {
		benchTakeParallel(b, ratelimit.NewMemoryStore(ratelimit.MemoryConfig{}), unlimited, k10k, true)
	})
	b.Run("Parallel/NewKeys1M", func(b *testing.B) { benchNewKeys(b, true) })
}

// benchNewKeys makes one request for each of up to 1M distinct keys (cycling
// through fresh stores) and reports the heap bytes per tracked key.
func benchNewKeys(b *testing.B, parallel bool) {
	const n = 1_000_000
	k := keys(n)
	var s *ratelimit.MemoryStore
	var next atomic.Int64
	fresh := func() { s = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxBuckets: 2 << 20}); next.Store(0) }
	fresh()
	b.ReportAllocs()
	ctx := context.Background()
	if !parallel {
		for b.Loop() {
			i := int(next.Add(1))
			if i > n {
				b.StopTimer()
				fresh()
				b.StartTimer()
				i = int(next.Add(1))
			}
			s.Take(ctx, k(i-1), perMinute, 1)
		}
	} else {
		// Keys beyond n are reused (allowed again: 100/minute), so no
		// reset is needed under parallel load.
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Take(ctx, k(int(next.Add(1))), perMinute, 1)
			}
		})
	}
	b.StopTimer()
	if l := s.Len(); l >= 100_000 {
		with := heap()
		s = nil
		without := heap()
		b.ReportMetric(float64(int64(with)-int64(without))/float64(l), "B/key")
	}
}
