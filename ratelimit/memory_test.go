package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
	"github.com/gatekey/gatekey/ratelimit/limitstoretest"
)

func TestMemoryStoreConformance(t *testing.T) {
	limitstoretest.Run(t, func(*testing.T) ratelimit.Store { return ratelimit.NewMemoryStore(ratelimit.MemoryConfig{}) })
}

func TestMemoryStoreConformanceZeroValue(t *testing.T) {
	var s ratelimit.MemoryStore // zero value, shared by the subtests
	limitstoretest.Run(t, func(*testing.T) ratelimit.Store { return &s })
}

// A store on a clock that never moves (a fake clock no test advances)
// still follows the contract.
func TestMemoryStoreConformanceFrozenClock(t *testing.T) {
	c := newClock()
	limitstoretest.Run(t, func(*testing.T) ratelimit.Store { return newStore(c, ratelimit.MemoryConfig{}) })
}

func TestBurstAndRefill(t *testing.T) {
	c := newClock()
	s := newStore(c, ratelimit.MemoryConfig{})
	p := ratelimit.Policy{ratelimit.PerMinute(10)}
	for i := range 10 {
		d := take(t, s, "k", p, 1)
		if !d.Allowed || d.Remaining != 9-i {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d := take(t, s, "k", p, 1)
	if d.Allowed || d.Remaining != 0 || d.RetryAfter != 6*time.Second || d.ResetAfter != time.Minute {
		t.Fatalf("11th request: %+v, want rejected, retry 6s, reset 1m", d)
	}
	c.Advance(6 * time.Second)
	if d := take(t, s, "k", p, 1); !d.Allowed || d.Remaining != 0 || d.ResetAfter != time.Minute {
		t.Fatalf("after 6s: %+v, want allowed with reset 1m", d)
	}
	c.Advance(30 * time.Second) // 5 tokens
	if d := take(t, s, "k", p, 5); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after 30s, cost 5: %+v", d)
	}
	c.Advance(time.Hour) // refills to 10, not beyond
	if d := take(t, s, "k", p, 11); d.Allowed || d.RetryAfter != ratelimit.Never || d.Remaining != 10 {
		t.Fatalf("cost 11 of capacity 10: %+v, want never", d)
	}
	if d := take(t, s, "k", p, 10); !d.Allowed {
		t.Fatalf("full bucket, cost 10: %+v", d)
	}
}

func TestBurstAboveRate(t *testing.T) {
	c := newClock()
	s := newStore(c, ratelimit.MemoryConfig{})
	p := ratelimit.Policy{ratelimit.PerSecond(2).WithBurst(6)}
	for i := range 6 {
		if d := take(t, s, "k", p, 1); !d.Allowed || d.Remaining != 5-i {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d := take(t, s, "k", p, 1)
	if d.Allowed || d.RetryAfter != 500*time.Millisecond || d.ResetAfter != 3*time.Second {
		t.Fatalf("%+v, want retry 500ms, reset 3s", d)
	}
}

// TestRetryAfterExact checks, for many rates, costs and histories, that a
// client waiting exactly RetryAfter succeeds and one retrying a nanosecond
// earlier does not, and that ResetAfter is the exact time to a full bucket.
func TestRetryAfterExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, l := range ratelimit.ExactnessLimits {
		t.Run(l.String(), func(t *testing.T) {
			c := newClock()
			s := newStore(c, ratelimit.MemoryConfig{})
			p := ratelimit.Policy{l}
			rejections := 0
			for i := range 300 {
				n := 1 + rng.IntN(min(l.Capacity(), 5))
				if rng.IntN(4) == 0 {
					n = l.Capacity()
				}
				d := take(t, s, "k", p, n)
				if d.Allowed {
					if rng.IntN(8) == 0 {
						checkReset(t, s, c, l, d)
					}
					if rng.IntN(3) == 0 {
						c.Advance(time.Duration(rng.Int64N(int64(l.Window / time.Duration(l.Requests) * 2))))
					}
					continue
				}
				rejections++
				if d.RetryAfter <= 0 || d.RetryAfter == ratelimit.Never {
					t.Fatalf("step %d: rejected with RetryAfter %v", i, d.RetryAfter)
				}
				// Early retries are rejected and do not move the retry time.
				waited := time.Duration(0)
				for range rng.IntN(4) {
					step := time.Duration(rng.Int64N(int64(d.RetryAfter-waited-1) + 1))
					c.Advance(step)
					waited += step
					if d2 := take(t, s, "k", p, n); d2.Allowed || d2.RetryAfter != d.RetryAfter-waited {
						t.Fatalf("step %d: early retry after %v: %+v, want rejected for %v", i, waited, d2, d.RetryAfter-waited)
					}
				}
				c.Advance(d.RetryAfter - waited - 1)
				if d2 := take(t, s, "k", p, n); d2.Allowed || d2.RetryAfter != 1 {
					t.Fatalf("step %d: cost %d, RetryAfter-1ns later: %+v, want rejected with RetryAfter 1ns (first %+v)", i, n, d2, d)
				}
				c.Advance(1)
				if d2 := take(t, s, "k", p, n); !d2.Allowed {
					t.Fatalf("step %d: cost %d, RetryAfter %v later: %+v, want allowed", i, n, d.RetryAfter, d2)
				}
			}
			if rejections < 20 {
				t.Errorf("only %d rejections: the test exercises little", rejections)
			}
		})
	}
}

// TestResetAfterExact checks through Take alone, for many rates, costs and
// histories, that Remaining and ResetAfter of an allowed request are exact:
// a request of Remaining+1 tokens is rejected at once, and one of the whole
// capacity is rejected a nanosecond before ResetAfter (with RetryAfter 1ns)
// and allowed at ResetAfter. For an allowed request the store computes
// these from its own copy of x/time/rate's arithmetic rather than by asking
// the rate.Limiter (see refillAfter), so this fails if the x/time/rate in
// go.mod counts tokens differently; TestRefillAfterMatchesLimiter says how.
func TestResetAfterExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, l := range ratelimit.ExactnessLimits {
		t.Run(l.String(), func(t *testing.T) {
			c := newClock()
			s := newStore(c, ratelimit.MemoryConfig{})
			p, size := ratelimit.Policy{l}, l.Capacity()
			checked := 0
			for i := range 300 {
				n := 1 + rng.IntN(min(size, 5))
				d := take(t, s, "k", p, n)
				if !d.Allowed {
					c.Advance(d.RetryAfter)
					continue
				}
				if d.Remaining < size {
					if d2 := take(t, s, "k", p, d.Remaining+1); d2.Allowed || d2.Remaining != d.Remaining {
						t.Fatalf("step %d: %+v, then a request for Remaining+1 tokens: %+v, want rejected with the same Remaining", i, d, d2)
					}
				}
				if rng.IntN(3) != 0 {
					c.Advance(time.Duration(rng.Int64N(int64(l.Window / time.Duration(l.Requests) * 2))))
					continue
				}
				c.Advance(d.ResetAfter - 1)
				if d2 := take(t, s, "k", p, size); d2.Allowed || d2.RetryAfter != 1 {
					t.Fatalf("step %d: %+v, then the whole bucket 1ns before ResetAfter: %+v, want rejected with RetryAfter 1ns", i, d, d2)
				}
				c.Advance(1)
				if d2 := take(t, s, "k", p, size); !d2.Allowed {
					t.Fatalf("step %d: %+v, then the whole bucket at ResetAfter: %+v, want allowed", i, d, d2)
				}
				checked++
			}
			if checked < 30 {
				t.Errorf("only %d ResetAfters checked", checked)
			}
		})
	}
}

// checkReset checks that the bucket is full after exactly d.ResetAfter and
// not a nanosecond earlier, by asking SweepAt (which drops full buckets)
// without consuming anything. It leaves the clock at the reset time.
func checkReset(t *testing.T, s *ratelimit.MemoryStore, c *clock, l ratelimit.Limit, d ratelimit.Decision) {
	t.Helper()
	now := c.Now()
	if d.ResetAfter <= 0 {
		t.Fatalf("allowed with ResetAfter %v", d.ResetAfter)
	}
	if got := s.SweepAt(now.Add(d.ResetAfter - 1)); got != 0 {
		t.Fatalf("bucket of %v full at ResetAfter-1ns (%v)", l, d.ResetAfter)
	}
	// SweepAt moved the shard's clock forward; move the fake clock too so
	// that the store and the test agree on the time.
	c.Advance(d.ResetAfter - 1)
	if got := s.SweepAt(now.Add(d.ResetAfter)); got != 1 {
		t.Fatalf("bucket of %v not full at ResetAfter (%v)", l, d.ResetAfter)
	}
	c.Advance(1)
	if s.Len() != 0 {
		t.Fatalf("Len = %d after the only bucket was dropped", s.Len())
	}
}

func TestMultiWindow(t *testing.T) {
	c := newClock()
	s := newStore(c, ratelimit.MemoryConfig{})
	sec := ratelimit.PerSecond(3)
	minute := ratelimit.PerMinute(5)
	p := ratelimit.Policy{sec, minute}
	for range 3 {
		if d := take(t, s, "k", p, 1); !d.Allowed {
			t.Fatalf("%+v", d)
		}
	}
	d := take(t, s, "k", p, 1)
	if d.Allowed || d.Limit != sec || d.RetryAfter != 333333334*time.Nanosecond {
		t.Fatalf("4th in a second: %+v, want rejected by %v after 333.333334ms", d, sec)
	}
	if d.States[0].Remaining != 0 || d.States[1].Remaining != 2 || d.States[1].RetryAfter != 0 {
		t.Fatalf("States = %+v", d.States)
	}
	c.Advance(time.Second)
	for range 2 {
		if d := take(t, s, "k", p, 1); !d.Allowed {
			t.Fatalf("%+v", d)
		}
	}
	d = take(t, s, "k", p, 1)
	if d.Allowed || d.Limit != minute || d.Remaining != 0 {
		t.Fatalf("6th in a minute: %+v, want rejected by %v", d, minute)
	}
	// 5 taken over 1s at 5/minute: 1/12 token back; 11/12 of 12s to go.
	if want := 11 * time.Second; d.RetryAfter != want {
		t.Fatalf("RetryAfter = %v, want %v", d.RetryAfter, want)
	}
	c.Advance(d.RetryAfter)
	if d := take(t, s, "k", p, 1); !d.Allowed {
		t.Fatalf("after RetryAfter: %+v", d)
	}
}

func TestRejectConsumesNone(t *testing.T) {
	c := newClock()
	s := newStore(c, ratelimit.MemoryConfig{})
	p := ratelimit.MustParsePolicy("10/minute,4/minute")
	if d := take(t, s, "k", p, 3); !d.Allowed || d.Remaining != 1 || d.Limit != p[1] {
		t.Fatalf("%+v", d)
	}
	for range 10 {
		if d := take(t, s, "k", p, 2); d.Allowed || d.States[0].Remaining != 7 {
			t.Fatalf("%+v", d)
		}
	}
	if d := take(t, s, "k", p, 1); !d.Allowed || d.States[0].Remaining != 6 || d.States[1].Remaining != 0 {
		t.Fatalf("%+v", d)
	}
}

func TestTiers(t *testing.T) {
	c := newClock()
	s := newStore(c, ratelimit.MemoryConfig{})
	tiers := map[string]ratelimit.Policy{
		"free": ratelimit.MustParsePolicy("5/minute"),
		"pro":  ratelimit.MustParsePolicy("100/minute"),
	}
	tierOf := map[string]string{"alice": "free"}
	takeAs := func(key string) ratelimit.Decision { return take(t, s, key, tiers[tierOf[key]], 1) }
	for range 5 {
		takeAs("alice")
	}
	if d := takeAs("alice"); d.Allowed {
		t.Fatalf("free tier exhausted, got %+v", d)
	}
	tierOf["alice"] = "pro" // upgrade: applies to the next request
	if d := takeAs("alice"); !d.Allowed || d.Remaining != 99 || d.Limit != tiers["pro"][0] {
		t.Fatalf("after upgrade: %+v", d)
	}
	tierOf["alice"] = "free" // downgrade: the free bucket is still empty
	if d := takeAs("alice"); d.Allowed {
		t.Fatalf("after downgrade: %+v", d)
	}
	// The pro bucket is dropped once refilled.
	c.Advance(time.Minute)
	if n := s.Sweep(); n != 2 || s.Len() != 0 {
		t.Fatalf("Sweep dropped %d, Len %d; want 2, 0", n, s.Len())
	}
}

// TestContention: 64 goroutines hammer one key of burst 50 with no refill;
// exactly 50 must pass, every time.
func TestContention(t *testing.T) {
	const goroutines, burst = 64, 50
	rounds := 200
	if testing.Short() {
		rounds = 20
	}
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	p := ratelimit.Policy{{Requests: 1, Window: 24 * time.Hour, Burst: burst}}
	for r := range rounds {
		key := fmt.Sprint("key-", r)
		var allowed atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range goroutines {
			wg.Go(func() {
				<-start
				for range 3 {
					if d, _ := s.Take(context.Background(), key, p, 1); d.Allowed {
						allowed.Add(1)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		if got := allowed.Load(); got != burst {
			t.Fatalf("round %d: %d allowed, want exactly %d", r, got, burst)
		}
	}
}

func TestInvalid(t *testing.T) {
	s := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	p := ratelimit.Policy{ratelimit.PerDay(10)}
	if _, err := s.Take(context.Background(), "k", p, 0); !errors.Is(err, ratelimit.ErrInvalidCost) {
		t.Errorf("n=0: err = %v", err)
	}
	if _, err := s.Take(context.Background(), "k", nil, 1); !errors.Is(err, ratelimit.ErrInvalidLimit) {
		t.Errorf("nil policy: err = %v", err)
	}
	if s.Len() != 0 {
		t.Errorf("invalid requests created %d buckets", s.Len())
	}
}

func TestManyLimits(t *testing.T) {
	c := newClock()
	s := newStore(c, ratelimit.MemoryConfig{})
	p := ratelimit.MustParsePolicy("10/s,20/m,30/h,40/d,50/2d,60/3d")
	for i := range 10 {
		if d := take(t, s, "k", p, 1); !d.Allowed || d.Remaining != 9-i || len(d.States) != 6 {
			t.Fatalf("%+v", d)
		}
	}
	if d := take(t, s, "k", p, 1); d.Allowed || d.Limit != p[0] {
		t.Fatalf("%+v", d)
	}
	if s.Len() != 6 {
		t.Fatalf("Len = %d, want 6", s.Len())
	}
}
