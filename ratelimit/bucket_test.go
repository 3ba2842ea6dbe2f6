package ratelimit

import (
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestShortest(t *testing.T) {
	for _, tc := range []struct {
		name string
		want time.Duration // ok(d) is d >= want
		est  time.Duration
	}{
		{"exact estimate", 1234, 1234},
		{"estimate 1ns short", 1234, 1233},
		{"estimate far short", 1 << 40, 1},
		{"estimate 1ns long", 1234, 1235},
		{"estimate far long", 3, 1 << 50},
		{"1ns", 1, 1},
		{"1ns, long estimate", 1, 1 << 20},
		{"Never", Never, 1 << 62},
		{"1ns before Never", Never - 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			got := shortest(tc.est, func(d time.Duration) bool {
				calls++
				if d <= 0 {
					t.Fatalf("ok(%d) called", d)
				}
				return d >= tc.want
			})
			if got != tc.want {
				t.Errorf("shortest(%d) = %d, want %d", tc.est, got, tc.want)
			}
			if calls > 200 {
				t.Errorf("%d calls of ok, want O(log)", calls)
			}
		})
	}
	if got := shortest(5, func(time.Duration) bool { return false }); got != Never {
		t.Errorf("shortest of a never-true ok = %d, want Never", got)
	}
}

// TestRefillAfterMatchesLimiter checks the assumption refillAfter makes
// about x/time/rate without asking the Limiter: that after AllowN(t, n) a
// Limiter that held tok tokens at t holds exactly tok-n, and that it counts
// the tokens of a later time t+d as tok-n + d.Seconds()*limit. It drives
// real Limiters through random histories and compares every refillAfter
// with what the Limiter itself reports (TokensAt) at that time and a
// nanosecond before. It fails if x/time/rate counts or rounds tokens in
// another way; then refillAfter must ask the Limiter, as waitFor does.
func TestRefillAfterMatchesLimiter(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, l := range ExactnessLimits {
		t.Run(l.String(), func(t *testing.T) {
			size, r := l.Capacity(), l.Rate()
			lim := rate.NewLimiter(r, size)
			now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			checked := 0
			for range 2000 {
				now = now.Add(time.Duration(rng.Int64N(int64(l.Window/time.Duration(l.Requests)) * 2)))
				n := 1 + rng.IntN(min(size, 5))
				tok := lim.TokensAt(now)
				if tok < float64(n) {
					continue
				}
				if !lim.AllowN(now, n) {
					t.Fatalf("AllowN(%d) refused with %v tokens", n, tok)
				}
				left := tok - float64(n)
				if got := lim.TokensAt(now); got != left {
					t.Fatalf("after AllowN(%d) of %v tokens: TokensAt = %v, want exactly %v", n, tok, got, left)
				}
				for _, target := range []float64{float64(size), float64(min(n, size))} {
					d := refillAfter(left, target, r)
					if d == 0 {
						if left < target {
							t.Fatalf("refillAfter(%v, %v) = 0", left, target)
						}
						continue
					}
					before, at := lim.TokensAt(now.Add(d-1)), lim.TokensAt(now.Add(d))
					if at < target || before >= target {
						t.Fatalf("refillAfter(%v, %v) = %v, but the Limiter holds %v tokens 1ns before and %v then",
							left, target, d, before, at)
					}
					checked++
				}
			}
			if checked < 500 {
				t.Errorf("only %d durations checked", checked)
			}
		})
	}
}

// oracle is a limit's bucket as golang.org/x/time/rate's Limiter keeps it:
// what a MemoryStore must answer, computed by asking the Limiter.
type oracle struct {
	lim *rate.Limiter
	l   Limit
}

