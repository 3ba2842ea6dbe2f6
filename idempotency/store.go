package idempotency

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable reports that a store could not decide: its backend failed
// or timed out, or it is full of requests in flight. A request whose key
// cannot be claimed must not run, so callers refuse it (503) rather than
// run it unprotected.
var ErrUnavailable = errors.New("idempotency: store unavailable")

// A Record is what a store holds for a key that is not free: the
// fingerprint of the request that claimed it and, once that request has
// finished, its Answer. A nil Answer means the request is still in
// flight.
type Record struct {
	Fingerprint Fingerprint
	Answer      *Answer
}

// A Store keeps, for each account and key, the request that claimed the
// key and, once it finished, its answer. Requests use it in two steps:
// Begin claims the key, then Finish keeps the answer or Release frees the
// key.
//
// Begin claims key for a request with fingerprint fp if the key is free:
// never claimed, or its answer's retention is over, or its claim's lock
// ended without a Finish or a Release (the request died). It reports true,
// and the key is then held by token until lock has passed. Otherwise it
// reports false with the Record held, changing nothing: the caller decides
// between a replay, a conflict (the request is in flight) and a mismatch
// (fp differs).
//
// Finish keeps a for key until retain has passed, if the key is still held
// by token, and reports whether it was; a request whose lock ended keeps
// nothing (its key is free, or another request has claimed it since). A
// store may keep a itself: the caller must not change it afterwards. A
// store that cannot keep a (it is too big) frees the key and reports
// false.
//
// Release frees key if it is still held by token (a request that was
// refused before its handler ran, so that it can be retried), and does
// nothing otherwise.
//
// Tokens are chosen by the caller, one per Begin, and never reused. The
// lock and retention are durations measured by the store's clock (a
// shared store's own, such as Redis's), so that replicas with skewed
// clocks agree. Errors that mean the store could not decide wrap
// ErrUnavailable.
//
// Implementations must be safe for concurrent use and exact under
// contention, across every process that shares them: of any number of
// concurrent Begins for one free key, exactly one claims it. Package
// idempotencystoretest checks an implementation against this contract.
type Store interface {
	Begin(ctx context.Context, account, key string, fp Fingerprint, token uint64, lock time.Duration) (Record, bool, error)
	Finish(ctx context.Context, account, key string, token uint64, a *Answer, retain time.Duration) (bool, error)
	Release(ctx context.Context, account, key string, token uint64) error
}
