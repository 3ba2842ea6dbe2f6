package middleware

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
)

// AuthThrottle slows down key guessing. It counts the invalid_api_key
// answers each client address receives (and the 503s of look-ups refused
// for want of slots, see Authenticator.Throttle) in a token bucket; once a
// failure has emptied the bucket, every request from that address, valid keys
// included, gets 429 rate_limit_exceeded with Retry-After before its key is
// looked up, until the bucket holds a token again. With a limit of
// 100/minute, the 100th invalid key is answered 401 and the next request
// 429. IPv6 clients are grouped by /64.
//
// Attach it to an Authenticator (its Throttle field); the Authenticator's
// Proxies resolve client addresses. The zero value is ready to use. It
// takes its configuration on first use (the Authenticator's Handler uses
// it, and panics there if the Limit is invalid); change it before that,
// never after. It is safe for concurrent use and may be shared by several
// Authenticators, which then share one count per address.
//
// With a shared Store, failures anywhere in a fleet drain the same bucket.
// Each replica learns that an address is blocked when one of its own
// failures finds the bucket empty, so a fleet of N replicas lets through at
// most N-1 more failures than the limit.
type AuthThrottle struct {
	// Limit is the failures allowed per client address: a bucket of
	// Limit.Capacity() failures, refilled at Limit's rate. The zero Limit
	// means 100/minute.
	Limit ratelimit.Limit

	// Store counts failures. Nil means an in-memory store of its own.
	Store ratelimit.Store

	// Now is the clock of the list of blocked addresses. Nil means
	// time.Now.
	Now func() time.Time

	// MaxBlocked bounds the addresses blocked at once. When full, a sample
	// of up to 32 entries is examined: expired ones are dropped, and if
	// none was, the one of them that expires soonest. 0 means 65536.
	MaxBlocked int

	once    sync.Once
	policy  ratelimit.Policy
	store   ratelimit.Store
	now     func() time.Time
	max     int
	n       atomic.Int64 // len(blocked), read without the lock
	mu      sync.Mutex
	blocked map[netip.Addr]time.Time // client → blocked until
}

// defaultAuthFailures is the zero AuthThrottle's Limit.
var defaultAuthFailures = ratelimit.PerMinute(100)

// init takes the configuration, once. It panics on an invalid Limit.
func (t *AuthThrottle) init() {
	t.once.Do(func() {
		l := t.Limit
		if l == (ratelimit.Limit{}) {
			l = defaultAuthFailures
		}
		if err := l.Validate(); err != nil {
			panic("middleware: AuthThrottle.Limit: " + err.Error())
		}
		t.policy = ratelimit.Policy{l}
		t.store = t.Store
		if t.store == nil {
			t.store = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: t.Now})
		}
		t.now = t.Now
		if t.now == nil {
			t.now = time.Now
		}
		t.max = t.MaxBlocked
		if t.max <= 0 {
			t.max = 1 << 16
		}
		t.blocked = make(map[netip.Addr]time.Time)
	})
}

// anyBlocked reports whether any address may be blocked: one atomic load.
func (t *AuthThrottle) anyBlocked() bool { return t.n.Load() != 0 }

// Blocked reports whether client may not authenticate now, and for how
// much longer. It changes nothing but the removal of an expired block.
func (t *AuthThrottle) Blocked(client netip.Addr) (time.Duration, bool) {
	t.init()
	if !t.anyBlocked() {
		return 0, false
	}
	client = clientGroup(client)
	t.mu.Lock()
	defer t.mu.Unlock()
	until, ok := t.blocked[client]
	if !ok {
		return 0, false
	}
	if left := until.Sub(t.now()); left > 0 {
		return left, true
	}
	delete(t.blocked, client)
	t.n.Store(int64(len(t.blocked)))
	return 0, false
}

// Failed records a failed authentication from client and reports whether
// this failure was past the limit (the bucket was already empty: answer
// 429), and for how long the client is blocked. A failure that empties the
// bucket is within the limit: it is answered as usual, and blocks the
// client's next requests. A store failure is returned; the caller decides
// what it means (the Authenticator logs it and answers the 401 anyway).
func (t *AuthThrottle) Failed(ctx context.Context, client netip.Addr) (time.Duration, bool, error) {
	t.init()
	client = clientGroup(client)
	key := "authfail:unknown"
	if client.IsValid() {
		key = "authfail:" + client.String()
	}
	d, err := t.store.Take(ctx, key, t.policy, 1)
	if err != nil {
		return 0, false, err
	}
	if d.Allowed {
		if d.Remaining == 0 {
			// This failure took the last whole token. The bucket then holds
			// c - r·ResetAfter tokens (c its capacity, r its rate), so one
			// token is back after ResetAfter - (c-1)/r.
			l := t.policy[0]
			perToken := float64(l.Window) / float64(l.Requests)
			if wait := d.ResetAfter - time.Duration(float64(l.Capacity()-1)*perToken); wait > 0 {
				t.block(client, wait)
			}
		}
		return 0, false, nil
	}
	if d.RetryAfter == ratelimit.Never {
		return 0, false, errors.New("middleware: AuthThrottle limit has no capacity")
	}
	t.block(client, d.RetryAfter)
	return d.RetryAfter, true, nil
}

func (t *AuthThrottle) block(client netip.Addr, d time.Duration) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.blocked[client]; !ok && len(t.blocked) >= t.max {
		// Bounded work under the lock that every Blocked call takes: look at
		// a sample (map order is random), never the whole list.
		var soonest netip.Addr
		var soonestAt time.Time
		dropped, seen := false, 0
		for a, until := range t.blocked {
			if !until.After(now) {
				delete(t.blocked, a)
				dropped = true
			} else if !soonest.IsValid() || until.Before(soonestAt) {
				soonest, soonestAt = a, until
			}
			if seen++; seen == 32 {
				break
			}
		}
		if !dropped {
			delete(t.blocked, soonest)
		}
	}
	t.blocked[client] = now.Add(d)
	t.n.Store(int64(len(t.blocked)))
}
