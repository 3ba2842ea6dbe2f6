package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"sync"
	"time"

	"golang.org/x/time/rate"
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
	// full (missing the fewest tokens). Eviction forgives the evicted key what it consumed (its next
	// request finds a full bucket), so the cap trades exactness for memory
	// under a flood of keys; choosing the fullest bucket keeps the excess
	// small and protects keys that have used much of their allowance — a
	// flood of fresh keys, each nearly full, mostly evicts itself.
	// Default: DefaultMaxBuckets (1<<20: about 125 MB at the ~118 bytes a
	// bucket costs).
	MaxBuckets int

	// Shards is the number of independently locked partitions, rounded up
	// to a power of two (at most 1<<16, and at most MaxBuckets).
	// Default: DefaultShards.
	Shards int
}

// A MemoryStore is an in-process Store of token buckets
// (golang.org/x/time/rate Limiters), for a single server.
//
// Keys are not stored: a bucket is found by a 64-bit hash (hash/maphash,
// seeded randomly per store) of the key together with the limit's position
// and parameters in the policy. A tracked bucket costs about 118 bytes of
// heap: an 80-byte rate.Limiter and its map slot. Two keys colliding on all
// 64 bits would share a bucket; among a million keys that has a probability
// of about 3e-8, and since the seed is secret clients cannot aim for it.
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

type shard struct {
	mu      sync.Mutex
	m       map[uint64]*rate.Limiter
	last    time.Time // latest time used by this shard; never decreases
	ops     uint32    // Takes since creation, for the periodic sample sweep
	inserts int       // buckets created since the last full sweep
	sweepAt int       // len(m) at which a new bucket triggers a full sweep
	peak    int       // largest len(m) since m was allocated
	evicted uint64    // buckets evicted by the cap
	_       [40]byte  // keep hot shards on separate cache lines
}

const (
	sampleEvery = 64 // Takes between sample sweeps of a shard
	sampleSize  = 4  // buckets examined by a sample sweep
	evictSample = 32 // buckets examined to pick one to evict
	minSweepAt  = 64 // smallest size that triggers a full sweep
	minRebuild  = 1024
)

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
		t := sh.monotonic(s.now(at, useClock))
		dropped += sh.sweepAll(t)
		sh.mu.Unlock()
	}
	return dropped
}

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

// slot is a limit's bucket during a Take.
type slot struct {
	lim  *rate.Limiter // nil: no bucket, so it is full
	id   uint64
	tok  float64 // tokens available before the Take
	size int     // capacity
	r    rate.Limit
}

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
	size, r, id := l.Capacity(), l.Rate(), bucketID(h, 0, *l)
	d := Decision{Limit: *l}

	sh.mu.Lock()
	t := sh.monotonic(s.now(at, useClock))
	lim := sh.m[id]
	tok := float64(size)
	if lim != nil {
		tok = lim.TokensAt(t)
	}
	if tok >= float64(n) {
		if lim == nil {
			lim = rate.NewLimiter(r, size)
			s.insert(sh, t, id, lim, nil)
		}
		lim.AllowN(t, n) // cannot fail: TokensAt(t) >= n under the lock
		left := tok - float64(n)
		d.Allowed, d.Remaining = true, int(left)
		d.ResetAfter = refillAfter(left, float64(size), r)
	} else {
		d.Remaining = int(tok)
		if n > size {
			d.RetryAfter = Never
		} else {
			d.RetryAfter = waitFor(lim, t, tok, float64(n), r)
		}
		d.ResetAfter = waitFor(lim, t, tok, float64(size), r)
	}
	if sh.ops++; sh.ops%sampleEvery == 0 {
		sh.sweepSample(t)
	}
	sh.mu.Unlock()
	return d
}

