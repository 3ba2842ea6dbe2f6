package ratelimit

import (
	"math"
	"slices"
	"time"
)

// Never is the RetryAfter of a request that can never be allowed, because
// its cost exceeds the capacity of one of the policy's limits. It is the
// largest time.Duration, so a caller rounding it to seconds still tells the
// client to stay away.
const Never = time.Duration(math.MaxInt64)

// A Decision is the outcome of a Take.
//
// Limit, Remaining and ResetAfter describe the tightest limit of the
// policy, chosen by the rule of NewDecision.
type Decision struct {
	// Allowed reports whether the tokens were taken.
	Allowed bool

	// Limit is the tightest limit.
	Limit Limit

	// Remaining is the number of whole tokens left in the tightest limit's
	// bucket after this request (before it, when rejected: a rejected
	// request consumes nothing).
	Remaining int

	// RetryAfter is 0 when allowed. Otherwise it is the exact time, rounded
	// up to the nanosecond, until n tokens are available in every limit,
	// assuming no other request for the key: a client that waits exactly
	// RetryAfter and retries succeeds, and one that retries a nanosecond
	// earlier does not. It is Never when n exceeds a limit's capacity.
	RetryAfter time.Duration

	// ResetAfter is the time until the tightest limit's bucket is full
	// again, if no more tokens are taken, rounded up to the nanosecond.
	ResetAfter time.Duration

	// States holds one entry per limit, in policy order, when the policy
	// has more than one limit. It is nil for a single-limit policy, which
	// Limit, Remaining, RetryAfter and ResetAfter then describe completely.
	States []LimitState
}

// A LimitState describes one limit's bucket after a Take.
type LimitState struct {
	// Limit is the policy's limit, as passed to Take.
	Limit Limit
	// Remaining is the number of whole tokens left.
	Remaining int
	// RetryAfter is the time until this bucket alone holds n tokens: 0 if
	// it had room for the request (so always 0 when the request was
	// allowed), Never if n exceeds its capacity.
	RetryAfter time.Duration
	// ResetAfter is the time until this bucket is full.
	ResetAfter time.Duration
}

// NewDecision assembles the Decision of a Take from whether the request was
// allowed and the states of the policy's limits after it, one per limit in
// policy order. It is the rule every Store follows:
//
//   - Limit, Remaining and ResetAfter are those of the tightest state. When
//     the request was allowed, that is the one with the fewest remaining
//     tokens (ties: the longest ResetAfter). When it was rejected, it is the
//     one that must refill longest before the request can pass, the longest
//     RetryAfter (ties: the fewest remaining, then the longest ResetAfter).
//     Among states equal in all of these, the first in policy order wins.
//   - RetryAfter is 0 when allowed, and otherwise the longest RetryAfter of
//     the states: the request passes only once every limit has room.
//   - States is a copy of states if it has two or more entries, and nil if
//     it has one.
//
// NewDecision does not retain states, so a Store may pass a buffer it
// reuses. It panics if states is empty.
func NewDecision(allowed bool, states []LimitState) Decision {
	if len(states) == 0 {
		panic("ratelimit: NewDecision needs the state of at least one limit")
	}
	best := 0
	var retry time.Duration
	for i := range states {
		if tighter(&states[i], &states[best], allowed) {
			best = i
		}
		retry = max(retry, states[i].RetryAfter)
	}
	d := Decision{
		Allowed:    allowed,
		Limit:      states[best].Limit,
		Remaining:  states[best].Remaining,
		ResetAfter: states[best].ResetAfter,
	}
	if !allowed {
		d.RetryAfter = retry
	}
	if len(states) > 1 {
		d.States = slices.Clone(states)
	}
	return d
}

// tighter reports whether a is a tighter limit than b, by the rule of
// NewDecision.
func tighter(a, b *LimitState, allowed bool) bool {
	if !allowed && a.RetryAfter != b.RetryAfter {
		return a.RetryAfter > b.RetryAfter
	}
	if a.Remaining != b.Remaining {
		return a.Remaining < b.Remaining
	}
	return a.ResetAfter > b.ResetAfter
}
