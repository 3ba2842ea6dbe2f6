//go:build unix

package redisstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/credits/redisstore"
	"github.com/gatekey/gatekey/internal/testserver"
)

// maxStall is how long a call may take while Redis is down or hung: the
// Store's Timeout (100ms) plus generous slack for a loaded machine, still
// far below the seconds a client's own timeouts would allow.
const maxStall = time.Second

// TestRedisDown kills Redis (or stops it, as a hung server or a partition
// would) under a Store: every Spend and Grant fails quickly with an error
// wrapping credits.ErrUnavailable and reports no success, never a silent
// one; once Redis is back the Store uses it again by itself.
func TestRedisDown(t *testing.T) {
	for _, tc := range []struct {
		name string
		hang bool // SIGSTOP instead of SIGKILL
	}{{"killed", false}, {"hung", true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testserver.StartRedis(t)
			prefix := uniquePrefix()
			s := newStore(t, newClient(t, srv.Addr()), redisstore.Config{Prefix: prefix})
			a := credits.PerMonth(3)
			// Warm up: the script is loaded and a connection pooled.
			if b, ok, err := s.Spend(t.Context(), "k", a, 1); err != nil || !ok || b.Remaining != 2 {
				t.Fatalf("Spend with Redis up = %+v, %v, %v", b, ok, err)
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
				b, ok, err := s.Spend(t.Context(), "k", a, 1)
				elapsed := time.Since(start)
				if i == 0 {
					t.Logf("Spend with Redis down: %v after %v", err, elapsed)
				}
				if ok || !errors.Is(err, credits.ErrUnavailable) || b != (credits.Balance{}) {
					t.Errorf("Spend #%d with Redis down = %+v, %v, %v; want nothing spent and ErrUnavailable", i, b, ok, err)
				}
				if elapsed > maxStall {
					t.Errorf("Spend #%d with Redis down took %v, want at most %v", i, elapsed, maxStall)
				}
				if tc.hang {
					continue // a grant sent to a hung Redis would run when it resumes
				}
				if b, err := s.Grant(t.Context(), "k", a, 1); !errors.Is(err, credits.ErrUnavailable) || b != (credits.Balance{}) {
					t.Errorf("Grant #%d with Redis down = %+v, %v; want ErrUnavailable", i, b, err)
				}
			}

			if tc.hang {
				if err := srv.Resume(); err != nil {
					t.Fatal(err)
				}
			} else if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			// Recovery needs nothing but Redis: retry until a Spend
			// succeeds. Each failing try drops a dead pooled connection, so
			// this ends in a few tries.
			deadline := time.Now().Add(10 * time.Second)
			var b credits.Balance
			for {
				var err error
				b, _, err = s.Spend(t.Context(), "k", a, 1)
				if err == nil {
					break
				}
				if !errors.Is(err, credits.ErrUnavailable) || time.Now().After(deadline) {
					t.Fatalf("no recovery within 10s: %v", err)
				}
			}
			if tc.hang {
				// The hung server kept its data, and ran the spends it
				// had received once it resumed, though their callers had
				// given up: an error means "could not tell", and the
				// account may have been charged, never credited.
				if b.Remaining > 1 {
					t.Errorf("first Spend after recovery: Remaining %d, want at most 1", b.Remaining)
				}
			} else if b.Remaining != 2 {
				// A killed server without persistence lost its data.
				t.Errorf("first Spend after recovery: Remaining %d, want 2", b.Remaining)
			}
		})
	}
}
