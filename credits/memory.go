package credits

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryConfig configures a MemoryStore. The zero value is a working
// configuration.
type MemoryConfig struct {
	// MaxAccounts bounds the accounts tracked (an account that has had a
	// daily and a monthly allowance counts twice). Accounts whose balance is
	// from a past period are indistinguishable from new ones and are
	// dropped to make room; when the store holds MaxAccounts balances of
	// the current period, a Spend or Grant for yet another account fails
	// with an error wrapping ErrUnavailable (credits are money: a full
	// store refuses rather than forgets). The bound is exact. 0 means 1<<21
	// (about 2 million).
	MaxAccounts int

	// Now returns the current time for Spend and Grant. Nil means
	// time.Now.
	Now func() time.Time
}

// A MemoryStore is a Store in this process's memory: sharded, bounded,
// with no goroutine of its own. A balance is identified by a 64-bit hash
// of its account's name and kind of period (maphash, seeded per store), so
// that names are not kept: two accounts share a balance only if their
// hashes collide, which for a million accounts has a probability of about
// 3e-8. An account tracked
// costs 24 to 48 bytes, as full as its shard's map happens to be
// (TestMemoryPerAccount measures it at a million accounts).
//
// Create one with NewMemoryStore; the zero MemoryStore is not usable.
type MemoryStore struct {
	seed  maphash.Seed
	now   func() time.Time
	max   int64        // accounts, in all shards
	count atomic.Int64 // accounts, in all shards
	// sweepMu serializes sweeps; swept is the UnixNano until which a
	// sweep that found no account of a past period need not run again
	// (the start of the next day: no balance becomes stale before).
	sweepMu sync.Mutex
	swept   atomic.Int64
	shards  [shards]shard
}

const shards = 64 // a power of two

type shard struct {
	mu sync.Mutex
	m  map[uint64]account
	_  [40]byte // a cache line of its own
}

// account is one balance: what is left of the period with the given index.
type account struct {
	remaining int64
	period    int32 // Period.Index; int32 holds every day until the year 5.8 million
	kind      Period
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(cfg MemoryConfig) *MemoryStore {
	s := &MemoryStore{seed: maphash.MakeSeed(), now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	total := cfg.MaxAccounts
	if total <= 0 {
		total = 1 << 21
	}
	s.max = int64(total)
	for i := range s.shards {
		s.shards[i].m = make(map[uint64]account)
	}
	return s
}

var _ Store = (*MemoryStore)(nil)

// Spend spends cost credits of account at the store's current time; see
// Store. The context is not used: a MemoryStore never waits.
func (s *MemoryStore) Spend(_ context.Context, account string, a Allowance, cost int64) (Balance, bool, error) {
	return s.SpendAt(s.now(), account, a, cost)
}

// Grant adds n credits to account until the current period ends; see Store.
func (s *MemoryStore) Grant(_ context.Context, account string, a Allowance, n int64) (Balance, error) {
	return s.GrantAt(s.now(), account, a, n)
}

var errFull = fmt.Errorf("%w: the memory store holds its maximum of accounts for the current period", ErrUnavailable)

// SpendAt is Spend at time t.
func (s *MemoryStore) SpendAt(t time.Time, name string, a Allowance, cost int64) (Balance, bool, error) {
	if err := CheckArgs(a, cost, false); err != nil {
		return Balance{}, false, err
	}
	h := s.hash(name, a.Period)
	sh := &s.shards[h&(shards-1)]
	period := int32(a.Period.Index(t))
	for swept := false; ; swept = true {
		sh.mu.Lock()
		acct, ok := sh.m[h]
		if !ok || acct.kind != a.Period || acct.period < period {
			acct = account{remaining: a.Credits, period: period, kind: a.Period}
		}
		if cost > acct.remaining {
			sh.mu.Unlock()
			return balance(acct, a), false, nil
		}
		if cost > 0 {
			if !ok && !s.reserve() {
				sh.mu.Unlock()
				if swept || !s.sweep(t) {
					return Balance{}, false, errFull
				}
				continue // the account's balance may have changed meanwhile: read it again
			}
			acct.remaining -= cost
			sh.m[h] = acct
		}
		sh.mu.Unlock()
		return balance(acct, a), true, nil
	}
}

// GrantAt is Grant at time t.
func (s *MemoryStore) GrantAt(t time.Time, name string, a Allowance, n int64) (Balance, error) {
	if err := CheckArgs(a, n, true); err != nil {
		return Balance{}, err
	}
	h := s.hash(name, a.Period)
	sh := &s.shards[h&(shards-1)]
	period := int32(a.Period.Index(t))
	for swept := false; ; swept = true {
		sh.mu.Lock()
		acct, ok := sh.m[h]
		if !ok || acct.kind != a.Period || acct.period < period {
			acct = account{remaining: a.Credits, period: period, kind: a.Period}
		}
		if !ok && !s.reserve() {
			sh.mu.Unlock()
			if swept || !s.sweep(t) {
				return Balance{}, errFull
			}
			continue
		}
		acct.remaining = min(acct.remaining+n, 2*MaxCredits)
		sh.m[h] = acct
		sh.mu.Unlock()
		return balance(acct, a), nil
	}
}

// hash identifies an account's balance for one kind of period: its daily
// and monthly balances are apart.
func (s *MemoryStore) hash(name string, p Period) uint64 {
	return maphash.String(s.seed, name) + uint64(p)*0x9e3779b97f4a7c15
}

// reserve counts one more account, and reports false if the store holds
// its maximum.
func (s *MemoryStore) reserve() bool {
	for {
		n := s.count.Load()
		if n >= s.max {
			return false
		}
		if s.count.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// sweep drops, in every shard, the accounts whose balance is from a past
// period at t, and reports whether it dropped any. A sweep that drops
// none is not repeated before the next day, when balances next become
// stale; so a full store of current balances refuses new accounts at the
// cost of an atomic load. No shard's lock may be held.
func (s *MemoryStore) sweep(t time.Time) bool {
	if t.UnixNano() < s.swept.Load() {
		return false
	}
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	if t.UnixNano() < s.swept.Load() {
		return false
	}
	dropped := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for h, acct := range sh.m {
			if acct.period < int32(acct.kind.Index(t)) {
				delete(sh.m, h)
				dropped++
			}
		}
		sh.mu.Unlock()
	}
	s.count.Add(-int64(dropped))
	if dropped == 0 {
		s.swept.Store(Day.End(t).UnixNano())
	}
	return dropped > 0
}

func balance(acct account, a Allowance) Balance {
	return Balance{Remaining: acct.remaining, Allowance: a, ResetAt: acct.kind.EndOf(int64(acct.period))}
}

// Len returns the number of accounts tracked.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
