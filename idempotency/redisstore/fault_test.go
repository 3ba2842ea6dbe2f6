//go:build unix

package redisstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/idempotency/redisstore"
	"github.com/gatekey/gatekey/internal/testserver"
)

// maxStall is how long a call may take while Redis is down or hung: the
// Store's Timeout (100ms) plus generous slack for a loaded machine, still
// far below the seconds a client's own timeouts would allow.
const maxStall = time.Second

// TestRedisDown kills Redis (or stops it, as a hung server or a partition
// would) under a Store: every Begin, Finish and Release fails quickly
// with an error wrapping idempotency.ErrUnavailable, and Begin reports no
// claim, never a silent one; once Redis is back the Store uses it again
// by itself.
func TestRedisDown(t *testing.T) {
	for _, tc := range []struct {
		name string
		hang bool // SIGSTOP instead of SIGKILL
	}{{"killed", false}, {"hung", true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testserver.StartRedis(t)
			s := newStore(t, newClient(t, srv.Addr()), redisstore.Config{Prefix: uniquePrefix()})
			ctx := t.Context()
			fp := fingerprint("POST /v1/monitors")
			// Warm up: the script is loaded and a connection pooled.
			if _, ok, err := s.Begin(ctx, "acct", "held", fp, 1, time.Hour); err != nil || !ok {
				t.Fatalf("Begin with Redis up = %v, %v", ok, err)
			}

			if tc.hang {
				if err := srv.Pause(); err != nil {
					t.Fatal(err)
				}
			} else {
				srv.Kill()
			}
			for i := range 3 {
				calls := []struct {
					name string
					call func() error
				}{
					{"Begin", func() error {
						rec, ok, err := s.Begin(ctx, "acct", "new", fp, uint64(10+i), time.Hour)
						if ok || rec != (idempotency.Record{}) {
							t.Errorf("Begin #%d with Redis down = %+v, %v; want no claim", i, rec, ok)
						}
						return err
					}},
					{"Finish", func() error {
						ok, err := s.Finish(ctx, "acct", "held", 1, created, time.Hour)
						if ok {
							t.Errorf("Finish #%d with Redis down reported true", i)
						}
						return err
					}},
					{"Release", func() error { return s.Release(ctx, "acct", "held", 1) }},
				}
				for _, c := range calls {
					start := time.Now()
					err := c.call()
					elapsed := time.Since(start)
					if i == 0 {
						t.Logf("%s with Redis down: %v after %v", c.name, err, elapsed)
					}
					if !errors.Is(err, idempotency.ErrUnavailable) {
						t.Errorf("%s #%d with Redis down = %v; want ErrUnavailable", c.name, i, err)
					}
					if elapsed > maxStall {
						t.Errorf("%s #%d with Redis down took %v, want at most %v", c.name, i, elapsed, maxStall)
					}
				}
			}

			if tc.hang {
				if err := srv.Resume(); err != nil {
					t.Fatal(err)
				}
			} else if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			// Recovery needs nothing but Redis: retry until a Begin
			// succeeds. Each failing try drops a dead pooled connection, so
			// this ends in a few tries.
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, _, err := s.Begin(ctx, "acct", "after", fp, 100, time.Hour)
				if err == nil {
					break
				}
				if !errors.Is(err, idempotency.ErrUnavailable) || time.Now().After(deadline) {
					t.Fatalf("no recovery within 10s: %v", err)
				}
			}
			rec, ok, err := s.Begin(ctx, "acct", "held", fp, 101, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if tc.hang {
				// The hung server kept its data, and may have run the calls
				// it had received once it resumed, though their callers had
				// given up: the claim is still held, now perhaps with the
				// answer its Finish sent, or its Release freed it. An error
				// means "could not tell", not "nothing happened".
				if !ok && rec.Fingerprint != fp {
					t.Errorf("after recovery: Begin = %+v, %v; want the claim's record or a claim", rec, ok)
				}
				t.Logf("after recovery: claimed %v, answer kept %v", ok, rec.Answer != nil)
			} else if !ok {
				// A killed server without persistence lost its data.
				t.Errorf("after recovery: the key is held (%+v), want it free", rec)
			}
		})
	}
}
