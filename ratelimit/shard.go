package ratelimit

import (
	"sync"
	"time"
)

// A shard is one independently locked partition of a MemoryStore: the
// buckets of the keys whose hash selects it, its clock watermark (clock.go)
// and the bookkeeping of its sweeps (sweep.go) and of the MaxBuckets cap,
// which it enforces on its own share by eviction.
type shard struct {
	mu      sync.Mutex
	m       map[uint64]bucket
	last    time.Time // latest time used by this shard; never decreases
	epoch   time.Time // the origin of its buckets' times (see since)
	ops     uint32    // Takes since creation, for the periodic sample sweep
	inserts int       // buckets created since the last full sweep
	sweepAt int       // len(m) at which a new bucket triggers a full sweep
	peak    int       // largest len(m) since m was allocated
	evicted uint64    // buckets evicted by the cap
	_       [16]byte  // keep hot shards on separate cache lines
}

const (
	sampleEvery = 64 // Takes between sample sweeps of a shard
	sampleSize  = 4  // buckets examined by a sample sweep
	evictSample = 32 // buckets examined to pick one to evict
	minSweepAt  = 64 // smallest size that triggers a full sweep
	minRebuild  = 1024
)

// bucketID identifies the bucket of limit i of a policy for the key whose
// hash is h. Different keys collide only if their seeded hashes do; one
// key's limits differ by position and parameters.
func bucketID(h uint64, i int, l Limit) uint64 {
	x := uint64(i+1)*0xD6E8FEB86659FD93 ^
		uint64(l.Requests)*0x9E3779B97F4A7C15 ^
		uint64(l.Window)*0xC2B2AE3D27D4EB4F ^
		uint64(l.Capacity())*0x165667B19E3779F9
	return h ^ x
}

// insert adds a new bucket, first making room if the shard is at a sweep
// threshold or at its cap; it never evicts the buckets of the current
// request (keep). sh.mu must be held.
func (s *MemoryStore) insert(sh *shard, t time.Duration, id uint64, b bucket, keep []slot) {
	if sh.m == nil {
		sh.m = make(map[uint64]bucket)
	}
	if n := len(sh.m); n >= sh.sweepAt || n >= s.shardCap {
		if sh.inserts >= n/8 {
			sh.sweepAll(t)
		}
		if len(sh.m) >= s.shardCap {
			sh.evict(keep)
		}
	}
	sh.m[id] = b
	sh.inserts++
	sh.peak = max(sh.peak, len(sh.m))
}

// evict removes, among evictSample buckets from a random position of the
// map, the one that will be full soonest: the one whose eviction forgives
// the least consumption, measured in refill time. sh.mu must be held.
//
// The sample is long because a map range samples neighbours, and a random
// start favours entries that follow empty slots; evicting from a short
// sample creates exactly such gaps around surviving entries.
func (sh *shard) evict(keep []slot) {
	var victim uint64
	found, best, i := false, time.Duration(0), 0
outer:
	for id, b := range sh.m {
		for _, k := range keep {
			if k.id == id {
				continue outer
			}
		}
		if !found || b.full < best {
			victim, best, found = id, b.full, true
		}
		if i++; i == evictSample {
			break
		}
	}
	if found {
		delete(sh.m, victim)
		sh.evicted++
	}
}
