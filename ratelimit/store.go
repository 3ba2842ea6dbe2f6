package ratelimit

import "context"

// A Store keeps the buckets of many keys and takes tokens from them.
//
// Take takes n tokens for key from every limit of p, or from none: the
// request is allowed only if every limit holds at least n tokens. The
// policy is passed on every call, so a key's limits can change between calls
// (tiers); a store applies the policy it is given now.
//
// A non-nil error means the store could not decide: its backend failed
// (errors wrapping ErrUnavailable), or p or n is invalid (errors wrapping
// ErrInvalidLimit or ErrInvalidCost). It is never used to say "rate
// limited": that is a Decision with Allowed false. Callers choose whether a
// failing backend fails open or closed.
//
// The Decision is assembled from the states of the policy's limits as
// NewDecision does, so that every Store picks the same tightest limit. Its
// Limit (and each LimitState's) is the policy's Limit as passed, Name
// included, so callers can compare it with ==.
//
// Implementations must be safe for concurrent use, and must be exact under
// contention: with no refill, concurrent callers together get exactly the
// burst. Package limitstoretest checks an implementation against this
// contract.
type Store interface {
	Take(ctx context.Context, key string, p Policy, n int) (Decision, error)
}
