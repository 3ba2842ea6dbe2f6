package apikey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// keyFixture creates keys directly in a store (no Manager) for Verifier tests.
type keyFixture struct {
	t     *testing.T
	store *MemoryStore
	r     *lockedReader
	h     Hasher
}

func newFixture(t *testing.T, h Hasher) *keyFixture {
	if h == nil {
		h = SHA256{}
	}
	return &keyFixture{t: t, store: new(MemoryStore), r: &lockedReader{r: seeded(11)}, h: h}
}

func (f *keyFixture) add(typ Type, env Environment, edit func(*Key)) Token {
	f.t.Helper()
	tok, err := Format{}.Generate(f.r, typ, env)
	if err != nil {
		f.t.Fatal(err)
	}
	hash, err := f.h.Hash(tok.Reveal())
	if err != nil {
		f.t.Fatal(err)
	}
	k := &Key{ID: tok.ID(), Type: typ, Environment: env, Hash: hash, CreatedAt: newClock().Now()}
	if edit != nil {
		edit(k)
	}
	if err := f.store.CreateKey(context.Background(), k); err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// wrongSecret returns tok's key with secret character i changed and a valid
// checksum, so it parses and reaches the hash comparison.
func wrongSecret(tok Token, i int) string {
	s := []byte(tok.Reveal())
	at := int(tok.body) + IDLen + i
	if s[at] == 'A' {
		s[at] = 'B'
	} else {
		s[at] = 'A'
	}
	return withChecksum(string(s))
}

func newVerifier(t *testing.T, s Store, cfg VerifierConfig) *Verifier {
	t.Helper()
	v, err := NewVerifier(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func TestVerifyOutcomes(t *testing.T) {
	fx := newFixture(t, nil)
	clk := newClock()
	good := fx.add(SecretKey, Live, nil)
	expired := fx.add(SecretKey, Live, func(k *Key) { k.ExpiresAt = clk.Now() })
	revoked := fx.add(SecretKey, Test, func(k *Key) { k.RevokedAt = clk.Now(); k.ExpiresAt = clk.Now() })
	disabled := fx.add(PublishableKey, Live, func(k *Key) { k.Disabled = true })
	mislabeled := fx.add(SecretKey, Live, func(k *Key) { k.Type = PublishableKey })
	unknown, _ := Format{}.Generate(seeded(99), SecretKey, Live)
	other, _ := Format{Service: "acme"}.Generate(seeded(3), SecretKey, Live)
	badChecksum := good.Reveal()[:len(good.Reveal())-1] + "0"
	if badChecksum == good.Reveal() {
		badChecksum = good.Reveal()[:len(good.Reveal())-1] + "1"
	}

	for _, cacheTTL := range []time.Duration{0, -1} {
		cs := &countingStore{ManagedStore: fx.store}
		v := newVerifier(t, cs, VerifierConfig{Now: clk.Now, CacheTTL: cacheTTL})
		for _, tc := range []struct {
			name       string
			in         string
			want       error // matched with errors.Is; nil means success
			notTouched bool  // must not reach the store
		}{
			{"good", good.Reveal(), nil, false},
			{"good again", good.Reveal(), nil, false},
			{"wrong secret", wrongSecret(good, 5), ErrInvalidKey, false},
			{"unknown id", unknown.Reveal(), ErrInvalidKey, false},
			{"expired", expired.Reveal(), ErrExpired, false},
			{"expired, wrong secret", wrongSecret(expired, 0), ErrInvalidKey, false},
			{"revoked", revoked.Reveal(), ErrRevoked, false},
			{"revoked, wrong secret", wrongSecret(revoked, 31), ErrInvalidKey, false},
			{"disabled", disabled.Reveal(), ErrDisabled, false},
			{"record disagrees with key type", mislabeled.Reveal(), ErrInvalidKey, false},
			{"bad checksum", badChecksum, ErrMalformed, true},
			{"other format", other.Reveal(), ErrMalformed, true},
			{"garbage", "Bearer hunter2", ErrMalformed, true},
			{"empty", "", ErrMalformed, true},
		} {
			before := cs.lookups.Load()
			k, err := v.Verify(t.Context(), tc.in)
			switch {
			case tc.want == nil && (err != nil || k == nil || k.ID != good.ID()):
				t.Errorf("ttl %v: %s: Verify(%s) = %v, %v; want the key", cacheTTL, tc.name, Redact(tc.in), k, err)
			case tc.want != nil && (!errors.Is(err, tc.want) || k != nil):
				t.Errorf("ttl %v: %s: Verify(%s) = %v, %v; want %v", cacheTTL, tc.name, Redact(tc.in), k, err, tc.want)
			}
			if errors.Is(err, ErrInvalidKey) && err != ErrInvalidKey && !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: unknown and wrong-secret keys must return ErrInvalidKey itself, got %v", tc.name, err)
			}
			if tc.notTouched && cs.lookups.Load() != before {
				t.Errorf("%s: a malformed key reached the store", tc.name)
			}
		}
	}
}

func TestVerifyStoreFailure(t *testing.T) {
	tok, _ := Format{}.Generate(seeded(1), SecretKey, Live)
	for _, storeErr := range []error{errors.New("connection refused"), context.DeadlineExceeded, ErrUnavailable} {
		v := newVerifier(t, failingStore{storeErr}, VerifierConfig{})
		_, err := v.Verify(t.Context(), tok.Reveal())
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidKey) {
			t.Errorf("store error %v: Verify = %v; want ErrUnavailable and not ErrInvalidKey", storeErr, err)
		}
		if strings.Contains(err.Error(), tok.Reveal()[20:30]) {
			t.Errorf("error leaks the key")
		}
	}
	// A panicking store is a failure, not a crash.
	v := newVerifier(t, panicStore{}, VerifierConfig{})
	if _, err := v.Verify(t.Context(), tok.Reveal()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("panicking store: Verify = %v, want ErrUnavailable", err)
	}
}

type panicStore struct{}

func (panicStore) LookupKey(context.Context, string) (*Key, error) { panic("boom") }

func TestVerifyHonoursDeadline(t *testing.T) {
	fx := newFixture(t, nil)
	tok := fx.add(SecretKey, Live, nil)
	gs := newGateStore(fx.store)
	v := newVerifier(t, gs, VerifierConfig{})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err := v.Verify(ctx, tok.Reveal())
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrInvalidKey) {
		t.Errorf("Verify with a hanging store = %v; want ErrUnavailable wrapping DeadlineExceeded", err)
	}
	// The look-up itself carries on (one caller leaving does not fail the
	// others) and, once released, serves later callers.
	close(gs.release)
	if _, err := v.Verify(t.Context(), tok.Reveal()); err != nil {
		t.Errorf("Verify after the store recovered = %v", err)
	}
	if n := gs.lookups.Load(); n != 1 {
		t.Errorf("store look-ups = %d, want 1", n)
	}
}

