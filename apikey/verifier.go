package apikey

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"maps"
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
	// signalled with Invalidate, take effect at once; changes made
	// elsewhere take effect within CacheTTL.
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
	// (see MaxConcurrentSlowHashes). 0 means 5s; a negative value sets no
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

	// Now returns the current time; nil means time.Now. Tests inject a fake
	// clock here.
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
type Verifier struct {
	format        Format
	store         Store
	hashers       map[string]Hasher
	ttl, negTTL   time.Duration
	negSize       int
	lookupTimeout time.Duration
	maxLookups    int           // <= 0: no bound
	slowSem       chan struct{} // slots for slow hashes; nil: no bound
	interval      time.Duration
	now           func() time.Time
	log           *slog.Logger
	touch         toucher

	mu       sync.RWMutex
	cache    map[string]*entry
	neg      map[string]negEntry // unknown ids
	negRing  []string            // ids in the order added to neg (FIFO), at most negSize
	negHead  int                 // oldest slot of negRing once it is full
	calls    map[string]*call    // look-ups in flight, by id
	inflight int                 // look-up goroutines running (fenced ones included)

	mismatchLogged atomic.Int64 // UnixNano of the last "wrong record" log
	hashErrLogged  atomic.Int64 // … of the last "cannot check stored hash" log
	algoLogged     atomic.Int64 // … of the last "algorithm not accepted" log
	slowWaiting    atomic.Int32 // callers waiting for a slowSem slot; for tests

	pendMu  sync.Mutex
	pending map[string]time.Time // last-use times not yet written

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
	stop      chan struct{}
	done      chan struct{}
}

// entry is a cached store record, with what is needed to check a secret
// against it quickly.
type entry struct {
	key     *Key
	hasher  Hasher
	expires time.Time
	// fast is the SHA-256 of the genuine key: decoded from a sha256 stored
	// hash up front, or recorded after a first successful check with a slow
	// hasher, so the slow hash is paid once per cache lifetime.
	fast      atomic.Pointer[[32]byte]
	lastTouch atomic.Int64 // UnixNano of the last recorded use
	// slow is set for an entry whose hash needs its Hasher (no SHA-256
	// digest up front); it is used until fast is set.
	slow *slowState
}

// slowState serialises slow-hash checks of one entry, so that concurrent
// requests presenting a key on a cold entry run the slow hash once (the
// others then find fast set), and remembers recently rejected keys.
type slowState struct {
	turn    chan struct{} // capacity 1: held while checking a key
	waiting atomic.Int32  // callers waiting for turn; for tests
	failed  *[4][32]byte  // SHA-256 of recently rejected keys; guarded by turn
	nfail   int           // keys rejected so far; guarded by turn
}

// negEntry is an unknown id in the negative cache.
type negEntry struct {
	until time.Time // remembered until then
	slot  int       // its slot in Verifier.negRing
}

