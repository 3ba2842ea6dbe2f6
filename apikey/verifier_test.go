package apikey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
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
	v.records.mu.RLock()
	n := v.records.unknown.len()
	for id := range v.records.unknown.m {
		if len(id) != IDLen {
			t.Errorf("negative cache holds %d-byte strings", len(id))
		}
	}
	v.records.mu.RUnlock()
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