func TestVerifyLookupTimeout(t *testing.T) {
	fx := newFixture(t, nil)
	tok := fx.add(SecretKey, Live, nil)
	gs := newGateStore(fx.store)
	defer close(gs.release)
	v := newVerifier(t, gs, VerifierConfig{LookupTimeout: 10 * time.Millisecond})
	_, err := v.Verify(t.Context(), tok.Reveal()) // no deadline of its own
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("Verify = %v, want ErrUnavailable after LookupTimeout", err)
	}
}

func TestVerifyCache(t *testing.T) {
	fx := newFixture(t, nil)
	tok := fx.add(SecretKey, Live, nil)
	clk := newClock()
	cs := &countingStore{ManagedStore: fx.store}
	v := newVerifier(t, cs, VerifierConfig{Now: clk.Now, CacheTTL: time.Minute})
	verify := func() {
		t.Helper()
		if _, err := v.Verify(t.Context(), tok.Reveal()); err != nil {
			t.Fatalf("Verify(%v) = %v", tok, err)
		}
	}
	verify()
	verify()
	clk.Advance(59 * time.Second)
	verify()
	if n := cs.lookups.Load(); n != 1 {
		t.Errorf("look-ups within the TTL = %d, want 1", n)
	}
	// A wrong secret is checked against the cached record, never answered
	// from a cached verdict.
	if _, err := v.Verify(t.Context(), wrongSecret(tok, 0)); err != ErrInvalidKey {
		t.Errorf("wrong secret on a cached key = %v", err)
	}
	clk.Advance(time.Second)
	verify()
	if n := cs.lookups.Load(); n != 2 {
		t.Errorf("look-ups after the TTL = %d, want 2", n)
	}
	// Changes made elsewhere show after Invalidate.
	k, _ := fx.store.LookupKey(t.Context(), tok.ID())
	k.Disabled = true
	fx.store.UpdateKey(t.Context(), k)
	verify() // still cached
	v.Invalidate(tok.ID())
	if _, err := v.Verify(t.Context(), tok.Reveal()); err != ErrDisabled {
		t.Errorf("after Invalidate: %v, want ErrDisabled", err)
	}
	// Expiry is checked on every call, also for cached records.
	k.Disabled, k.ExpiresAt = false, clk.Now().Add(time.Second)
	fx.store.UpdateKey(t.Context(), k)
	v.Invalidate(tok.ID())
	verify()
	clk.Advance(time.Second)
	if _, err := v.Verify(t.Context(), tok.Reveal()); err != ErrExpired {
		t.Errorf("cached key past its expiry: %v, want ErrExpired", err)
	}
}

