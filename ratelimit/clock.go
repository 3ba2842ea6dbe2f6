package ratelimit

import "time"

// Time in a MemoryStore: each shard keeps a watermark, the latest time it
// has used, and never uses an earlier one. x/time/rate's Limiter treats a
// time before its last update as that update's time but then moves its
// record back, so that a later request refills the same interval again
// (golang/go#71360); concurrent callers that read the clock before taking
// a lock produce exactly such out-of-order times. Reading the clock under
// the shard's lock and clamping it to the watermark closes that hole, and
// also makes a fake clock that goes backwards harmless.

// now returns at, or the clock's time when useClock is set.
func (s *MemoryStore) now(at time.Time, useClock bool) time.Time {
	if !useClock {
		return at
	}
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	// Only the monotonic clock is read: half the cost of time.Now.
	return s.base.Add(time.Since(s.base))
}

// monotonic returns the later of t and the latest time sh has used, and
// records it. sh.mu must be held.
func (sh *shard) monotonic(t time.Time) time.Time {
	if t.Before(sh.last) {
		return sh.last
	}
	sh.last = t
	return t
}
