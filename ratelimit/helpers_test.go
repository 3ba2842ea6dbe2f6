package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
)

// clock is a fake clock for MemoryConfig.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newStore(c *clock, cfg ratelimit.MemoryConfig) *ratelimit.MemoryStore {
	cfg.Now = c.Now
	return ratelimit.NewMemoryStore(cfg)
}

func take(t *testing.T, s ratelimit.Store, key string, p ratelimit.Policy, n int) ratelimit.Decision {
	t.Helper()
	d, err := s.Take(context.Background(), key, p, n)
	if err != nil {
		t.Fatalf("Take(%q, %v, %d): %v", key, p, n, err)
	}
	return d
}
