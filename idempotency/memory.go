package idempotency

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"
)

// MemoryConfig configures a MemoryStore. The zero value is a working
// configuration.
type MemoryConfig struct {
	// MaxRecords bounds the keys held, claimed or answered. 0 means
	// 1<<20.
	MaxRecords int

	// MaxBytes bounds the bytes of the kept answers and their keys, about.
	// 0 means 64 MiB. The store is split in 16 shards that each hold a
	// sixteenth: an answer bigger than that is not kept (Finish reports
	// false and frees the key).
	MaxBytes int64

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// A MemoryStore is a Store in this process's memory: sharded, bounded by
// count and bytes, with no goroutine of its own. To make room it drops,
// in this order, claims whose lock has ended, answers whose retention has
// ended, then the oldest answers; it never drops a live claim, so when
// the store is full of requests in flight, Begin fails with an error
// wrapping ErrUnavailable.
//
// Create one with NewMemoryStore; the zero MemoryStore is not usable.
type MemoryStore struct {
	seed     maphash.Seed
	now      func() time.Time
	maxCount int   // per shard
	maxBytes int64 // per shard
	shards   [memShards]memShard
}

const memShards = 16

type memKey struct{ account, key string }

type memShard struct {
	mu      sync.Mutex
	m       map[memKey]*memEntry
	bytes   int64
	claims  memEntry // sentinel of the claims in flight, oldest first
	answers memEntry // sentinel of the kept answers, oldest first
	_       [32]byte
}

type memEntry struct {
	k          memKey
	fp         Fingerprint
	token      uint64
	until      int64 // UnixNano: the claim's lock or the answer's retention ends
	answer     *Answer
	size       int64
	prev, next *memEntry
}

// entryOverhead is about what an entry costs beyond its key and answer.
const entryOverhead = 200

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(cfg MemoryConfig) *MemoryStore {
	s := &MemoryStore{seed: maphash.MakeSeed(), now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	count := cfg.MaxRecords
	if count <= 0 {
		count = 1 << 20
	}
	b := cfg.MaxBytes
	if b <= 0 {
		b = 64 << 20
	}
	s.maxCount = max((count+memShards-1)/memShards, 1)
	s.maxBytes = max(b/memShards, 1)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.m = make(map[memKey]*memEntry)
		sh.claims.prev, sh.claims.next = &sh.claims, &sh.claims
		sh.answers.prev, sh.answers.next = &sh.answers, &sh.answers
	}
	return s
}

func (s *MemoryStore) shard(k memKey) *memShard {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(k.account)
	h.WriteByte(0)
	h.WriteString(k.key)
	return &s.shards[h.Sum64()%memShards]
}

// Begin implements Store.
func (s *MemoryStore) Begin(ctx context.Context, account, key string, fp Fingerprint, token uint64, lock time.Duration) (Record, bool, error) {
	k := memKey{account, key}
	now := s.now().UnixNano()
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.m[k]; e != nil {
		if now < e.until {
			return Record{Fingerprint: e.fp, Answer: e.answer}, false, nil
		}
		sh.remove(e)
	}
	size := int64(len(account)+len(key)) + entryOverhead
	if !sh.makeRoom(s, now, size) {
		return Record{}, false, fmt.Errorf("%w: the memory store is full of requests in flight", ErrUnavailable)
	}
	e := &memEntry{k: k, fp: fp, token: token, until: now + int64(lock), size: size}
	sh.m[k] = e
	sh.bytes += size
	sh.claims.pushBack(e)
	return Record{}, true, nil
}

// Finish implements Store.
func (s *MemoryStore) Finish(ctx context.Context, account, key string, token uint64, a *Answer, retain time.Duration) (bool, error) {
	k := memKey{account, key}
	now := s.now().UnixNano()
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.m[k]
	if e == nil || e.answer != nil || e.token != token {
		return false, nil
	}
	if now >= e.until { // the lock ended: the key is free, whoever claims it next
		sh.remove(e)
		return false, nil
	}
	// Take e out while room is made, so that it is neither counted twice
	// nor dropped to make room for itself.
	sh.remove(e)
	size := e.size + int64(a.Size())
	if size > s.maxBytes || !sh.makeRoom(s, now, size) {
		return false, nil // too big, or the shard is full of live claims
	}
	e.answer, e.until, e.size = a, now+int64(retain), size
	sh.m[k] = e
	sh.bytes += size
	sh.answers.pushBack(e)
	return true, nil
}

// Release implements Store.
func (s *MemoryStore) Release(ctx context.Context, account, key string, token uint64) error {
	k := memKey{account, key}
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.m[k]; e != nil && e.answer == nil && e.token == token {
		sh.remove(e)
	}
	return nil
}

// Len returns the number of keys held, claimed or answered, including
// those whose lock or retention has ended but that are not yet dropped.
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

// makeRoom drops entries until one of size bytes fits, and reports
// whether it does. It drops ended claims and answers first, then the
// oldest answers; never a live claim.
func (sh *memShard) makeRoom(s *MemoryStore, now int64, size int64) bool {
	// Ended entries at the front go first, a few at a time, so that a
	// store that is not full still lets go of what it no longer needs.
	for range 2 {
		if e := sh.claims.next; e != &sh.claims && now >= e.until {
			sh.remove(e)
		}
		if e := sh.answers.next; e != &sh.answers && now >= e.until {
			sh.remove(e)
		}
	}
	for len(sh.m) >= s.maxCount || sh.bytes+size > s.maxBytes {
		if e := sh.claims.next; e != &sh.claims && now >= e.until {
			sh.remove(e)
			continue
		}
		if e := sh.answers.next; e != &sh.answers {
			sh.remove(e)
			continue
		}
		return false
	}
	return true
}

func (sh *memShard) remove(e *memEntry) {
	e.unlink()
	delete(sh.m, e.k)
	sh.bytes -= e.size
}

func (l *memEntry) pushBack(e *memEntry) {
	e.prev, e.next = l.prev, l
	l.prev.next = e
	l.prev = e
}

func (e *memEntry) unlink() {
	if e.prev != nil {
		e.prev.next = e.next
		e.next.prev = e.prev
		e.prev, e.next = nil, nil
	}
}
