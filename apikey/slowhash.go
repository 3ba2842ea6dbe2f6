package apikey

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"
)

// slowGate runs the checks of stored hashes that need their Hasher (any
// but SHA-256; Argon2id costs tens of milliseconds and many MiB each). It
// keeps three promises, each with a test:
//
//   - Bounded slow hashes: at most cap(sem) run at once, across all keys.
//   - One check of a key at a time: concurrent callers presenting the same
//     key on a cold entry wait for the first, which records the SHA-256 of
//     the genuine key, so that the others compare that instead.
//   - Bounded waits: a caller waits for its turn, and then for a slot, until
//     its ctx is done or timeout has passed in all, then fails with an
//     error wrapping ErrUnavailable.
//
// A wrong secret presented again soon is not hashed again either: each
// entry remembers the last few it rejected.
type slowGate struct {
	sem     chan struct{} // slots; nil: no bound
	timeout time.Duration // <= 0: no bound of its own on waiting
}

// slowState is the per-entry part: whose turn it is to check, and the
// secrets rejected recently.
type slowState struct {
	turn   chan struct{} // capacity 1: held while checking a key
	failed *[4][32]byte  // SHA-256 of recently rejected keys; guarded by turn
	nfail  int           // keys rejected so far; guarded by turn
}

var errSlowHashBusy = fmt.Errorf("%w: timed out waiting to verify a slow hash", ErrUnavailable)

// check checks presented, whose SHA-256 is sum, against e's stored hash
// with e's Hasher.
func (g *slowGate) check(ctx context.Context, e *entry, presented string, sum *[32]byte) (bool, error) {
	var w waiter
	defer w.stop()
	s := e.slow
	if err := w.acquire(ctx, s.turn, g.timeout); err != nil {
		return false, err
	}
	defer func() { <-s.turn }()
	if match, known := e.matchesFast(sum); known {
		return match, nil // the previous holder of the turn verified the genuine key
	}
	if s.failed != nil {
		seen := 0
		for i := range min(s.nfail, len(s.failed)) {
			seen |= subtle.ConstantTimeCompare(sum[:], s.failed[i][:])
		}
		if seen == 1 {
			return false, nil
		}
	}
	if g.sem != nil {
		if err := w.acquire(ctx, g.sem, g.timeout); err != nil {
			return false, err
		}
		defer func() { <-g.sem }()
	}
	ok, err := e.hasher.Verify(presented, e.key.Hash)
	switch {
	case err != nil:
	case ok:
		d := *sum
		e.fast.Store(&d)
	default:
		if s.failed == nil {
			s.failed = new([4][32]byte)
		}
		s.failed[s.nfail%len(s.failed)] = *sum
		s.nfail++
	}
	return ok, err
}

// waiter acquires semaphores (buffered channels) for one caller: at once if
// one is free, otherwise until ctx is done or, across all its waits, a
// timeout has passed.
type waiter struct {
	timer *time.Timer
}

// acquire takes a slot of sem.
func (w *waiter) acquire(ctx context.Context, sem chan struct{}, timeout time.Duration) error {
	select {
	case sem <- struct{}{}:
		return nil
	default:
	}
	if w.timer == nil && timeout > 0 {
		w.timer = time.NewTimer(timeout)
	}
	var expired <-chan time.Time
	if w.timer != nil {
		expired = w.timer.C
	}
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	case <-expired:
		return errSlowHashBusy
	}
}

func (w *waiter) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}
