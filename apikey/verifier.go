package apikey

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// VerifierConfig configures a Verifier. The zero value is a working
// configuration: every zero field takes the default documented on it.
type VerifierConfig struct {
	// Format is the shape of accepted keys. The zero Format accepts
	// sk_live_… style keys without a service tag.
	Format Format

	// Hashers are the hashers whose stored hashes are accepted, chosen by
	// the algorithm tag of each stored hash. Nil or empty means SHA256 only.
	// Tags must be unique; a nil entry means SHA256.
	Hashers []Hasher

	// CacheTTL is how long a record fetched from the store is reused.
	// 0 means 30s; a negative value disables the cache (every Verify then
	// reads the store, and a slow Hasher is paid on every request).
	// Revocations made through the Manager that owns this Verifier, or
	// signalled with Invalidate (as a change feed does for changes made
	// by other replicas), take effect at once; changes made elsewhere,
	// unsignalled, take effect within CacheTTL.
	CacheTTL time.Duration

	// NegativeCacheTTL is how long an id the store does not know is
	// remembered as unknown, which shields the store from floods of
	// made-up keys. 0 means 5s; a negative value disables negative caching.
	NegativeCacheTTL time.Duration

	// NegativeCacheSize bounds the number of unknown ids remembered. 0 means
	// 10000; a negative value disables negative caching.
	NegativeCacheSize int

	// LookupTimeout bounds each store look-up, whatever the callers'
	// contexts say (callers still stop waiting at their own deadline).
	// It also bounds how long a Verify waits for its turn at a slow hash
	// (see MaxConcurrentSlowHashes). 0 means 1s, so that a hung store costs
	// a request at most a second before its 503; a negative value sets no
	// bound of its own.
	LookupTimeout time.Duration

	// MaxConcurrentLookups bounds the store look-ups in flight at once
	// (concurrent callers presenting one id share one look-up, so this
	// counts distinct ids). A Verify that needs a new look-up beyond it
	// fails at once with an error wrapping ErrUnavailable, so that a hanging
	// store or a flood of made-up ids cannot pile up goroutines and store
	// queries. 0 means 1024; a negative value sets no bound (unwise with a
	// negative LookupTimeout).
	MaxConcurrentLookups int

	// MaxConcurrentSlowHashes bounds the slow-hash verifications (any
	// stored hash but SHA-256: Argon2id costs tens of milliseconds and 19
	// MiB each with its defaults) running at once in this Verifier. A slow
	// hash is needed only until a key has been verified once per cache
	// lifetime, and for wrong secrets presented before that; checks of one
	// key are also run one at a time, and a recently rejected secret is not
	// hashed again. A Verify that needs a slow hash waits for a slot until
	// its ctx is done or LookupTimeout passes, then fails with an error
	// wrapping ErrUnavailable. 0 means runtime.GOMAXPROCS(0) (the hash is
	// CPU-bound: more at once adds memory, not throughput); a negative
	// value sets no bound.
	MaxConcurrentSlowHashes int

	// LastUsedInterval is how often last-use times are written to the store
	// (if it implements TouchKeys, as every ManagedStore does): at most one
	// write per key per interval, batched, by one background goroutine and
	// on Close; never on the request path. 0 means 1m; a negative value
	// disables last-use tracking.
	LastUsedInterval time.Duration

	// Now returns the current time; nil means the wall clock, as time.Now
	// reads it (re-read once a second and advanced by the monotonic clock
	// between: half the cost). Tests inject a fake clock here.
	Now func() time.Time

	// Logger receives the few events worth an operator's attention (store
	// failures while flushing last use, stored hashes that cannot be
	// checked). Nil means slog.Default(). Keys are only ever logged by id.
	Logger *slog.Logger
}