func TestVerifyNegativeCache(t *testing.T) {
	clk := newClock()
	cs := &countingStore{ManagedStore: new(MemoryStore)}
	v := newVerifier(t, cs, VerifierConfig{Now: clk.Now, NegativeCacheTTL: 10 * time.Second, NegativeCacheSize: 3})
	r := seeded(5)
	var unknown []Token
	for range 10 {
		tok, _ := Format{}.Generate(r, SecretKey, Live)
		unknown = append(unknown, tok)
	}
	for range 3 {
		if _, err := v.Verify(t.Context(), unknown[0].Reveal()); err != ErrInvalidKey {
			t.Fatalf("unknown key: %v", err)
		}
	}
	if n := cs.lookups.Load(); n != 1 {
		t.Errorf("look-ups of one unknown id = %d, want 1", n)
	}
	clk.Advance(10 * time.Second)
	v.Verify(t.Context(), unknown[0].Reveal())
	if n := cs.lookups.Load(); n != 2 {
		t.Errorf("look-ups after the negative TTL = %d, want 2", n)
	}
	for _, tok := range unknown {
		v.Verify(t.Context(), tok.Reveal())
	}
	v.mu.RLock()
	n := len(v.neg)
	for id := range v.neg {
		if len(id) != IDLen {
			t.Errorf("negative cache holds %d-byte strings", len(id))
		}
	}
	v.mu.RUnlock()
	if n > 3 {
		t.Errorf("negative cache holds %d ids, bound is 3", n)
	}
	// A key created after its id was remembered as unknown works once
	// invalidated (the Manager does this on Create).
	fx := &keyFixture{t: t, store: cs.ManagedStore.(*MemoryStore), r: &lockedReader{r: seeded(5)}, h: SHA256{}}
	tok := fx.add(SecretKey, Live, nil) // same seed: same id as unknown[0]
	if tok.ID() != unknown[0].ID() {
		t.Fatal("fixture did not reproduce the id")
	}
	v.Verify(t.Context(), tok.Reveal())
	v.Invalidate(tok.ID())
	if _, err := v.Verify(t.Context(), tok.Reveal()); err != nil {
		t.Errorf("after Invalidate a new key is still unknown: %v", err)
	}
}

func waitWaiters(t *testing.T, v *Verifier, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v.mu.RLock()
		c := v.calls[id]
		got := 0
		if c != nil {
			got = c.waiters
		}
		v.mu.RUnlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d callers joined the look-up", got, n)
		}
		runtime.Gosched()
	}
}

func TestVerifyCollapsesLookups(t *testing.T) {
	fx := newFixture(t, nil)
	tok := fx.add(SecretKey, Live, nil)
	gs := newGateStore(fx.store)
	// With the cache disabled, only collapsing can explain a single look-up.
	v := newVerifier(t, gs, VerifierConfig{CacheTTL: -1})
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			in := tok.Reveal()
			if i%2 == 1 {
				in = wrongSecret(tok, i)
			}
			_, errs[i] = v.Verify(t.Context(), in)
		})
	}
	waitWaiters(t, v, tok.ID(), n)
	close(gs.release)
	wg.Wait()
	if got := gs.lookups.Load(); got != 1 {
		t.Errorf("%d concurrent Verify calls made %d store look-ups, want 1", n, got)
	}
	for i, err := range errs {
		if i%2 == 0 && err != nil {
			t.Errorf("caller %d with the right secret: %v", i, err)
		}
		if i%2 == 1 && err != ErrInvalidKey {
			t.Errorf("caller %d with a wrong secret: %v (a shared verdict?)", i, err)
		}
	}
}

// TestVerifyFencing proves that a look-up that read the record before a
// revocation does not put it back into the cache after the revocation.
func TestVerifyFencing(t *testing.T) {
	mem := new(MemoryStore)
	gs := newGateStore(mem)
	gs.armed.Store(false)
	m, _ := newTestManager(t, gs, ManagerConfig{})
	tok, _, err := m.Create(t.Context(), CreateParams{Type: SecretKey, Environment: Live})
	if err != nil {
		t.Fatal(err)
	}
	gs.armed.Store(true)
	done := make(chan error)
	go func() {
		_, err := m.Verify(context.Background(), tok.Reveal())
		done <- err
	}()
	<-gs.entered // the look-up has read the pre-revocation record and is stuck
	gs.armed.Store(false)
	if _, err := m.Revoke(t.Context(), tok.ID()); err != nil {
		t.Fatal(err)
	}
	close(gs.release)
	if err := <-done; err != nil {
		// It started before the revocation, so either answer is acceptable.
		t.Logf("in-flight Verify: %v", err)
	}
	if _, err := m.Verify(t.Context(), tok.Reveal()); err != ErrRevoked {
		t.Fatalf("Verify after Revoke = %v, want ErrRevoked: a stale look-up refilled the cache", err)
	}
}

// countingHasher counts Verify calls of the hasher it wraps.
type countingHasher struct {
	Hasher
	calls atomic.Int64
}

func (h *countingHasher) Verify(key, stored string) (bool, error) {
	h.calls.Add(1)
	return h.Hasher.Verify(key, stored)
}