// call is one store look-up in flight, shared by everyone waiting for it.
type call struct {
	done    chan struct{}
	waiters int    // guarded by Verifier.mu; for tests
	e       *entry // set before done is closed
	err     error
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
		format:        cfg.Format,
		store:         store,
		hashers:       make(map[string]Hasher),
		ttl:           durationOr(cfg.CacheTTL, 30*time.Second),
		negTTL:        durationOr(cfg.NegativeCacheTTL, 5*time.Second),
		negSize:       cfg.NegativeCacheSize,
		lookupTimeout: durationOr(cfg.LookupTimeout, 5*time.Second),
		interval:      durationOr(cfg.LastUsedInterval, time.Minute),
		now:           cfg.Now,
		log:           cfg.Logger,
		cache:         make(map[string]*entry),
		maxLookups:    cfg.MaxConcurrentLookups,
		neg:           make(map[string]negEntry),
		calls:         make(map[string]*call),
		pending:       make(map[string]time.Time),
		stop:          make(chan struct{}),
		done:          make(chan struct{}),
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
	if v.negSize == 0 {
		v.negSize = 10000
	}
	if v.maxLookups == 0 {
		v.maxLookups = 1024
	}
	switch n := cfg.MaxConcurrentSlowHashes; {
	case n == 0:
		v.slowSem = make(chan struct{}, runtime.GOMAXPROCS(0))
	case n > 0:
		v.slowSem = make(chan struct{}, n)
	}
	if v.negTTL < 0 {
		v.negSize = -1
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	if t, ok := store.(toucher); ok && v.interval > 0 {
		v.touch = t
	}
	tick := v.interval
	if tick <= 0 {
		tick = max(v.ttl, time.Second)
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
	v.mu.RLock()
	e := v.cache[id]
	v.mu.RUnlock()
	if e == nil || !now.Before(e.expires) {
		if !checksumOK(presented) {
			return nil, errChecksum
		}
		var err error
		if e, err = v.lookup(ctx, id, presented, now); e == nil {
			return nil, err
		}
	}
	return v.check(ctx, e, &p, now)
}

// Errors for work refused because too much is in flight.
var (
	errTooManyLookups = fmt.Errorf("%w: too many store look-ups in flight", ErrUnavailable)
	errSlowHashBusy   = fmt.Errorf("%w: timed out waiting to verify a slow hash", ErrUnavailable)
)

// unknownDigest is compared against for unknown ids, so that they cost
// about the same as a wrong secret.
var unknownDigest [32]byte

// lookup finds the entry for id in the negative cache or the store. It
// returns a nil entry with ErrInvalidKey for an unknown id.
func (v *Verifier) lookup(ctx context.Context, id, presented string, now time.Time) (*entry, error) {
	v.mu.Lock()
	if e := v.cache[id]; e != nil && now.Before(e.expires) {
		v.mu.Unlock()
		return e, nil
	}
	if ne, ok := v.neg[id]; ok {
		if now.Before(ne.until) {
			v.mu.Unlock()
			v.burn(presented)
			return nil, ErrInvalidKey
		}
		delete(v.neg, id)
	}
	c := v.calls[id]
	if c == nil {
		if v.maxLookups > 0 && v.inflight >= v.maxLookups {
			v.mu.Unlock()
			return nil, errTooManyLookups
		}
		v.inflight++
		c = &call{done: make(chan struct{})}
		id = strings.Clone(id) // never retain the presented key
		v.calls[id] = c
		go v.run(ctx, id, c)
	}
	c.waiters++
	v.mu.Unlock()

	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	if errors.Is(c.err, ErrNotFound) {
		v.burn(presented)
		return nil, ErrInvalidKey
	}
	return c.e, c.err
}

func (v *Verifier) burn(presented string) {
	sum := sumKey(presented)
	subtle.ConstantTimeCompare(sum[:], unknownDigest[:])
}

// run performs one store look-up for id and publishes the result to the
// waiters of c. The result is cached only if c is still the current call
// for id, that is if no Invalidate(id) happened meanwhile (fencing).
func (v *Verifier) run(ctx context.Context, id string, c *call) {
	lctx := context.WithoutCancel(ctx) // one caller leaving must not fail the others
	if v.lookupTimeout > 0 {
		var cancel context.CancelFunc
		lctx, cancel = context.WithTimeout(lctx, v.lookupTimeout)
		defer cancel()
	}
	k, err := v.safeLookup(lctx, id)
	now := v.now()
	var e *entry
	switch {
	case err == nil && k != nil && k.ID == id:
		e = v.newEntry(k, now)
	case err == nil && k != nil:
		// Typically a case-insensitive collation returning "abc" for "ABC".
		// That record is not the presented key's: id is unknown.
		v.logRarely(&v.mismatchLogged, now, slog.LevelWarn, "apikey: store returned a record with another id; treating the id as unknown (case-insensitive look-up?)",
			"requested", id, "returned", k.ID)
		err = ErrNotFound
	case err == nil:
		err = fmt.Errorf("%w: store returned no record and no error for id %q", ErrUnavailable, id)
	case errors.Is(err, ErrNotFound):
		err = ErrNotFound
	case !errors.Is(err, ErrUnavailable):
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}

	v.mu.Lock()
	v.inflight--
	if v.calls[id] == c {
		delete(v.calls, id)
		if e != nil && v.ttl > 0 {
			v.cache[id] = e
		} else if err == ErrNotFound && v.negSize > 0 {
			v.addNegative(id, now)
		}
	}
	c.e, c.err = e, err
	v.mu.Unlock()
	close(c.done)
}

func (v *Verifier) safeLookup(ctx context.Context, id string) (k *Key, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: store panicked: %v", ErrUnavailable, r)
		}
	}()
	return v.store.LookupKey(ctx, id)
}