// takeMany is take for a policy of several limits.
func (s *MemoryStore) takeMany(sh *shard, at time.Time, useClock bool, h uint64, p Policy, n int) Decision {
	var buf [4]slot
	slots := buf[:0]
	if len(p) > len(buf) {
		slots = make([]slot, 0, len(p))
	}

	sh.mu.Lock()
	t := sh.monotonic(s.now(at, useClock))
	ok := true
	for i, l := range p {
		sl := slot{id: bucketID(h, i, l), size: l.Capacity(), r: l.Rate()}
		sl.tok = float64(sl.size)
		if sl.lim = sh.m[sl.id]; sl.lim != nil {
			sl.tok = sl.lim.TokensAt(t)
		}
		if sl.tok < float64(n) {
			ok = false
		}
		slots = append(slots, sl)
	}
	if ok {
		for i := range slots {
			sl := &slots[i]
			if sl.lim == nil {
				sl.lim = rate.NewLimiter(sl.r, sl.size)
				s.insert(sh, t, sl.id, sl.lim, slots)
			}
			sl.lim.AllowN(t, n) // cannot fail: TokensAt(t) >= n under the lock
		}
	}
	d := decide(p, slots, t, n, ok)
	if sh.ops++; sh.ops%sampleEvery == 0 {
		sh.sweepSample(t)
	}
	sh.mu.Unlock()
	return d
}

// decide builds the Decision. When allowed, every bucket's state is exactly
// tok-n tokens as of t (AllowN records it), so its future is computed without
// asking it. When rejected, the buckets are left untouched — a rejected
// request must not even perturb their floating-point state, or a client
// retrying early could move its own retry time — and are asked with TokensAt.
// sh.mu must be held.
func decide(p Policy, slots []slot, t time.Time, n int, ok bool) Decision {
	var d Decision
	if len(slots) > 1 {
		d.States = make([]LimitState, len(slots))
	}
	best := -1
	var bestState LimitState
	for i := range slots {
		sl := &slots[i]
		st := LimitState{Limit: p[i]}
		size := float64(sl.size)
		if ok {
			left := sl.tok - float64(n)
			st.Remaining = int(left)
			st.ResetAfter = refillAfter(left, size, sl.r)
		} else {
			st.Remaining = int(sl.tok)
			switch {
			case n > sl.size:
				st.RetryAfter = Never
			default:
				st.RetryAfter = waitFor(sl.lim, t, sl.tok, float64(n), sl.r)
			}
			st.ResetAfter = waitFor(sl.lim, t, sl.tok, size, sl.r)
		}
		if d.States != nil {
			d.States[i] = st
		}
		if best < 0 || tighter(st, bestState, ok) {
			best, bestState = i, st
		}
		d.RetryAfter = max(d.RetryAfter, st.RetryAfter)
	}
	d.Allowed = ok
	d.Limit = bestState.Limit
	d.Remaining = bestState.Remaining
	d.ResetAfter = bestState.ResetAfter
	return d
}

// tighter reports whether a is a tighter limit than b.
func tighter(a, b LimitState, allowed bool) bool {
	if !allowed && a.RetryAfter != b.RetryAfter {
		return a.RetryAfter > b.RetryAfter
	}
	if a.Remaining != b.Remaining {
		return a.Remaining < b.Remaining
	}
	return a.ResetAfter > b.ResetAfter
}

// estimate returns need/r seconds, rounded up to the nanosecond (at least 1ns
// and at most Never).
func estimate(need float64, r rate.Limit) time.Duration {
	ns := math.Ceil(need / float64(r) * 1e9)
	switch {
	case ns < 1:
		return 1
	case ns >= float64(math.MaxInt64):
		return Never
	}
	return time.Duration(ns)
}

// refillAfter returns the shortest d after which a bucket holding tok tokens
// now, with its state recorded now (after AllowN), holds target
// tokens. The test is the expression x/time/rate's advance evaluates
// (tokens + elapsed.Seconds()*limit), so the answer is exact to the
// nanosecond, not an estimate.
func refillAfter(tok, target float64, r rate.Limit) time.Duration {
	if tok >= target {
		return 0
	}
	return shortest(estimate(target-tok, r), func(d time.Duration) bool {
		return tok+d.Seconds()*float64(r) >= target
	})
}