func TestVerifySlowHashPaidOnce(t *testing.T) {
	for _, inner := range []Hasher{fastArgon, testHMAC(t)} {
		t.Run(inner.Algorithm(), func(t *testing.T) {
			h := &countingHasher{Hasher: inner}
			fx := newFixture(t, h)
			tok := fx.add(SecretKey, Live, nil)
			clk := newClock()
			v := newVerifier(t, fx.store, VerifierConfig{Now: clk.Now, Hashers: []Hasher{h, SHA256{}}})
			// Wrong secrets before the first success pay the hash (nothing
			// else can check them).
			if _, err := v.Verify(t.Context(), wrongSecret(tok, 3)); err != ErrInvalidKey {
				t.Fatalf("wrong secret: %v", err)
			}
			for range 5 {
				if _, err := v.Verify(t.Context(), tok.Reveal()); err != nil {
					t.Fatalf("Verify(%v) = %v", tok, err)
				}
			}
			if _, err := v.Verify(t.Context(), wrongSecret(tok, 3)); err != ErrInvalidKey {
				t.Fatalf("wrong secret: %v", err)
			}
			if n := h.calls.Load(); n != 2 {
				t.Errorf("slow hash computed %d times, want 2 (one wrong secret, one success)", n)
			}
			clk.Advance(time.Hour) // new cache lifetime: paid once more
			v.Verify(t.Context(), tok.Reveal())
			v.Verify(t.Context(), tok.Reveal())
			if n := h.calls.Load(); n != 3 {
				t.Errorf("slow hash computed %d times after the TTL, want 3", n)
			}
		})
	}
}

// TestVerifySameWork checks that a secret differing from the stored one in
// its first or its last character takes the same path and does the same
// work: same store look-ups, same hasher calls, same allocations, same
// error value. (Digest comparisons use crypto/subtle; no timing is measured.)
func TestVerifySameWork(t *testing.T) {
	type work struct {
		lookups, hashes int64
		allocs          float64
		err             error
	}
	h := &countingHasher{Hasher: SHA256{}}
	fx := newFixture(t, h)
	tok := fx.add(SecretKey, Live, nil)
	for _, ttl := range []time.Duration{-1, 0} { // uncached (hasher path), cached (digest path)
		cs := &countingStore{ManagedStore: fx.store}
		v := newVerifier(t, cs, VerifierConfig{CacheTTL: ttl, Hashers: []Hasher{h}, LastUsedInterval: -1})
		v.Verify(t.Context(), tok.Reveal()) // warm the cache when there is one
		measure := func(in string) work {
			l0, h0 := cs.lookups.Load(), h.calls.Load()
			_, err := v.Verify(t.Context(), in)
			w := work{lookups: cs.lookups.Load() - l0, hashes: h.calls.Load() - h0, err: err}
			w.allocs = testing.AllocsPerRun(20, func() { v.Verify(t.Context(), in) })
			return w
		}
		first, last := measure(wrongSecret(tok, 0)), measure(wrongSecret(tok, SecretLen-1))
		if first != last {
			t.Errorf("ttl %v: first-char difference did %+v, last-char difference did %+v", ttl, first, last)
		}
		if first.err != ErrInvalidKey {
			t.Errorf("ttl %v: wrong secret = %v", ttl, first.err)
		}
	}
}

