package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync"
	"time"
)

// Defaults for MemoryConfig.
const (
	DefaultMaxBuckets = 1 << 20
	DefaultShards     = 256
)

// MemoryConfig configures a MemoryStore. The zero value selects every
// default.
type MemoryConfig struct {
	// Now returns the current time. It is called with the bucket's shard
	// locked, so times are ordered like the requests they stamp. A Now that
	// goes backwards (a fake clock, say) is tolerated: a shard treats a time
	// earlier than the latest it has used as that latest time, so buckets
	// never refill twice for the same interval.
	// Default: the monotonic clock (one clock read per Take).
	Now func() time.Time

	// MaxBuckets bounds the number of buckets tracked, hence memory. A key
	// has one bucket per limit of its policy that is not full; a full
	// bucket is dropped, since it is indistinguishable from a new one.
	// The bound is enforced per shard (MaxBuckets/Shards each), so eviction
	// may begin a little before the total reaches MaxBuckets. When a shard
	// is at its bound, a new bucket first triggers a sweep of full buckets
	// (at most once per 1/8 of the shard's size in insertions, so a flood
	// cannot make every insertion sweep); if none could be dropped, the
	// store samples 32 buckets of the shard and evicts the one closest to
	// full (the one that will be full soonest). Eviction forgives the evicted key
	// what it consumed (its next request finds a full bucket), so the cap
	// trades exactness for memory under a flood of keys; choosing the
	// fullest bucket keeps the excess small and protects keys that have
	// used much of their allowance — a flood of fresh keys, each nearly
	// full, mostly evicts itself.
	// Default: DefaultMaxBuckets (1<<20: about 88 MB at the ~84 bytes a
	// bucket costs).
	MaxBuckets int

	// Shards is the number of independently locked partitions, rounded up
	// to a power of two (at most 1<<16, and at most MaxBuckets).
	// Default: DefaultShards.
	Shards int
}

// A MemoryStore is an in-process Store of token buckets, for a single
// server. A bucket counts its tokens as golang.org/x/time/rate's Limiter
// does, to the last bit of the float64 and the nanosecond: the Limiter is
// the test oracle of every Take. It keeps only what the Limiter keeps per
// bucket that the policy does not already say (tokens and two times, 24
// bytes), by value in the shard's map, under the shard's lock.
//
// Keys are not stored: a bucket is found by a 64-bit hash (hash/maphash,
// seeded randomly per store) of the key together with the limit's position
// and parameters in the policy. A tracked bucket costs about 84 bytes of
// heap, its map slot included (a *rate.Limiter and its slot cost 118).
// Two keys colliding on all 64 bits would share a bucket; among a million
// keys that has a probability of about 3e-8, and since the seed is secret
// clients cannot aim for it.
//
// Because a bucket is identified by its limit's parameters, changing a key's
// policy (a new tier) takes effect on the next Take: a limit whose
// Requests, Window or Burst changed starts from a full bucket of the new
// size, and the old bucket is dropped once it has refilled (switching back
// before then resumes it).
//
// The store is split into shards selected by the key's hash, each with its
// own lock, map and clock watermark. The time of every Take is read under
// the shard's lock and never moves backwards within a shard, so
// concurrent requests cannot use out-of-order timestamps to refill a bucket
// twice (golang/go#71360).
//
// Memory is bounded without goroutines: full buckets are dropped by
// sweeps that run as part of Take — a full sweep of a shard whenever its
// size has doubled since the last one (amortised O(1) per new bucket), and a
// sample of 4 buckets every 64 operations on the shard — and by the
// MaxBuckets cap. A sweep that leaves a shard at a quarter of its peak size
// rebuilds its map, so memory is returned after a burst of keys. Sweep drops
// every full bucket at once, for callers who want Len to be prompt.
//
// The zero value is ready to use with the defaults of MemoryConfig.
// A MemoryStore must not be copied after first use.
type MemoryStore struct {
	once     sync.Once
	cfg      MemoryConfig
	seed     maphash.Seed
	base     time.Time
	shift    uint // 64 - log2(len(shards))
	shardCap int
	shards   []shard
}

// NewMemoryStore returns a MemoryStore configured by cfg.
func NewMemoryStore(cfg MemoryConfig) *MemoryStore {
	s := &MemoryStore{cfg: cfg}
	s.once.Do(s.setup)
	return s
}

func (s *MemoryStore) setup() {
	if s.cfg.MaxBuckets <= 0 {
		s.cfg.MaxBuckets = DefaultMaxBuckets
	}
	n := s.cfg.Shards
	if n <= 0 {
		n = DefaultShards
	}
	n = min(n, 1<<16, s.cfg.MaxBuckets)
	b := bits.Len(uint(n - 1)) // ceil(log2 n)
	if 1<<b > s.cfg.MaxBuckets {
		b-- // stay at or below MaxBuckets shards
	}
	s.cfg.Shards = 1 << b
	s.shift = uint(64 - b)
	s.shardCap = s.cfg.MaxBuckets >> b
	s.shards = make([]shard, 1<<b)
	for i := range s.shards {
		s.shards[i].sweepAt = minSweepAt
	}
	s.seed = maphash.MakeSeed()
	s.base = time.Now()
}

