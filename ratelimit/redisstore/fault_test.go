//go:build unix

package redisstore_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/internal/testserver"
	"github.com/gatekey/gatekey/ratelimit"
	"github.com/gatekey/gatekey/ratelimit/redisstore"
)

// maxStall is how long a Take may take while Redis is down or hung: the
// Store's Timeout (100ms) plus generous slack for a loaded machine, still
// far below the seconds a client's own timeouts would allow.
const maxStall = time.Second

// TestRedisDown kills Redis and restarts it: a fail-closed Store returns
// ErrUnavailable quickly, a fail-open one decides locally, and both use
// Redis again by themselves once it is back.
func TestRedisDown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failOpen bool
		hang     bool // SIGSTOP instead of SIGKILL
	}{
		{"fail closed, killed", false, false},
		{"fail open, killed", true, false},
		{"fail closed, hung", false, true},
		{"fail open, hung", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testserver.StartRedis(t)
			client := newClient(t, srv.Addr())
			var errs atomic.Int64
			prefix := uniquePrefix()
			s := newStore(t, client, redisstore.Config{
				Prefix: prefix, FailOpen: tc.failOpen,
				OnError: func(error) { errs.Add(1) },
			})
			p := ratelimit.Policy{ratelimit.PerDay(3)}
			// Warm up: the script is loaded and a connection pooled.
			if d, err := s.Take(t.Context(), "k", p, 1); err != nil || !d.Allowed {
				t.Fatalf("Take with Redis up = %+v, %v", d, err)
			}

			if tc.hang {
				if err := srv.Pause(); err != nil {
					t.Fatal(err)
				}
			} else {
				srv.Kill()
			}
			for i := range 3 {
				start := time.Now()
				d, err := s.Take(t.Context(), "k", p, 1)
				elapsed := time.Since(start)
				if elapsed > maxStall {
					t.Errorf("Take #%d with Redis down took %v, want at most %v", i, elapsed, maxStall)
				}
				if i == 0 {
					t.Logf("Take with Redis down: %v after %v", err, elapsed)
				}
				if tc.failOpen {
					// The local fallback starts full: 3 allowed.
					if err != nil || !d.Allowed {
						t.Errorf("fail-open Take #%d with Redis down = %+v, %v; want allowed by the fallback", i, d, err)
					}
				} else if !errors.Is(err, ratelimit.ErrUnavailable) {
					t.Errorf("fail-closed Take #%d with Redis down = %+v, %v; want ErrUnavailable", i, d, err)
				}
			}
			if errs.Load() != 3 {
				t.Errorf("OnError called %d times for 3 failed calls, want 3", errs.Load())
			}
			if tc.failOpen {
				if d, err := s.Take(t.Context(), "k", p, 1); err != nil || d.Allowed {
					t.Errorf("4th fail-open Take = %+v, %v; want rejected by the fallback's own 3/day", d, err)
				}
			}

			if tc.hang {
				if err := srv.Resume(); err != nil {
					t.Fatal(err)
				}
			} else if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			// Recovery needs nothing but Redis: retry until a Take is
			// decided by Redis again (no error reported). Each failing try
			// drops a dead pooled connection, so this ends in a few tries.
			deadline := time.Now().Add(10 * time.Second)
			for {
				before := errs.Load()
				d, err := s.Take(t.Context(), "recovered", p, 1)
				if err == nil && errs.Load() == before {
					if !d.Allowed || d.Remaining != 2 {
						t.Fatalf("first Take after recovery = %+v", d)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no recovery within 10s: %v", err)
				}
			}
			// The decision was Redis's: another replica sees the token taken.
			other := newStore(t, newClient(t, srv.Addr()), redisstore.Config{Prefix: prefix})
			if d, err := other.Take(t.Context(), "recovered", p, 1); err != nil || d.Remaining != 1 {
				t.Errorf("another replica after recovery: %+v, %v; want Remaining 1", d, err)
			}
		})
	}
}
