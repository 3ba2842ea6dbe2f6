package apikey

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// blockingHasher is SHA-256 behind its own tag (so the Verifier has no
// SHA-256 shortcut before a first success). Until release is closed, every
// Verify blocks; it records how many run at once.
type blockingHasher struct {
	calls, running, maxRunning atomic.Int64
	release                    chan struct{}
}

func newBlockingHasher() *blockingHasher {
	return &blockingHasher{release: make(chan struct{})}
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
	<-h.release
	return SHA256{}.Verify(key, strings.TrimPrefix(stored, "blocking$"))
}

// One check of a key at a time: a burst of requests with the genuine key
// on a cold entry runs the slow hash once, not once per request (the
// contract: "a slow hasher is paid once per key per cache lifetime, never
// per request").
func TestSlowHashOnceConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
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
		synctest.Wait() // one caller in the hash, the others waiting their turn
		if c := h.calls.Load(); c != 1 {
			t.Errorf("%d slow hashes running, want 1", c)
		}
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
	})
}

// Bounded waits: a caller waiting for its turn gives up with
// ErrUnavailable when its context is done, or after LookupTimeout.
func TestSlowHashTurnBoundedWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBlockingHasher()
		defer close(h.release)
		fx := newFixture(t, h)
		tok := fx.add(SecretKey, Live, nil)
		v := newVerifier(t, fx.store, VerifierConfig{Hashers: []Hasher{h}, LastUsedInterval: -1, LookupTimeout: 3 * time.Second})
		go v.Verify(context.Background(), tok.Reveal())
		synctest.Wait() // it holds the turn

		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error)
		go func() { _, err := v.Verify(ctx, wrongSecret(tok, 1)); errc <- err }()
		synctest.Wait() // it waits for the turn
		cancel()
		if err := <-errc; !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) || errors.Is(err, ErrInvalidKey) {
			t.Errorf("Verify = %v, want ErrUnavailable wrapping context.Canceled", err)
		}

		start := time.Now()
		if _, err := v.Verify(context.Background(), wrongSecret(tok, 2)); !errors.Is(err, errSlowHashBusy) {
			t.Errorf("Verify waiting past LookupTimeout = %v, want ErrUnavailable (busy)", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("gave up after %v, want 3s", d)
		}
		if c := h.calls.Load(); c != 1 {
			t.Errorf("slow hash ran %d times, want 1", c)
		}
	})
}

// Bounded slow hashes: MaxConcurrentSlowHashes bounds them across keys;
// beyond it a Verify waits for a slot, and gets one when it frees.
func TestSlowHashConcurrencyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBlockingHasher()
		fx := newFixture(t, h)
		var toks []Token
		for range 5 {
			toks = append(toks, fx.add(SecretKey, Live, nil))
		}
		v := newVerifier(t, fx.store, VerifierConfig{Hashers: []Hasher{h}, LastUsedInterval: -1, MaxConcurrentSlowHashes: 2})
		errs := make(chan error, len(toks))
		for _, tok := range toks {
			go func() { _, err := v.Verify(context.Background(), tok.Reveal()); errs <- err }()
		}
		synctest.Wait() // two hash, three wait for a slot
		if n := h.running.Load(); n != 2 {
			t.Errorf("%d slow hashes running for 5 keys, want the bound, 2", n)
		}
		close(h.release)
		for range toks {
			if err := <-errs; err != nil {
				t.Errorf("Verify = %v", err)
			}
		}
		if n := h.maxRunning.Load(); n != 2 {
			t.Errorf("slow hashes ran %d at once, want at most 2", n)
		}
		if n := h.calls.Load(); n != 5 {
			t.Errorf("slow hash ran %d times, want 5", n)
		}
	})
}

func TestSlowHashDefaults(t *testing.T) {
	for _, tc := range []struct {
		cfg       int
		wantSlots int // 0: unbounded
	}{
		{0, runtime.GOMAXPROCS(0)},
		{3, 3},
		{-1, 0},
	} {
		v := newVerifier(t, new(MemoryStore), VerifierConfig{MaxConcurrentSlowHashes: tc.cfg})
		if got := cap(v.slow.sem); got != tc.wantSlots || (tc.wantSlots == 0) != (v.slow.sem == nil) {
			t.Errorf("MaxConcurrentSlowHashes %d: %d slots, want %d", tc.cfg, got, tc.wantSlots)
		}
	}
}
