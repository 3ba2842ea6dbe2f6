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

// A bucket is the state of one token bucket: golang.org/x/time/rate's
// Limiter reduced to what a MemoryStore keeps per key. Its rate and
// capacity come with the policy of every Take, its lock is the shard's,
// and it is stored by value in the shard's map: 24 bytes and a map slot,
// where a *rate.Limiter cost 80 bytes and a slot. It counts tokens with
// the Limiter's own expression, term for term, and the Limiter is its test
// oracle (TestBucketMatchesLimiter, FuzzBucketMatchesLimiter).
//
// Times are nanoseconds since the store's base time, as time.Duration.
type bucket struct {
	tokens float64       // tokens at last
	last   time.Duration // when tokens was counted
	full   time.Duration // when the bucket is full again: the sweeps drop it from then on
}

// tokensAt returns the tokens of b at t, for a capacity of size tokens
// refilled at r per second: the Limiter's advance, which counts a t before
// last as last.
func (b *bucket) tokensAt(t time.Duration, size float64, r rate.Limit) float64 {
	elapsed := max(t-b.last, 0)
	tokens := b.tokens
	if r > 0 {
		tokens += elapsed.Seconds() * float64(r)
	}
	return min(tokens, size)
}

// slot is a limit's bucket during a Take.
type slot struct {
	b     bucket
	had   bool // whether the shard had the bucket; if not, it is full
	id    uint64
	tok   float64       // tokens available before the Take
	reset time.Duration // after an allowed Take: the time until full
	size  int           // capacity
	r     rate.Limit
}

// state returns the Remaining, RetryAfter and ResetAfter of sl's limit
// after a Take of n tokens at t that was allowed (ok: consume has run) or
// rejected. When rejected, the bucket is left untouched — a rejected
// request must not even perturb its floating-point state, or a client
// retrying early could move its own retry time.
func (sl *slot) state(t time.Duration, n int, ok bool) (remaining int, retry, reset time.Duration) {
	if ok {
		return int(sl.tok - float64(n)), 0, sl.reset
	}
	retry = Never
	if n <= sl.size {
		retry = sl.waitFor(t, float64(n))
	}
	return int(sl.tok), retry, sl.waitFor(t, float64(sl.size))
}

// take records the Take of n tokens at t in sl's bucket, which holds
// sl.tok >= n tokens: what the Limiter's AllowN records.
func (sl *slot) take(t time.Duration, n int) {
	left := sl.tok - float64(n)
	sl.reset = refillAfter(left, float64(sl.size), sl.r)
	sl.b = bucket{tokens: left, last: t, full: t + min(sl.reset, Never-max(t, 0))}
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
// differently, and so do the tests of bucket against the Limiter.
func refillAfter(tok, target float64, r rate.Limit) time.Duration {
	if tok >= target {
		return 0
	}
	return shortest(estimate(target-tok, r), func(d time.Duration) bool {
		return tok+d.Seconds()*float64(r) >= target
	})
}

// waitFor returns the shortest d after which sl's bucket, holding sl.tok
// tokens at t, holds target tokens.
func (sl *slot) waitFor(t time.Duration, target float64) time.Duration {
	if sl.tok >= target {
		return 0
	}
	size := float64(sl.size)
	return shortest(estimate(target-sl.tok, sl.r), func(d time.Duration) bool {
		return sl.b.tokensAt(t+min(d, Never-max(t, 0)), size, sl.r) >= target
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
