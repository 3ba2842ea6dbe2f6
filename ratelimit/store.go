package ratelimit

import (
	"context"
	"math"
	"time"
)

// A Store keeps the buckets of many keys and takes tokens from them.
//
// Take takes n tokens for key from every limit of p, or from none: the
// request is allowed only if every limit holds at least n tokens. The
// policy is passed on every call, so a key's limits can change between calls
// (tiers); a store applies the policy it is given now.
//
// A non-nil error means the store could not decide — its backend failed, or
// p or n is invalid (errors wrapping ErrInvalidLimit or ErrInvalidCost). It
// is never used to say "rate limited": that is a Decision with Allowed
// false. Callers choose whether a failing backend fails open or closed.
//
// The Decision's Limit (and each LimitState's) is the policy's Limit as
// passed, Name included, so callers can compare it with ==.
//
// Implementations must be safe for concurrent use, and must be exact under
// contention: with no refill, concurrent callers together get exactly the
// burst. Package storetest checks an implementation against this contract.
type Store interface {
	Take(ctx context.Context, key string, p Policy, n int) (Decision, error)
}

// Never is the RetryAfter of a request that can never be allowed, because
// its cost exceeds the capacity of one of the policy's limits. It is the
// largest time.Duration, so a caller rounding it to seconds still tells the
// client to stay away.
const Never = time.Duration(math.MaxInt64)

// A Decision is the outcome of a Take.
//
// Limit, Remaining and ResetAfter describe the tightest limit of the
// policy: when allowed, the one with the fewest remaining tokens (ties: the
// longest ResetAfter); when rejected, the one that must refill longest
// before the request can pass (ties: the fewest remaining).
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
	Limit Limit
	// Remaining is the number of whole tokens left.
	Remaining int
	// RetryAfter is the time until this bucket alone holds n tokens: 0 if it
	// already does, Never if n exceeds its capacity.
	RetryAfter time.Duration
	// ResetAfter is the time until this bucket is full.
	ResetAfter time.Duration
}