func TestVerifyUnacceptedHash(t *testing.T) {
	fx := newFixture(t, fastArgon)
	tok := fx.add(SecretKey, Live, nil)
	var logs bytes.Buffer
	v := newVerifier(t, fx.store, VerifierConfig{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if _, err := v.Verify(t.Context(), tok.Reveal()); err != ErrInvalidKey {
		t.Errorf("Verify of a key hashed by an unaccepted algorithm = %v, want ErrInvalidKey", err)
	}
	if !strings.Contains(logs.String(), "argon2id") || strings.Contains(logs.String(), tok.Reveal()[len("sk_live_")+IDLen:][:10]) {
		t.Errorf("log = %q; want the algorithm named and no secret", logs.String())
	}
}

func TestVerifyHitDoesNotAllocate(t *testing.T) {
	fx := newFixture(t, nil)
	tok := fx.add(SecretKey, Live, nil)
	v := newVerifier(t, fx.store, VerifierConfig{})
	s := tok.Reveal()
	ctx := t.Context()
	v.Verify(ctx, s)
	if n := testing.AllocsPerRun(100, func() { v.Verify(ctx, s) }); n != 0 {
		t.Errorf("Verify on a cache hit: %v allocs, want 0", n)
	}
}

func TestVerifyLastUsed(t *testing.T) {
	fx := newFixture(t, nil)
	a := fx.add(SecretKey, Live, nil)
	b := fx.add(SecretKey, Live, nil)
	clk := newClock()
	cs := &countingStore{ManagedStore: fx.store}
	v, err := NewVerifier(cs, VerifierConfig{Now: clk.Now, LastUsedInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	lastUsed := func(tok Token) time.Time {
		k, _ := fx.store.LookupKey(t.Context(), tok.ID())
		return k.LastUsedAt
	}
	t0 := clk.Now()
	for range 10 {
		v.Verify(t.Context(), a.Reveal())
		v.Verify(t.Context(), b.Reveal())
	}
	if n := cs.touches.Load(); n != 0 {
		t.Fatalf("Verify wrote last use synchronously (%d writes)", n)
	}
	if err := v.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := cs.touches.Load(); n != 1 || !lastUsed(a).Equal(t0) || !lastUsed(b).Equal(t0) {
		t.Errorf("after Flush: %d batches, last used %v %v; want 1 batch at %v", n, lastUsed(a), lastUsed(b), t0)
	}
	clk.Advance(30 * time.Second)
	v.Verify(t.Context(), a.Reveal())
	v.Flush(t.Context())
	if n := cs.touches.Load(); n != 1 {
		t.Errorf("a use within the interval caused a write (%d batches)", n)
	}
	clk.Advance(30 * time.Second)
	v.Verify(t.Context(), a.Reveal())
	if err := v.Close(); err != nil { // Close flushes
		t.Fatal(err)
	}
	if n := cs.touches.Load(); n != 2 || !lastUsed(a).Equal(clk.Now()) || !lastUsed(b).Equal(t0) {
		t.Errorf("after Close: %d batches, last used %v %v", n, lastUsed(a), lastUsed(b))
	}
	if err := v.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestNewVerifierErrors(t *testing.T) {
	for name, fn := range map[string]func() (*Verifier, error){
		"nil store": func() (*Verifier, error) { return NewVerifier(nil, VerifierConfig{}) },
		"bad format": func() (*Verifier, error) {
			return NewVerifier(new(MemoryStore), VerifierConfig{Format: Format{Service: "A"}})
		},
		"duplicate hash": func() (*Verifier, error) {
			return NewVerifier(new(MemoryStore), VerifierConfig{Hashers: []Hasher{SHA256{}, nil}})
		},
	} {
		if v, err := fn(); err == nil {
			v.Close()
			t.Errorf("NewVerifier with %s succeeded", name)
		}
	}
}

// blockingHasher is SHA-256 behind its own tag (so the Verifier has no
// SHA-256 shortcut before a first success). Until release is closed,
// every Verify reports on entered and blocks; it records how many run at
// once.
type blockingHasher struct {
	calls, running, maxRunning atomic.Int64
	entered                    chan struct{}
	release                    chan struct{}
}

func newBlockingHasher() *blockingHasher {
	return &blockingHasher{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (*blockingHasher) Algorithm() string { return "blocking" }
func (*blockingHasher) Hash(key string) (string, error) {
	s, _ := SHA256{}.Hash(key)
	return "blocking$" + s, nil
}
func (h *blockingHasher) Verify(key, stored string) (bool, error) {
	h.calls.Add(1)
	n := h.running.Add(1)
	defer h.running.Add(-1)
	for m := h.maxRunning.Load(); n > m && !h.maxRunning.CompareAndSwap(m, n); m = h.maxRunning.Load() {
	}
	select {
	case <-h.release:
	default:
		h.entered <- struct{}{}
		<-h.release
	}
	return SHA256{}.Verify(key, strings.TrimPrefix(stored, "blocking$"))
}

// waitFor polls cond (which reads state the Verifier exposes for tests)
// until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		runtime.Gosched()
	}
}

// slowWaiters returns the number of callers waiting for their turn to
// check a key against id's cached entry.
func slowWaiters(v *Verifier, id string) int32 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if e := v.cache[id]; e != nil && e.slow != nil {
		return e.slow.waiting.Load()
	}
	return 0
}

// The contract: "A slow hasher is paid once per key per cache lifetime, never
// per request." A burst of requests with the genuine key on a cold entry
// must run the slow hash once, not once per request.
func TestVerifySlowHashOnceConcurrent(t *testing.T) {
	h := newBlockingHasher()
	fx := newFixture(t, h)
	tok := fx.add(SecretKey, Live, nil)
	v := newVerifier(t, fx.store, VerifierConfig{Hashers: []Hasher{h}, LastUsedInterval: -1})
	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), tok.Reveal())
			errs <- err
		})
	}
	<-h.entered
	waitFor(t, "the other callers wait for their turn", func() bool { return slowWaiters(v, tok.ID()) == n-1 })
	close(h.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("genuine key rejected: %v", err)
		}
	}
	if c := h.calls.Load(); c != 1 {
		t.Errorf("%d concurrent requests with the genuine key ran the slow hash %d times, want 1", n, c)
	}
}

// A caller waiting for its turn at a slow hash gives up, with
// ErrUnavailable, when its context is done.
func TestVerifySlowHashTurnHonoursContext(t *testing.T) {
	h := newBlockingHasher()
	defer close(h.release)
	fx := newFixture(t, h)
	tok := fx.add(SecretKey, Live, nil)
	v := newVerifier(t, fx.store, VerifierConfig{Hashers: []Hasher{h}, LastUsedInterval: -1})
	go v.Verify(context.Background(), tok.Reveal())
	<-h.entered
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error)
	go func() { _, err := v.Verify(ctx, wrongSecret(tok, 1)); errc <- err }()
	waitFor(t, "the second caller waits", func() bool { return slowWaiters(v, tok.ID()) == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) || errors.Is(err, ErrInvalidKey) {
		t.Errorf("Verify = %v, want ErrUnavailable wrapping context.Canceled", err)
	}
	if c := h.calls.Load(); c != 1 {
		t.Errorf("slow hash ran %d times, want 1", c)
	}
}

