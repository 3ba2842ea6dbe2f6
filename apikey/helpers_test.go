package apikey

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// seeded returns a deterministic random source for tests and examples.
func seeded(seed byte) *rand.ChaCha8 { return rand.NewChaCha8([32]byte{seed}) }

// countingStore wraps a ManagedStore and counts look-ups.
type countingStore struct {
	ManagedStore
	lookups atomic.Int64
	touches atomic.Int64
}

func (s *countingStore) LookupKey(ctx context.Context, id string) (*Key, error) {
	s.lookups.Add(1)
	return s.ManagedStore.LookupKey(ctx, id)
}

func (s *countingStore) TouchKeys(ctx context.Context, m map[string]time.Time) error {
	s.touches.Add(1)
	return s.ManagedStore.TouchKeys(ctx, m)
}

// gateStore blocks every look-up after reading the record until release is
// closed, and reports on entered when a look-up has read its record.
type gateStore struct {
	ManagedStore
	armed   atomic.Bool // only armed look-ups block
	entered chan struct{}
	release chan struct{}
	lookups atomic.Int64
}

func newGateStore(s ManagedStore) *gateStore {
	g := &gateStore{ManagedStore: s, entered: make(chan struct{}, 100), release: make(chan struct{})}
	g.armed.Store(true)
	return g
}

func (s *gateStore) LookupKey(ctx context.Context, id string) (*Key, error) {
	s.lookups.Add(1)
	k, err := s.ManagedStore.LookupKey(ctx, id)
	if !s.armed.Load() {
		return k, err
	}
	s.entered <- struct{}{}
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return k, err
}

// failingStore always fails.
type failingStore struct{ err error }

func (s failingStore) LookupKey(context.Context, string) (*Key, error) { return nil, s.err }

// newTestManager returns a Manager over a MemoryStore with a fake clock and
// deterministic randomness, closed at the end of the test.
func newTestManager(t *testing.T, store ManagedStore, cfg ManagerConfig) (*Manager, *fakeClock) {
	t.Helper()
	clk := newClock()
	if cfg.Verifier.Now == nil {
		cfg.Verifier.Now = clk.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = seeded(1)
	}
	m, err := NewManager(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, clk
}

// lockedReader makes a ChaCha8 safe for concurrent use.
type lockedReader struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}
