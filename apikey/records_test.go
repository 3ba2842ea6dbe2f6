package apikey

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// One store call per cold id: concurrent look-ups of one id share one
// store call, and every caller still compares its own secret.
func TestRecordsOneStoreCallPerColdID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, nil)
		tok := fx.add(SecretKey, Live, nil)
		gs := newGateStore(fx.store)
		// With the cache off, only sharing can explain a single look-up.
		v := newVerifier(t, gs, VerifierConfig{CacheTTL: -1, LastUsedInterval: -1})
		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				in := tok.Reveal()
				if i%2 == 1 {
					in = wrongSecret(tok, i)
				}
				_, errs[i] = v.Verify(context.Background(), in)
			})
		}
		synctest.Wait() // every caller waits: on the store, or for the one look-up
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
	})
}

// A look-up never undoes a forget: the record a look-up read before forget
// (a revoke) reaches the callers already waiting, but is never cached.
// Invalidate and InvalidateAll both fence it.
func TestRecordsForgetFencesLookup(t *testing.T) {
	for _, forget := range []struct {
		name string
		do   func(v *Verifier, id string)
	}{
		{"Invalidate", func(v *Verifier, id string) { v.Invalidate(id) }},
		{"InvalidateAll", func(v *Verifier, _ string) { v.InvalidateAll() }},
	} {
		t.Run(forget.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fx := newFixture(t, nil)
				tok := fx.add(SecretKey, Live, nil)
				gs := newGateStore(fx.store)
				v := newVerifier(t, gs, VerifierConfig{LastUsedInterval: -1})
				done := make(chan error)
				go func() {
					_, err := v.Verify(context.Background(), tok.Reveal())
					done <- err
				}()
				<-gs.entered // the look-up has read the record and waits
				gs.armed.Store(false)
				rec, _ := fx.store.LookupKey(context.Background(), tok.ID())
				rec.RevokedAt = time.Now()
				if err := fx.store.UpdateKey(context.Background(), rec); err != nil {
					t.Fatal(err)
				}
				forget.do(v, tok.ID())
				close(gs.release)
				if err := <-done; err != nil {
					t.Logf("the Verify in flight, which began before the revoke: %v", err)
				}
				if _, err := v.Verify(context.Background(), tok.Reveal()); err != ErrRevoked {
					t.Errorf("Verify after the revoke = %v, want ErrRevoked: the look-up in flight refilled the cache", err)
				}
			})
		})
	}
}

// InvalidateAll forgets every record, positive and negative: each is read
// from the store again.
func TestRecordsInvalidateAll(t *testing.T) {
	fx := newFixture(t, nil)
	cs := &countingStore{ManagedStore: fx.store}
	v := newVerifier(t, cs, VerifierConfig{LastUsedInterval: -1})
	toks := []Token{fx.add(SecretKey, Live, nil), fx.add(SecretKey, Test, nil), fx.add(PublishableKey, Live, nil)}
	verifyAll := func() {
		t.Helper()
		for _, tok := range toks {
			if _, err := v.Verify(t.Context(), tok.Reveal()); err != nil {
				t.Fatalf("Verify(%v) = %v", tok, err)
			}
		}
		if _, err := v.Verify(t.Context(), unknownKey(1)); err != ErrInvalidKey {
			t.Fatalf("Verify(unknown) = %v", err)
		}
	}
	verifyAll()
	verifyAll() // all cached
	if n := cs.lookups.Load(); n != 4 {
		t.Fatalf("look-ups = %d, want 4 (three keys and an unknown id)", n)
	}
	// Changes made elsewhere, unsignalled, then one InvalidateAll.
	for _, tok := range toks[:2] {
		k, _ := fx.store.LookupKey(t.Context(), tok.ID())
		k.Disabled = true
		fx.store.UpdateKey(t.Context(), k)
	}
	v.InvalidateAll()
	for _, tok := range toks[:2] {
		if _, err := v.Verify(t.Context(), tok.Reveal()); err != ErrDisabled {
			t.Errorf("after InvalidateAll, a key disabled elsewhere: %v, want ErrDisabled", err)
		}
	}
	v.Verify(t.Context(), toks[2].Reveal())
	v.Verify(t.Context(), unknownKey(1))
	if n := cs.lookups.Load(); n != 8 {
		t.Errorf("look-ups after InvalidateAll = %d, want 8 (every id read again)", n)
	}
	v.InvalidateAll() // of an emptied cache, and again: no panic
	v.InvalidateAll()
}

// Bounded work: beyond max look-ups in flight (distinct ids), a look-up
// fails at once with ErrUnavailable and starts no store call.
func TestRecordsLookupBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, nil)
		tok := fx.add(SecretKey, Live, nil)
		gs := newGateStore(fx.store)
		v := newVerifier(t, gs, VerifierConfig{LookupTimeout: -1, MaxConcurrentLookups: 3, LastUsedInterval: -1})
		gone, cancel := context.WithCancel(context.Background())
		cancel()
		for i := range 3 {
			if _, err := v.Verify(gone, unknownKey(i)); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Verify with a hanging store = %v, want ErrUnavailable", err)
			}
		}
		synctest.Wait() // the three look-ups are in the store
		for _, in := range []string{unknownKey(3), tok.Reveal()} {
			if _, err := v.Verify(gone, in); !errors.Is(err, ErrTooManyLookups) || errors.Is(err, ErrInvalidKey) {
				t.Errorf("Verify beyond the bound = %v, want ErrUnavailable (too many look-ups)", err)
			}
		}
		if n := gs.lookups.Load(); n != 3 {
			t.Errorf("%d store look-ups, want 3", n)
		}
		close(gs.release)
		synctest.Wait() // the look-ups end
		if _, err := v.Verify(context.Background(), tok.Reveal()); err != nil {
			t.Errorf("Verify once the store recovered = %v", err)
		}
	})
}

// Each store call is cut off at the timeout whatever the caller's context
// says, and the callers get ErrUnavailable, never ErrInvalidKey.
// By default a hung store costs a request 1 s.
func TestRecordsLookupTimeout(t *testing.T) {
	for _, tt := range []struct {
		timeout, want time.Duration
	}{{2 * time.Second, 2 * time.Second}, {0, time.Second}} {
		t.Run(tt.want.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fx := newFixture(t, nil)
				tok := fx.add(SecretKey, Live, nil)
				gs := newGateStore(fx.store)
				defer close(gs.release)
				v := newVerifier(t, gs, VerifierConfig{LookupTimeout: tt.timeout, LastUsedInterval: -1})
				start := time.Now()
				_, err := v.Verify(context.Background(), tok.Reveal())
				if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidKey) {
					t.Errorf("Verify with a hanging store = %v, want ErrUnavailable", err)
				}
				if d := time.Since(start); d != tt.want {
					t.Errorf("LookupTimeout %v: the look-up was cut off after %v, want %v", tt.timeout, d, tt.want)
				}
			})
		})
	}
}

func TestRecordsDefaults(t *testing.T) {
	for cfg, want := range map[int]int{0: 1024, 5: 5, -1: -1} {
		if v := newVerifier(t, new(MemoryStore), VerifierConfig{MaxConcurrentLookups: cfg}); v.records.max != want {
			t.Errorf("MaxConcurrentLookups %d: bound %d, want %d", cfg, v.records.max, want)
		}
	}
}