// Take implements Store. It never returns an error for valid arguments;
// ctx is not used.
func (s *MemoryStore) Take(_ context.Context, key string, p Policy, n int) (Decision, error) {
	return s.take(time.Time{}, true, key, p, n)
}

// TakeAt is like Take but uses t instead of reading the clock. Within a
// shard, a t earlier than a time already used counts as that time.
// It is meant for tests and simulations.
func (s *MemoryStore) TakeAt(t time.Time, key string, p Policy, n int) (Decision, error) {
	return s.take(t, false, key, p, n)
}

// Len returns the number of buckets currently tracked: one per key and
// limit whose bucket is not yet known to be full.
func (s *MemoryStore) Len() int {
	s.once.Do(s.setup)
	total := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		total += len(sh.m)
		sh.mu.Unlock()
	}
	return total
}

// Evictions returns the number of buckets evicted so far because a shard
// was at its MaxBuckets bound.
func (s *MemoryStore) Evictions() uint64 {
	s.once.Do(s.setup)
	var total uint64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		total += sh.evicted
		sh.mu.Unlock()
	}
	return total
}

// take is Take and TakeAt: at is the time to use unless useClock is set.
func (s *MemoryStore) take(at time.Time, useClock bool, key string, p Policy, n int) (Decision, error) {
	s.once.Do(s.setup)
	if n < 1 {
		return Decision{}, fmt.Errorf("%w: n = %d, want at least 1", ErrInvalidCost, n)
	}
	if err := p.Validate(); err != nil {
		return Decision{}, err
	}
	h := maphash.String(s.seed, key)
	sh := &s.shards[h>>s.shift]
	if len(p) == 1 {
		return s.takeOne(sh, at, useClock, h, &p[0], n), nil
	}
	return s.takeMany(sh, at, useClock, h, p, n), nil
}

// takeOne is take for a single-limit policy, the common case.
func (s *MemoryStore) takeOne(sh *shard, at time.Time, useClock bool, h uint64, l *Limit, n int) Decision {
	sl := slot{id: bucketID(h, 0, *l), size: l.Capacity(), r: l.Rate()}

	sh.mu.Lock()
	t := sh.since(sh.monotonic(s.now(at, useClock)))
	sh.load(&sl, t)
	ok := sl.tok >= float64(n)
	if ok {
		s.consume(sh, t, &sl, n, nil)
	}
	// A single limit is its own tightest limit, so the Decision is its
	// state: what NewDecision(ok, []LimitState{state}) returns, without
	// the copies that cost a fifth of this path.
	d := Decision{Allowed: ok, Limit: *l}
	d.Remaining, d.RetryAfter, d.ResetAfter = sl.state(t, n, ok)
	if sh.ops++; sh.ops%sampleEvery == 0 {
		sh.sweepSample(t)
	}
	sh.mu.Unlock()
	return d
}

// takeMany is take for a policy of several limits.
func (s *MemoryStore) takeMany(sh *shard, at time.Time, useClock bool, h uint64, p Policy, n int) Decision {
	// Buffers for policies of up to four limits, which stay on the stack:
	// NewDecision copies the states.
	var slotBuf [4]slot
	var stateBuf [4]LimitState
	slots, states := slotBuf[:0], stateBuf[:0]
	if len(p) > len(slotBuf) {
		slots, states = make([]slot, 0, len(p)), make([]LimitState, 0, len(p))
	}

	sh.mu.Lock()
	t := sh.since(sh.monotonic(s.now(at, useClock)))
	ok := true
	for i := range p {
		sl := slot{id: bucketID(h, i, p[i]), size: p[i].Capacity(), r: p[i].Rate()}
		sh.load(&sl, t)
		ok = ok && sl.tok >= float64(n)
		slots = append(slots, sl)
	}
	if ok {
		for i := range slots {
			s.consume(sh, t, &slots[i], n, slots)
		}
	}
	for i := range slots {
		st := LimitState{Limit: p[i]}
		st.Remaining, st.RetryAfter, st.ResetAfter = slots[i].state(t, n, ok)
		states = append(states, st)
	}
	if sh.ops++; sh.ops%sampleEvery == 0 {
		sh.sweepSample(t)
	}
	sh.mu.Unlock()
	return NewDecision(ok, states)
}

// load finds sl's bucket in sh, if it has one, and counts its tokens at t.
// sh.mu must be held.
func (sh *shard) load(sl *slot, t time.Duration) {
	sl.tok = float64(sl.size)
	if sl.b, sl.had = sh.m[sl.id]; sl.had {
		sl.tok = sl.b.tokensAt(t, sl.tok, sl.r)
	}
}

// consume takes n tokens at t from sl's bucket, which load found to hold
// at least n, creating the bucket if it had none. It never evicts the
// buckets of keep, those of the current request. sh.mu must be held.
func (s *MemoryStore) consume(sh *shard, t time.Duration, sl *slot, n int, keep []slot) {
	sl.take(t, n)
	if sl.had {
		sh.m[sl.id] = sl.b
		return
	}
	s.insert(sh, t, sl.id, sl.b, keep)
}
