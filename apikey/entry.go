package apikey

import (
	"crypto/subtle"
	"strings"
	"sync/atomic"
	"time"
)

// entry is a cached store record, with what is needed to check a secret
// against it quickly.
type entry struct {
	key     *Key
	hasher  Hasher // nil: its algorithm is not accepted
	expires time.Time
	// fast is the SHA-256 of the genuine key: decoded from a sha256 stored
	// hash up front, or recorded after a first successful check with a slow
	// hasher, so that the slow hash is paid once per cache lifetime.
	fast      atomic.Pointer[[32]byte]
	lastTouch atomic.Int64 // UnixNano of the last recorded use
	// expiryStage is the last stage of the key's expiry that the
	// Verifier's expiryWatch was told of (see expiry.go).
	expiryStage atomic.Uint32
	// slow is set for an entry whose hash needs its Hasher (no SHA-256
	// digest up front); it is used until fast is set.
	slow *slowState
}

// newEntry returns the entry for k, read at now, kept for ttl; hashers are
// the accepted hashers by algorithm tag.
func newEntry(k *Key, now time.Time, ttl time.Duration, hashers map[string]Hasher) *entry {
	e := &entry{key: k, expires: now.Add(ttl)}
	e.hasher = hashers[HashAlgorithm(k.Hash)]
	if _, ok := e.hasher.(SHA256); ok {
		if d, ok := decodeDigest(strings.TrimPrefix(k.Hash, "sha256$")); ok {
			e.fast.Store(&d)
		}
	}
	if e.fast.Load() == nil && e.hasher != nil {
		e.slow = &slowState{turn: make(chan struct{}, 1)}
	}
	if !k.LastUsedAt.IsZero() {
		e.lastTouch.Store(k.LastUsedAt.UnixNano())
	}
	return e
}

// matchesFast compares the SHA-256 of a presented key with the genuine
// key's, in constant time. It reports false when the entry has no fast
// digest yet.
func (e *entry) matchesFast(sum *[32]byte) (match, known bool) {
	fast := e.fast.Load()
	if fast == nil {
		return false, false
	}
	return subtle.ConstantTimeCompare(sum[:], fast[:]) == 1, true
}
