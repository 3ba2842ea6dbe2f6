package ratelimit

import "time"

// Sweeping: a bucket that has refilled to full is indistinguishable from a
// missing one, so it can be dropped at any time. Take does so as it goes
// (a full sweep of a shard when its size has doubled since the last one,
// and a sample every sampleEvery operations); Sweep does it at once.

// Sweep drops every bucket that has refilled to full, one shard at a time,
// and returns how many it dropped. Calling it is never required; it only
// makes reclamation prompt (Len, memory after a burst of keys).
func (s *MemoryStore) Sweep() int { return s.sweep(time.Time{}, true) }

// SweepAt is like Sweep but uses t instead of reading the clock.
func (s *MemoryStore) SweepAt(t time.Time) int { return s.sweep(t, false) }

func (s *MemoryStore) sweep(at time.Time, useClock bool) int {
	s.once.Do(s.setup)
	dropped := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		t := sh.since(sh.monotonic(s.now(at, useClock)))
		dropped += sh.sweepAll(t)
		sh.mu.Unlock()
	}
	return dropped
}

// sweepAll drops every full bucket of sh and returns how many. If the map
// has shrunk to a quarter of its peak, it is rebuilt so that its memory is
// released. sh.mu must be held.
func (sh *shard) sweepAll(t time.Duration) int {
	before := len(sh.m)
	for id, b := range sh.m {
		if t >= b.full {
			delete(sh.m, id)
		}
	}
	if sh.peak >= minRebuild && len(sh.m) <= sh.peak/4 {
		m := make(map[uint64]bucket, len(sh.m))
		for id, b := range sh.m {
			m[id] = b
		}
		sh.m, sh.peak = m, len(m)
	}
	sh.inserts = 0
	sh.sweepAt = max(2*len(sh.m), minSweepAt)
	return before - len(sh.m)
}

// sweepSample drops the full buckets among a few, starting at a random
// position of the map. sh.mu must be held.
func (sh *shard) sweepSample(t time.Duration) {
	i := 0
	for id, b := range sh.m {
		if t >= b.full {
			delete(sh.m, id)
		}
		if i++; i == sampleSize {
			break
		}
	}
}
