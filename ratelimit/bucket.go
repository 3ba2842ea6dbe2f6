package ratelimit

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// The arithmetic of one bucket during a Take: how many tokens it has, and
// how long until it has more. Durations are exact to the nanosecond: each
// is the smallest d for which the bucket, as golang.org/x/time/rate counts
// its tokens, holds the target.

// slot is a limit's bucket during a Take.
type slot struct {
	lim  *rate.Limiter // nil: no bucket, so it is full
	id   uint64
	tok  float64 // tokens available before the Take
	size int     // capacity
	r    rate.Limit
}

// state returns the Remaining, RetryAfter and ResetAfter of sl's limit
// after a Take of n tokens at t that was allowed (ok) or rejected. The
// shard's lock must be held.
//
// When allowed, the bucket holds exactly tok-n tokens as of t (AllowN
// records that), so its future is computed without asking it. When
// rejected, the bucket is left untouched — a rejected request must not even
// perturb its floating-point state, or a client retrying early could move
// its own retry time — and is asked with TokensAt.
func (sl *slot) state(t time.Time, n int, ok bool) (remaining int, retry, reset time.Duration) {
	size := float64(sl.size)
	if ok {
		left := sl.tok - float64(n)
		return int(left), 0, refillAfter(left, size, sl.r)
	}
	retry = Never
	if n <= sl.size {
		retry = waitFor(sl.lim, t, sl.tok, float64(n), sl.r)
	}
	return int(sl.tok), retry, waitFor(sl.lim, t, sl.tok, size, sl.r)
}

// estimate returns need/r seconds, rounded up to the nanosecond (at least 1ns
// and at most Never).
func estimate(need float64, r rate.Limit) time.Duration {
	ns := math.Ceil(need / float64(r) * 1e9)
	switch {
	case ns < 1:
		return 1
	case ns >= float64(math.MaxInt64):
		return Never
	}
	return time.Duration(ns)
}

// refillAfter returns the shortest d after which a bucket holding tok tokens
// now, with its state recorded now (after AllowN), holds target tokens.
//
// The test is the expression x/time/rate's Limiter evaluates to count the
// tokens of an elapsed duration (tokens + elapsed.Seconds()*limit), which
// is not part of its API. TestRefillAfterMatchesLimiter and
// TestResetAfterExact fail if a new version of x/time/rate counts
// differently; refillAfter is then to be replaced by waitFor, which asks
// the Limiter and costs a lock per probe.
func refillAfter(tok, target float64, r rate.Limit) time.Duration {
	if tok >= target {
		return 0
	}
	return shortest(estimate(target-tok, r), func(d time.Duration) bool {
		return tok+d.Seconds()*float64(r) >= target
	})
}

// waitFor returns the shortest d after which lim, holding tok tokens at t,
// holds target tokens, asking lim itself (TokensAt does not change it).
func waitFor(lim *rate.Limiter, t time.Time, tok, target float64, r rate.Limit) time.Duration {
	if tok >= target {
		return 0
	}
	return shortest(estimate(target-tok, r), func(d time.Duration) bool {
		return lim.TokensAt(t.Add(d)) >= target
	})
}

// shortest returns the smallest d > 0 with ok(d), for a non-decreasing ok
// with ok(0) false, starting from the estimate est (usually exact, so two
// calls of ok suffice). It returns Never if no d up to Never satisfies ok.
func shortest(est time.Duration, ok func(time.Duration) bool) time.Duration {
	lo, hi := time.Duration(0), est // ok(lo) is false
	for step := time.Duration(1); !ok(hi); step *= 2 {
		if hi >= Never-step {
			if !ok(Never) {
				return Never
			}
			lo, hi = hi, Never
			break
		}
		lo, hi = hi, hi+step
	}
	for step := time.Duration(1); hi-lo > 1; step *= 2 { // gallop down
		probe := hi - step
		if probe <= lo {
			break
		}
		if !ok(probe) {
			lo = probe
			break
		}
		hi = probe
	}
	for hi-lo > 1 { // bisect
		mid := lo + (hi-lo)/2
		if ok(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}