// MaxConcurrentSlowHashes bounds slow hashes across keys: beyond it a
// Verify waits, and fails with ErrUnavailable when its context is done or
// LookupTimeout passes.
func TestVerifySlowHashConcurrencyBound(t *testing.T) {
	h := newBlockingHasher()
	fx := newFixture(t, h)
	var toks []Token
	for range 4 {
		toks = append(toks, fx.add(SecretKey, Live, nil))
	}
	v := newVerifier(t, fx.store, VerifierConfig{Hashers: []Hasher{h}, LastUsedInterval: -1, MaxConcurrentSlowHashes: 1})
	first := make(chan error)
	go func() { _, err := v.Verify(context.Background(), toks[0].Reveal()); first <- err }()
	<-h.entered // holds the only slot

	// Refused when the caller's context ends while it waits.
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error)
	go func() { _, err := v.Verify(ctx, toks[1].Reveal()); errc <- err }()
	waitFor(t, "a caller waits for a slot", func() bool { return v.slowWaiting.Load() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify while the slot is taken, ctx cancelled = %v, want ErrUnavailable", err)
	}

	// Refused after LookupTimeout when the caller has no deadline.
	v2 := newVerifier(t, fx.store, VerifierConfig{Hashers: []Hasher{h}, LastUsedInterval: -1, MaxConcurrentSlowHashes: 1, LookupTimeout: time.Millisecond})
	go v2.Verify(context.Background(), toks[2].Reveal())
	<-h.entered
	if _, err := v2.Verify(context.Background(), toks[3].Reveal()); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidKey) {
		t.Errorf("Verify while the slot is taken past LookupTimeout = %v, want ErrUnavailable", err)
	}

	// A waiting caller gets the slot when it frees.
	go func() { _, err := v.Verify(context.Background(), toks[3].Reveal()); errc <- err }()
	waitFor(t, "a caller waits for a slot", func() bool { return v.slowWaiting.Load() == 1 })
	close(h.release)
	if err := <-first; err != nil {
		t.Errorf("first Verify = %v", err)
	}
	if err := <-errc; err != nil {
		t.Errorf("waiting Verify = %v", err)
	}
	if n := h.maxRunning.Load(); n != 2 { // one per Verifier
		t.Errorf("slow hashes ran %d at once, want 2 (one in each Verifier)", n)
	}
	if n := h.calls.Load(); n != 3 {
		t.Errorf("slow hash ran %d times, want 3 (refused callers never hash)", n)
	}
}

func TestVerifySlowHashDefaults(t *testing.T) {
	for _, tc := range []struct {
		cfg       int
		wantSlots int // 0: unbounded
	}{
		{0, runtime.GOMAXPROCS(0)},
		{3, 3},
		{-1, 0},
	} {
		v := newVerifier(t, new(MemoryStore), VerifierConfig{MaxConcurrentSlowHashes: tc.cfg})
		if got := cap(v.slowSem); got != tc.wantSlots || (tc.wantSlots == 0) != (v.slowSem == nil) {
			t.Errorf("MaxConcurrentSlowHashes %d: %d slots, want %d", tc.cfg, got, tc.wantSlots)
		}
	}
}

// A wrong secret presented again (before the genuine key has been seen) is
// rejected without paying the slow hash again.
func TestVerifySlowHashRemembersRejectedKeys(t *testing.T) {
	h := &countingHasher{Hasher: fastArgon}
	fx := newFixture(t, h)
	tok := fx.add(SecretKey, Live, nil)
	v := newVerifier(t, fx.store, VerifierConfig{Hashers: []Hasher{h}, LastUsedInterval: -1})
	for i, step := range []struct {
		in        string
		want      error
		wantCalls int64 // total slow hashes after this step
	}{
		{wrongSecret(tok, 0), ErrInvalidKey, 1},
		{wrongSecret(tok, 0), ErrInvalidKey, 1},
		{wrongSecret(tok, 0), ErrInvalidKey, 1},
		{badChecksum(tok.Reveal()), errChecksum, 1}, // never genuine: not hashed
		{wrongSecret(tok, 1), ErrInvalidKey, 2},
		{wrongSecret(tok, 0), ErrInvalidKey, 2},
		{wrongSecret(tok, 2), ErrInvalidKey, 3},
		{wrongSecret(tok, 3), ErrInvalidKey, 4},
		{wrongSecret(tok, 4), ErrInvalidKey, 5}, // 4 remembered: secret 0 is forgotten
		{wrongSecret(tok, 0), ErrInvalidKey, 6},
		{tok.Reveal(), nil, 7},
		{wrongSecret(tok, 5), ErrInvalidKey, 7}, // SHA-256 shortcut from now on
		{tok.Reveal(), nil, 7},
	} {
		if _, err := v.Verify(t.Context(), step.in); err != step.want {
			t.Fatalf("step %d: Verify = %v, want %v", i, err, step.want)
		}
		if n := h.calls.Load(); n != step.wantCalls {
			t.Fatalf("step %d: %d slow hashes, want %d", i, n, step.wantCalls)
		}
	}
}