// Verifier checks presented keys against a Store, with caching. Create one
// with NewVerifier, use it concurrently, and Close it when done.
//
// Verify works in this order: parse (malformed keys never reach the store),
// find the record (positive cache, bounded negative cache, concurrent
// look-ups of one id collapsed into one store call), compare hashes in
// constant time, then check revoked, expired and disabled. What is shared
// between concurrent callers is the stored record, never a verdict: every
// caller compares its own secret.
//
// A Verifier is made of parts, each with its own file and tests: the
// record cache with its fenced single-flight look-ups (records.go), the
// negative cache (negcache.go), the comparison of secrets (match.go), the
// gate for slow hashes (slowhash.go), the last-use batcher (lastuse.go)
// and, for a Manager with an event hook, the expiry watch (expiry.go).
type Verifier struct {
	format  Format
	hashers map[string]Hasher
	now     func() time.Time
	log     *slog.Logger

	records *recordCache
	slow    slowGate
	lastUse *lastUse
	expiry  *expiryWatch // set by a Manager with an OnEvent hook

	mismatchLogged atomic.Int64 // UnixNano of the last "wrong record" log
	hashErrLogged  atomic.Int64 // … of the last "cannot check stored hash" log
	algoLogged     atomic.Int64 // … of the last "algorithm not accepted" log

	closeOnce sync.Once
	closeErr  error
	stop      chan struct{}
	done      chan struct{}
}

