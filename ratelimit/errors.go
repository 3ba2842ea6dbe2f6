package ratelimit

import "errors"

// Errors reported by this package and by Stores. Errors returned by the
// parsers and by validation wrap ErrInvalidLimit, so errors.Is(err,
// ErrInvalidLimit) holds; errors returned by Take for bad arguments wrap
// ErrInvalidLimit or ErrInvalidCost, and errors returned by Take because the
// store could not decide wrap ErrUnavailable.
var (
	// ErrInvalidLimit reports a Limit or Policy that cannot be enforced:
	// no limits, zero or negative counts or windows, or values out of range.
	ErrInvalidLimit = errors.New("ratelimit: invalid limit")

	// ErrInvalidCost reports a request cost n < 1.
	ErrInvalidCost = errors.New("ratelimit: invalid cost")

	// ErrUnavailable reports that a Store could not decide: its backend is
	// down or answered with an error, or a call to it timed out. A Store
	// returns it wrapped, with the backend's own error, so that callers can
	// tell an outage (fail open or closed, as configured) from a bug in
	// their arguments (ErrInvalidLimit, ErrInvalidCost). MemoryStore never
	// returns it.
	ErrUnavailable = errors.New("ratelimit: store unavailable")
)