// badChecksum returns key with its last character changed, which breaks
// the checksum.
func badChecksum(key string) string {
	last := byte('0')
	if key[len(key)-1] == last {
		last = '1'
	}
	return key[:len(key)-1] + string(last)
}

// unknownKey returns a well-formed key whose id is derived from i and
// unknown to any store.
func unknownKey(i int) string {
	id := fmt.Sprintf("Q%011s", strconv.FormatInt(int64(i), 36))
	id = strings.ReplaceAll(id, " ", "0")
	return withChecksum("sk_live_" + id + strings.Repeat("s", SecretLen) + "000000")
}

// A flood of made-up ids must not make each new negative-cache entry cost
// time proportional to the cache size: addNegative runs under the
// Verifier's exclusive lock, so an O(size) scan per insert would serialise
// every Verify, cached genuine keys included. (This one test measures
// time, with a wide margin.)
func TestVerifyNegativeCacheInsertConstantTime(t *testing.T) {
	perInsert := func(size int) time.Duration {
		v := newVerifier(t, new(MemoryStore), VerifierConfig{
			NegativeCacheSize: size, NegativeCacheTTL: time.Hour, LastUsedInterval: -1,
		})
		ctx := context.Background()
		for i := range size { // fill to capacity
			if _, err := v.Verify(ctx, unknownKey(i)); err != ErrInvalidKey {
				t.Fatalf("unknown key: %v", err)
			}
		}
		const m = 400
		best := time.Duration(1 << 62)
		for round := range 3 {
			start := time.Now()
			for i := range m {
				v.Verify(ctx, unknownKey(size+1+round*m+i))
			}
			best = min(best, time.Since(start)/m)
		}
		return best
	}
	small, large := perInsert(250), perInsert(10000)
	if large > 8*small && large > 20*time.Microsecond {
		t.Errorf("negative-cache insert at capacity: %v with 250 entries, %v with 10000 (cost grows with size)", small, large)
	}
}

// The negative cache forgets the oldest id added when full, skipping ids
// already forgotten otherwise.
func TestVerifyNegativeCacheEvictsOldest(t *testing.T) {
	clk := newClock()
	v := newVerifier(t, new(MemoryStore), VerifierConfig{NegativeCacheSize: 3, Now: clk.Now})
	ids := func() string {
		v.mu.RLock()
		defer v.mu.RUnlock()
		return strings.Join(slices.Sorted(maps.Keys(v.neg)), " ")
	}
	for _, step := range []struct {
		add, invalidate string
		want            string
	}{
		{add: "a", want: "a"},
		{add: "b", want: "a b"},
		{add: "c", want: "a b c"},
		{add: "d", want: "b c d"},
		{invalidate: "c", want: "b d"},
		{add: "e", want: "d e"},   // b was the oldest
		{add: "f", want: "d e f"}, // c's slot was stale: nothing to forget
		{add: "e", want: "e f"},   // e added again: d goes, e moves to d's slot
		{add: "g", want: "e f g"}, // e's old slot is stale
		{add: "h", want: "e g h"}, // f
		{add: "i", want: "g h i"}, // e
	} {
		if step.invalidate != "" {
			v.Invalidate(step.invalidate)
		} else {
			v.mu.Lock()
			v.addNegative(step.add, clk.Now())
			v.mu.Unlock()
		}
		if got := ids(); got != step.want {
			t.Fatalf("after %+v: negative cache holds %q, want %q", step, got, step.want)
		}
	}
}

// mismatchStore returns the same record for every id, as a store with a
// case-insensitive look-up can return "abc" for "ABC".
type mismatchStore struct {
	k       *Key
	lookups atomic.Int64
}

func (s *mismatchStore) LookupKey(context.Context, string) (*Key, error) {
	s.lookups.Add(1)
	return s.k.Clone(), nil
}