// NewVerifier returns a Verifier reading records from store. It starts one
// background goroutine (for last-use writes and cache sweeping), stopped by
// Close.
func NewVerifier(store Store, cfg VerifierConfig) (*Verifier, error) {
	if store == nil {
		return nil, errors.New("apikey: NewVerifier needs a Store")
	}
	if err := cfg.Format.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{
		format:  cfg.Format,
		hashers: make(map[string]Hasher),
		now:     cfg.Now,
		log:     cfg.Logger,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if v.now == nil {
		v.now = new(wallClock).Now
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	hashers := cfg.Hashers
	if len(hashers) == 0 {
		hashers = []Hasher{SHA256{}}
	}
	for _, h := range hashers {
		if h == nil {
			h = SHA256{}
		}
		tag := h.Algorithm()
		if _, dup := v.hashers[tag]; dup || tag == "" || strings.Contains(tag, "$") {
			return nil, fmt.Errorf("apikey: duplicate or invalid hasher algorithm %q", tag)
		}
		v.hashers[tag] = h
	}

	ttl := durationOr(cfg.CacheTTL, 30*time.Second)
	timeout := durationOr(cfg.LookupTimeout, time.Second)
	negTTL, negSize := durationOr(cfg.NegativeCacheTTL, 5*time.Second), cfg.NegativeCacheSize
	if negSize == 0 {
		negSize = 10000
	}
	if negTTL < 0 {
		negSize = -1
	}
	maxLookups := cfg.MaxConcurrentLookups
	if maxLookups == 0 {
		maxLookups = 1024
	}
	v.records = &recordCache{
		store:    store,
		ttl:      ttl,
		timeout:  timeout,
		max:      maxLookups,
		now:      v.now,
		newEntry: func(k *Key, now time.Time) *entry { return newEntry(k, now, ttl, v.hashers) },
		mismatch: func(requested, returned string, now time.Time) {
			v.logRarely(&v.mismatchLogged, now, slog.LevelWarn, "apikey: store returned a record with another id; treating the id as unknown (case-insensitive look-up?)",
				"requested", requested, "returned", returned)
		},
		records: make(map[string]*entry),
		unknown: newNegCache(negTTL, negSize),
		calls:   make(map[string]*call),
	}

	v.slow.timeout = timeout
	switch n := cfg.MaxConcurrentSlowHashes; {
	case n == 0:
		v.slow.sem = make(chan struct{}, runtime.GOMAXPROCS(0))
	case n > 0:
		v.slow.sem = make(chan struct{}, n)
	}

	interval := durationOr(cfg.LastUsedInterval, time.Minute)
	var touch toucher
	if t, ok := store.(toucher); ok && interval > 0 {
		touch = t
	}
	v.lastUse = newLastUse(touch, interval, timeout, v.log)

	tick := interval
	if tick <= 0 {
		tick = max(ttl, time.Second)
	}
	go v.loop(tick)
	return v, nil
}

func durationOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Verify checks a presented key and returns its record.
//
// The returned *Key is shared with other callers and the cache: do not
// modify it (Clone it first). Errors:
//   - malformed keys: a *FormatError (matching ErrMalformed and ErrInvalidKey),
//     without any store access;
//   - unknown id or wrong secret: ErrInvalidKey, indistinguishable;
//   - ErrRevoked, ErrExpired, ErrDisabled: only once the secret matched;
//   - store failure, store timeout, ctx done while waiting, or too much
//     work in flight (MaxConcurrentLookups, MaxConcurrentSlowHashes): an
//     error wrapping ErrUnavailable (never ErrInvalidKey).
//
// Verify does not allocate when the record is cached and its hash is SHA-256.
func (v *Verifier) Verify(ctx context.Context, presented string) (*Key, error) {
	// The checksum is tested only where it matters (see parseShape):
	// before a store look-up, and to classify a mismatch.
	var p parsed
	if err := v.format.parseShape(presented, &p); err != nil {
		return nil, err
	}
	now := v.now()
	id := p.id()
	e := v.records.get(id, now)
	if e == nil {
		if !checksumOK(presented) {
			return nil, errChecksum
		}
		var err error
		if e, err = v.records.lookup(ctx, id, now); e == nil {
			if errors.Is(err, ErrNotFound) {
				v.burn(presented)
				return nil, ErrInvalidKey
			}
			return nil, err
		}
	}
	return v.check(ctx, e, &p, now)
}

// unknownDigest is compared against for unknown ids, so that they cost
// about the same as a wrong secret.
var unknownDigest [32]byte

func (v *Verifier) burn(presented string) {
	sum := sumKey(presented)
	subtle.ConstantTimeCompare(sum[:], unknownDigest[:])
}

// logRarely logs msg at level unless it was logged, as recorded in
// last, less than a minute ago: for events a client can trigger at will.
func (v *Verifier) logRarely(last *atomic.Int64, now time.Time, level slog.Level, msg string, args ...any) {
	n, l := now.UnixNano(), last.Load()
	if l != 0 && n-l < int64(time.Minute) || !last.CompareAndSwap(l, n) {
		return
	}
	v.log.Log(context.Background(), level, msg, args...)
}

// check compares the presented key with the entry and then the record's state.
func (v *Verifier) check(ctx context.Context, e *entry, p *parsed, now time.Time) (*Key, error) {
	if err := v.match(ctx, e, p, now); err != nil {
		return nil, err
	}
	k := e.key
	if v.expiry != nil && !k.ExpiresAt.IsZero() && k.RevokedAt.IsZero() {
		v.expiry.observe(ctx, e, k, now)
	}
	if err := k.Status(now).Err(); err != nil {
		return nil, err
	}
	v.lastUse.used(k.ID, &e.lastTouch, now)
	return k, nil
}

// Invalidate drops everything cached about id, positive or negative, and
// makes sure that a store look-up for id already in flight does not put
// its (possibly older) result into the cache. Call it after changing a
// record elsewhere than through the Manager that owns this Verifier.
func (v *Verifier) Invalidate(id string) { v.records.forget(id) }

// InvalidateAll is Invalidate for every id: it drops every record cached,
// so that each is read from the store again at its next use. A change
// feed calls it when it starts listening, and again whenever it has to
// listen anew, since changes made while it was not listening went unseen.
func (v *Verifier) InvalidateAll() { v.records.forgetAll() }

// An Invalidator forgets cached key records: a *Verifier is one (a
// Manager's is its Verifier()). Change feeds, which hear of changes made
// by other replicas (apikey/sqlstore's Store.Watch on PostgreSQL, or a
// Redis channel), call Invalidate for each changed id and InvalidateAll
// whenever they (re)start listening.
type Invalidator interface {
	Invalidate(id string)
	InvalidateAll()
}

var _ Invalidator = (*Verifier)(nil)

// Flush writes pending last-use times to the store now. The background
// goroutine calls it every LastUsedInterval, and Close calls it once more.
func (v *Verifier) Flush(ctx context.Context) error { return v.lastUse.flush(ctx) }

func (v *Verifier) loop(tick time.Duration) {
	defer close(v.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
			v.Flush(context.Background())
			v.records.sweep(v.now())
		}
	}
}

// Close stops the background goroutine and writes pending last-use times.
// It is safe to call more than once; Verify keeps working afterwards, but
// no longer records last use.
func (v *Verifier) Close() error {
	v.closeOnce.Do(func() {
		v.lastUse.close()
		close(v.stop)
		<-v.done
		v.closeErr = v.lastUse.flush(context.Background())
	})
	return v.closeErr
}
