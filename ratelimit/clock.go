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

// A bucket's times are durations since its shard's epoch, the first time
// the shard used, so that a bucket holds 8-byte times instead of 24-byte
// time.Times. A shard whose clock has run rebaseAfter past its epoch moves
// the epoch up to the present and every bucket's times with it, once in
// that many years; times pushed below -rebaseAfter stay there, so that a
// difference of two times never overflows. A bucket last touched over
// rebaseAfter ago therefore counts at least rebaseAfter of refill, which
// fills any bucket but one that refills over more than 146 years.
const rebaseAfter = time.Duration(1<<62 - 1) // about 146 years

// since returns t, a time from monotonic, as a duration since sh's epoch.
// sh.mu must be held.
func (sh *shard) since(t time.Time) time.Duration {
	if sh.epoch.IsZero() {
		sh.epoch = t
	}
	d := t.Sub(sh.epoch)
	if d > rebaseAfter {
		shift := d
		for id, b := range sh.m {
			b.last, b.full = back(b.last, shift), back(b.full, shift)
			sh.m[id] = b
		}
		sh.epoch, d = t, 0
	}
	return d
}

// back returns x-shift, or -rebaseAfter if that is lower, without
// overflow, for a shift of at least rebaseAfter.
func back(x, shift time.Duration) time.Duration {
	if x <= shift-rebaseAfter {
		return -rebaseAfter
	}
	return x - shift
}
