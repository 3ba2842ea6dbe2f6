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