// waitFor returns the shortest d after which lim, holding tok tokens at t,
// holds target tokens, asking lim itself (TokensAt does not change it).
func waitFor(lim *rate.Limiter, t time.Time, tok, target float64, r rate.Limit) time.Duration {
	if tok >= target {
		return 0
	}
	return shortest(estimate(target-tok, r), func(d time.Duration) bool {
		return lim.TokensAt(t.Add(d)) >= target
	})
}

// shortest returns the smallest d > 0 with ok(d), for a non-decreasing ok
// with ok(0) false, starting from the estimate est (usually exact, so two
// calls of ok suffice). It returns Never if no d up to Never satisfies ok.
func shortest(est time.Duration, ok func(time.Duration) bool) time.Duration {
	lo, hi := time.Duration(0), est // ok(lo) is false
	for step := time.Duration(1); !ok(hi); step *= 2 {
		if hi >= Never-step {
			if !ok(Never) {
				return Never
			}
			lo, hi = hi, Never
			break
		}
		lo, hi = hi, hi+step
	}
	for step := time.Duration(1); hi-lo > 1; step *= 2 { // gallop down
		probe := hi - step
		if probe <= lo {
			break
		}
		if !ok(probe) {
			lo = probe
			break
		}
		hi = probe
	}
	for hi-lo > 1 { // bisect
		mid := lo + (hi-lo)/2
		if ok(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// isFull reports whether lim has refilled to capacity at t.
func isFull(lim *rate.Limiter, t time.Time) bool {
	return lim.TokensAt(t) >= float64(lim.Burst())
}

// insert adds a new bucket, first making room if the shard is at a sweep
// threshold or at its cap; it never evicts the buckets of the current
// request (keep). sh.mu must be held.
func (s *MemoryStore) insert(sh *shard, t time.Time, id uint64, lim *rate.Limiter, keep []slot) {
	if sh.m == nil {
		sh.m = make(map[uint64]*rate.Limiter)
	}
	if n := len(sh.m); n >= sh.sweepAt || n >= s.shardCap {
		if sh.inserts >= n/8 {
			sh.sweepAll(t)
		}
		if len(sh.m) >= s.shardCap {
			sh.evict(t, keep)
		}
	}
	sh.m[id] = lim
	sh.inserts++
	sh.peak = max(sh.peak, len(sh.m))
}

// sweepAll drops every full bucket of sh and returns how many. If the map
// has shrunk to a quarter of its peak, it is rebuilt so that its memory is
// released. sh.mu must be held.
func (sh *shard) sweepAll(t time.Time) int {
	before := len(sh.m)
	for id, lim := range sh.m {
		if isFull(lim, t) {
			delete(sh.m, id)
		}
	}
	if sh.peak >= minRebuild && len(sh.m) <= sh.peak/4 {
		m := make(map[uint64]*rate.Limiter, len(sh.m))
		for id, lim := range sh.m {
			m[id] = lim
		}
		sh.m, sh.peak = m, len(m)
	}
	sh.inserts = 0
	sh.sweepAt = max(2*len(sh.m), minSweepAt)
	return before - len(sh.m)
}

// sweepSample drops the full buckets among a few, starting at a random
// position of the map. sh.mu must be held.
func (sh *shard) sweepSample(t time.Time) {
	i := 0
	for id, lim := range sh.m {
		if isFull(lim, t) {
			delete(sh.m, id)
		}
		if i++; i == sampleSize {
			break
		}
	}
}

// evict removes, among evictSample buckets from a random position of the
// map, the one closest to full: the one missing the fewest tokens, whose
// eviction forgives the least consumption. sh.mu must be held.
//
// The sample is long because a map range samples neighbours, and a random
// start favours entries that follow empty slots; evicting from a short
// sample creates exactly such gaps around surviving entries.
func (sh *shard) evict(t time.Time, keep []slot) {
	var victim uint64
	best, i := math.Inf(1), 0
outer:
	for id, lim := range sh.m {
		for _, k := range keep {
			if k.id == id {
				continue outer
			}
		}
		if missing := float64(lim.Burst()) - lim.TokensAt(t); missing < best {
			victim, best = id, missing
		}
		if i++; i == evictSample {
			break
		}
	}
	if best != math.Inf(1) {
		delete(sh.m, victim)
		sh.evicted++
	}
}