// A record whose id is not the one asked for belongs to another key: the
// presented id is unknown (ErrInvalidKey, negatively cached), and the store
// problem is logged rarely, not per request.
func TestVerifyStoreReturnsOtherRecord(t *testing.T) {
	fx := newFixture(t, nil)
	tok := fx.add(SecretKey, Live, nil)
	rec, _ := fx.store.LookupKey(t.Context(), tok.ID())
	store := &mismatchStore{k: rec}
	clk := newClock()
	var logs bytes.Buffer
	v := newVerifier(t, store, VerifierConfig{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	// Same secret as the record's key, other id (the case-folded id, say).
	other := []byte(tok.Reveal())
	other[len("sk_live_")] ^= 'a' ^ 'A'
	presented := withChecksum(string(other))
	for i, step := range []struct {
		in          string
		advance     time.Duration
		wantLookups int64
		wantLogs    int
	}{
		{presented, 0, 1, 1},
		{presented, 0, 1, 1},                // negatively cached
		{unknownKey(1), 0, 2, 1},            // another id within a minute: not logged
		{presented, 10 * time.Second, 3, 1}, // negative TTL passed
		{unknownKey(2), time.Minute, 4, 2},  // logged again after a minute
	} {
		clk.Advance(step.advance)
		if _, err := v.Verify(t.Context(), step.in); err != ErrInvalidKey {
			t.Errorf("step %d: Verify = %v, want ErrInvalidKey", i, err)
		}
		if n := store.lookups.Load(); n != step.wantLookups {
			t.Errorf("step %d: %d store look-ups, want %d", i, n, step.wantLookups)
		}
		if n := strings.Count(logs.String(), "another id"); n != step.wantLogs {
			t.Errorf("step %d: %d log lines, want %d", i, n, step.wantLogs)
		}
	}
}

// With no LookupTimeout and a hanging store, look-ups in flight are capped
// (MaxConcurrentLookups): beyond the cap Verify fails at once with
// ErrUnavailable instead of starting another goroutine and store call.
func TestVerifyLookupCap(t *testing.T) {
	fx := newFixture(t, nil)
	tok := fx.add(SecretKey, Live, nil)
	gs := newGateStore(fx.store)
	v := newVerifier(t, gs, VerifierConfig{LookupTimeout: -1, MaxConcurrentLookups: 3, LastUsedInterval: -1})
	inflight := func() int {
		v.mu.RLock()
		defer v.mu.RUnlock()
		return v.inflight
	}
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	for i := range 3 {
		if _, err := v.Verify(gone, unknownKey(i)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Verify with a hanging store = %v, want ErrUnavailable", err)
		}
	}
	for range 3 {
		<-gs.entered
	}
	for _, in := range []string{unknownKey(3), tok.Reveal()} {
		if _, err := v.Verify(gone, in); !errors.Is(err, errTooManyLookups) || errors.Is(err, ErrInvalidKey) {
			t.Errorf("Verify beyond the cap = %v, want ErrUnavailable (too many look-ups)", err)
		}
	}
	if n := gs.lookups.Load(); n != 3 {
		t.Errorf("%d store look-ups, want 3", n)
	}
	close(gs.release)
	waitFor(t, "the look-ups end", func() bool { return inflight() == 0 })
	if _, err := v.Verify(t.Context(), tok.Reveal()); err != nil {
		t.Errorf("Verify once the store recovered = %v", err)
	}
}

func TestVerifyLookupCapDefault(t *testing.T) {
	for cfg, want := range map[int]int{0: 1024, 5: 5, -1: -1} {
		if v := newVerifier(t, new(MemoryStore), VerifierConfig{MaxConcurrentLookups: cfg}); v.maxLookups != want {
			t.Errorf("MaxConcurrentLookups %d: cap %d, want %d", cfg, v.maxLookups, want)
		}
	}
}

// Changing the type, environment or service label of a genuine key (and
// fixing the checksum) yields a key that is invalid, and never reveals the
// genuine key's state.
func TestVerifyRelabelledKey(t *testing.T) {
	m, _ := newTestManager(t, new(MemoryStore), ManagerConfig{Verifier: VerifierConfig{LastUsedInterval: -1}, Rand: seeded(5)})
	for _, revoke := range []bool{false, true} {
		tok, rec, err := m.Create(t.Context(), CreateParams{Type: SecretKey, Environment: Test, Permission: ReadWrite})
		if err != nil {
			t.Fatal(err)
		}
		if revoke {
			if _, err := m.Revoke(t.Context(), rec.ID); err != nil {
				t.Fatal(err)
			}
		}
		body := tok.Reveal()[int(tok.body):]
		for _, prefix := range []string{"pk_test_", "sk_live_", "pk_live_", "sk_", "acme_sk_test_"} {
			if _, err := m.Verify(t.Context(), withChecksum(prefix+body)); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("revoked=%v: key relabelled %q: %v, want ErrInvalidKey", revoke, prefix, err)
			}
		}
		// Wrong secret for a revoked key: invalid, not revoked.
		if _, err := m.Verify(t.Context(), wrongSecret(tok, 0)); err != ErrInvalidKey {
			t.Errorf("revoked=%v: wrong secret: %v, want ErrInvalidKey", revoke, err)
		}
	}
}

// A record whose stored hash this Verifier cannot check is reachable by
// anyone who knows the (public) id: it is logged at most once a minute.
func TestVerifyUncheckableHashLoggedRarely(t *testing.T) {
	fx := newFixture(t, nil)
	tok := fx.add(SecretKey, Live, nil)
	rec, _ := fx.store.LookupKey(t.Context(), tok.ID())
	rec.Hash = "bcrypt$whatever"
	if err := fx.store.UpdateKey(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	var logs bytes.Buffer
	v := newVerifier(t, fx.store, VerifierConfig{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for i, advance := range []time.Duration{0, time.Second, 30 * time.Second, time.Minute} {
		clk.Advance(advance)
		if _, err := v.Verify(t.Context(), tok.Reveal()); err != ErrInvalidKey {
			t.Fatalf("request %d: Verify = %v, want ErrInvalidKey", i, err)
		}
	}
	if n := strings.Count(logs.String(), "does not accept"); n != 2 {
		t.Errorf("%d log lines over 4 requests spanning 91s, want 2:\n%s", n, logs.String())
	}
}