// take is a Take of n tokens at t, by the Limiter: the Decision of a
// single-limit policy.
func (o *oracle) take(t time.Time, n int) Decision {
	size := o.l.Capacity()
	tok := float64(size)
	if o.lim != nil {
		tok = o.lim.TokensAt(t)
	}
	wait := func(target float64) time.Duration {
		if tok >= target {
			return 0
		}
		return shortest(estimate(target-tok, o.l.Rate()), func(d time.Duration) bool {
			return o.lim.TokensAt(t.Add(d)) >= target
		})
	}
	d := Decision{Limit: o.l, Allowed: tok >= float64(n)}
	if d.Allowed {
		if o.lim == nil {
			o.lim = rate.NewLimiter(o.l.Rate(), size)
		}
		o.lim.AllowN(t, n)
		tok = o.lim.TokensAt(t)
		d.Remaining, d.ResetAfter = int(tok), wait(float64(size))
		return d
	}
	d.Remaining, d.RetryAfter, d.ResetAfter = int(tok), Never, wait(float64(size))
	if n <= size {
		d.RetryAfter = wait(float64(n))
	}
	return d
}

// resetAfter returns the time from t until the bucket is full, without a
// Take.
func (o *oracle) resetAfter(t time.Time) time.Duration {
	size := float64(o.l.Capacity())
	if o.lim == nil || o.lim.TokensAt(t) >= size {
		return 0
	}
	return shortest(estimate(size-o.lim.TokensAt(t), o.l.Rate()), func(d time.Duration) bool {
		return o.lim.TokensAt(t.Add(d)) >= size
	})
}

// checkAgainstLimiter drives a MemoryStore and the oracle through the same
// Takes, read from steps two bytes at a time (a cost and a pause), and
// fails at the first Decision on which they differ.
func checkAgainstLimiter(t *testing.T, l Limit, steps []byte) {
	t.Helper()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewMemoryStore(MemoryConfig{})
	o := &oracle{l: l}
	unit := l.Window / time.Duration(l.Requests)
	for i := 0; i+1 < len(steps); i += 2 {
		n := 1 + int(steps[i])%min(l.Capacity()+1, 8)
		if steps[i] == 0xff {
			n = l.Capacity()
		}
		got, err := s.TakeAt(now, "k", Policy{l}, n)
		if err != nil {
			t.Fatal(err)
		}
		if want := o.take(now, n); got.Allowed != want.Allowed || got.Remaining != want.Remaining ||
			got.RetryAfter != want.RetryAfter || got.ResetAfter != want.ResetAfter {
			t.Fatalf("%v, step %d, cost %d: store %+v, Limiter %+v", l, i/2, n, got, want)
		}
		// Pauses from none to about four refills of one token, and
		// sometimes the exact time of a reset or a nanosecond before it;
		// never backwards, where the store's watermark (clock.go) differs
		// from the Limiter on purpose.
		switch p := steps[i+1]; {
		case p < 200:
			now = now.Add(time.Duration(int64(unit) / 50 * int64(p)))
		case p < 230:
			now = now.Add(time.Duration(p-200) * time.Nanosecond)
		default:
			now = now.Add(max(o.resetAfter(now)-time.Duration(p%2), 0))
		}
	}
}

// TestBucketMatchesLimiter holds a MemoryStore's buckets to x/time/rate's
// Limiter, its oracle: Allowed, Remaining, RetryAfter and ResetAfter of
// every Take, to the nanosecond, over random histories of every exactness
// limit.
func TestBucketMatchesLimiter(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, l := range ExactnessLimits {
		for range 20 {
			steps := make([]byte, 400)
			for i := range steps {
				steps[i] = byte(rng.UintN(256))
			}
			checkAgainstLimiter(t, l, steps)
		}
	}
}

// FuzzBucketMatchesLimiter is TestBucketMatchesLimiter with histories from
// the fuzzer.
func FuzzBucketMatchesLimiter(f *testing.F) {
	f.Add(uint8(0), []byte{0, 0, 0xff, 10, 1, 230, 3, 199})
	f.Add(uint8(3), []byte{0xff, 231, 0xff, 230, 5, 0})
	f.Fuzz(func(t *testing.T, which uint8, steps []byte) {
		checkAgainstLimiter(t, ExactnessLimits[int(which)%len(ExactnessLimits)], steps)
	})
}