// addNegative remembers an unknown id, forgetting the oldest one added if
// negSize ids have been added; v.mu must be held. It takes constant time:
// negRing lists ids in the order added (all live equally long, so the
// oldest expires first). An id removed from neg meanwhile (Invalidate,
// expiry) leaves a stale slot, which is skipped when its turn comes.
func (v *Verifier) addNegative(id string, now time.Time) {
	slot := len(v.negRing)
	if slot < v.negSize {
		v.negRing = append(v.negRing, id)
	} else {
		slot = v.negHead
		v.negHead = (slot + 1) % v.negSize
		if old := v.negRing[slot]; v.neg[old].slot == slot {
			delete(v.neg, old)
		}
		v.negRing[slot] = id
	}
	v.neg[id] = negEntry{until: now.Add(v.negTTL), slot: slot}
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

func (v *Verifier) newEntry(k *Key, now time.Time) *entry {
	e := &entry{key: k, expires: now.Add(v.ttl)}
	e.hasher = v.hashers[HashAlgorithm(k.Hash)]
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

// check compares the presented key with the entry and then the record's state.
func (v *Verifier) check(ctx context.Context, e *entry, p *parsed, now time.Time) (*Key, error) {
	presented := p.key
	var ok bool
	if fast := e.fast.Load(); fast != nil {
		sum := sumKey(presented)
		ok = subtle.ConstantTimeCompare(sum[:], fast[:]) == 1
	} else if e.slow != nil {
		if !checksumOK(presented) { // never genuine: not worth a slow hash
			return nil, errChecksum
		}
		var err error
		ok, err = v.slowCheck(ctx, e, presented)
		if errors.Is(err, ErrUnavailable) {
			return nil, err
		}
		if err != nil {
			// Anyone who knows the (public) id can reach this: log rarely.
			v.logRarely(&v.hashErrLogged, now, slog.LevelError, "apikey: cannot check stored hash", "id", e.key.ID, "err", err)
			return nil, ErrInvalidKey
		}
	} else {
		v.burn(presented)
		v.logRarely(&v.algoLogged, now, slog.LevelError, "apikey: stored hash uses an algorithm this Verifier does not accept",
			"id", e.key.ID, "algorithm", HashAlgorithm(e.key.Hash))
		return nil, ErrInvalidKey
	}
	if !ok {
		if !checksumOK(presented) {
			return nil, errChecksum
		}
		return nil, ErrInvalidKey
	}
	k := e.key
	if k.Type != p.typ || k.Environment != p.env {
		v.log.Error("apikey: record type or environment disagrees with its key", "id", k.ID)
		return nil, ErrInvalidKey
	}
	if err := k.Status(now).Err(); err != nil {
		return nil, err
	}
	v.used(e, now)
	return k, nil
}

// slowCheck checks presented against e's stored hash with e's Hasher. It
// takes e's turn (one check per entry at a time) and then, unless the
// check is no longer needed (fast set by the previous holder, or presented
// rejected recently), a slot of slowSem. Waiting for either ends with an
// error wrapping ErrUnavailable when ctx is done or after lookupTimeout.
func (v *Verifier) slowCheck(ctx context.Context, e *entry, presented string) (bool, error) {
	sum := sumKey(presented)
	var w waiter
	defer w.stop()
	s := e.slow
	if err := w.acquire(ctx, s.turn, &s.waiting, v.lookupTimeout); err != nil {
		return false, err
	}
	defer func() { <-s.turn }()
	if fast := e.fast.Load(); fast != nil {
		return subtle.ConstantTimeCompare(sum[:], fast[:]) == 1, nil
	}
	if s.failed != nil {
		seen := 0
		for i := range min(s.nfail, len(s.failed)) {
			seen |= subtle.ConstantTimeCompare(sum[:], s.failed[i][:])
		}
		if seen == 1 {
			return false, nil
		}
	}
	if v.slowSem != nil {
		if err := w.acquire(ctx, v.slowSem, &v.slowWaiting, v.lookupTimeout); err != nil {
			return false, err
		}
		defer func() { <-v.slowSem }()
	}
	ok, err := e.hasher.Verify(presented, e.key.Hash)
	switch {
	case err != nil:
	case ok:
		e.fast.Store(&sum)
	default:
		if s.failed == nil {
			s.failed = new([4][32]byte)
		}
		s.failed[s.nfail%len(s.failed)] = sum
		s.nfail++
	}
	return ok, err
}

// waiter acquires semaphores (buffered channels) for one caller: at once if
// one is free, otherwise until ctx is done or, across all its waits, a
// timeout has passed.
type waiter struct {
	timer *time.Timer
}

// acquire takes a slot of sem, counting itself in waiting while it waits.
func (w *waiter) acquire(ctx context.Context, sem chan struct{}, waiting *atomic.Int32, timeout time.Duration) error {
	select {
	case sem <- struct{}{}:
		return nil
	default:
	}
	if w.timer == nil && timeout > 0 {
		w.timer = time.NewTimer(timeout)
	}
	var expired <-chan time.Time
	if w.timer != nil {
		expired = w.timer.C
	}
	waiting.Add(1)
	defer waiting.Add(-1)
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	case <-expired:
		return errSlowHashBusy
	}
}

func (w *waiter) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// used notes that e's key was used at now, at most once per interval.
func (v *Verifier) used(e *entry, now time.Time) {
	if v.touch == nil {
		return
	}
	n := now.UnixNano()
	last := e.lastTouch.Load()
	if n-last < int64(v.interval) || v.closed.Load() || !e.lastTouch.CompareAndSwap(last, n) {
		return
	}
	now = now.Round(0) // drop the monotonic reading
	v.pendMu.Lock()
	if t, ok := v.pending[e.key.ID]; !ok || now.After(t) {
		v.pending[e.key.ID] = now
	}
	v.pendMu.Unlock()
}

// Invalidate drops everything cached about id, positive or negative, and
// makes sure that a store look-up for id already in flight does not put
// its (possibly older) result into the cache. Call it after changing a
// record elsewhere than through the Manager that owns this Verifier.
func (v *Verifier) Invalidate(id string) {
	v.mu.Lock()
	delete(v.cache, id)
	delete(v.neg, id)
	delete(v.calls, id) // fence: its result will not be cached
	v.mu.Unlock()
}

// Flush writes pending last-use times to the store now. The background
// goroutine calls it every LastUsedInterval, and Close calls it once more.
func (v *Verifier) Flush(ctx context.Context) error {
	if v.touch == nil {
		return nil
	}
	v.pendMu.Lock()
	batch := v.pending
	if len(batch) == 0 {
		v.pendMu.Unlock()
		return nil
	}
	v.pending = make(map[string]time.Time)
	v.pendMu.Unlock()

	if v.lookupTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, v.lookupTimeout)
		defer cancel()
	}
	err := v.touch.TouchKeys(ctx, batch)
	if err != nil {
		// Keep the batch for the next attempt, without losing newer times.
		v.pendMu.Lock()
		for id, t := range v.pending {
			if t.After(batch[id]) {
				batch[id] = t
			}
		}
		v.pending = batch
		v.pendMu.Unlock()
		v.log.Warn("apikey: writing last-use times failed", "keys", len(batch), "err", err)
		return fmt.Errorf("apikey: writing last-use times: %w", err)
	}
	return nil
}

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
			v.sweep(v.now())
		}
	}
}

// sweep drops expired cache entries, so the cache holds only recently used keys.
func (v *Verifier) sweep(now time.Time) {
	v.mu.Lock()
	maps.DeleteFunc(v.cache, func(_ string, e *entry) bool { return !now.Before(e.expires) })
	maps.DeleteFunc(v.neg, func(_ string, ne negEntry) bool { return !now.Before(ne.until) })
	v.mu.Unlock()
}

// Close stops the background goroutine and writes pending last-use times.
// It is safe to call more than once; Verify keeps working afterwards, but
// no longer records last use.
func (v *Verifier) Close() error {
	v.closeOnce.Do(func() {
		v.closed.Store(true)
		close(v.stop)
		<-v.done
		v.closeErr = v.Flush(context.Background())
	})
	return v.closeErr
}
