//go:build unix

package sqlstore_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/idempotency/sqlstore"
	"github.com/gatekey/gatekey/internal/testserver"
)

// TestPostgresDown stops the database under a Store: every Begin, Finish,
// Release and Prune fails within the Timeout with an error wrapping
// idempotency.ErrUnavailable, and Begin reports no claim, never a silent
// one; once the database is back the Store uses it again by itself, with
// the records it kept.
func TestPostgresDown(t *testing.T) {
	const timeout = 500 * time.Millisecond
	srv := testserver.StartPostgres(t)
	s := newStore(t, openPG(t, srv, "fault"), sqlstore.Postgres, sqlstore.Config{Timeout: timeout})
	ctx := t.Context()
	fp := fingerprint("POST /v1/monitors")
	if _, ok, err := s.Begin(ctx, "acct", "held", fp, 1, time.Hour); err != nil || !ok {
		t.Fatalf("Begin with the database up = %v, %v", ok, err)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	// Several calls: the first finds pooled connections that the server
	// closed, the next ones find the port refusing connections.
	for i := range 3 {
		calls := []struct {
			name string
			call func() error
		}{
			{"Begin", func() error {
				rec, ok, err := s.Begin(ctx, "acct", "new", fp, uint64(10+i), time.Hour)
				if ok || rec != (idempotency.Record{}) {
					t.Errorf("Begin #%d with the database down = %+v, %v; want no claim", i, rec, ok)
				}
				return err
			}},
			{"Finish", func() error {
				ok, err := s.Finish(ctx, "acct", "held", 1, created, time.Hour)
				if ok {
					t.Errorf("Finish #%d with the database down reported true", i)
				}
				return err
			}},
			{"Release", func() error { return s.Release(ctx, "acct", "held", 1) }},
			{"Prune", func() error { _, err := s.Prune(ctx); return err }},
		}
		for _, c := range calls {
			start := time.Now()
			err := c.call()
			elapsed := time.Since(start)
			if i == 0 {
				t.Logf("%s with the database down: %v after %v", c.name, err, elapsed)
			}
			if !errors.Is(err, idempotency.ErrUnavailable) {
				t.Errorf("%s #%d with the database down = %v; want ErrUnavailable", c.name, i, err)
			}
			if elapsed > timeout+500*time.Millisecond {
				t.Errorf("%s #%d with the database down took %v, want at most the timeout, %v", c.name, i, elapsed, timeout)
			}
		}
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// database/sql drops the dead connections and dials new ones. Retry
	// with a deadline, in case the pool still holds connections that have
	// not yet noticed the restart: each failing try drops one.
	deadline := time.Now().Add(15 * time.Second)
	for {
		rec, ok, err := s.Begin(ctx, "acct", "held", fp, 100, time.Hour)
		if err == nil {
			if ok || rec.Fingerprint != fp || rec.Answer != nil {
				t.Errorf("first Begin after the restart = %+v, %v; want the claim made before the stop, held", rec, ok)
			}
			break
		}
		if !errors.Is(err, idempotency.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Begin did not recover within 15s of the restart: %v", err)
		}
	}
	if ok, err := s.Finish(ctx, "acct", "held", 1, created, time.Hour); err != nil || !ok {
		t.Errorf("Finish after the restart = %v, %v; want the answer kept", ok, err)
	}
}

// TestTimeout holds the record's row (PostgreSQL) or the database's write
// lock (SQLite) in another transaction, as a hung or very slow writer
// would: Begin, Finish and Release give up after about Config.Timeout
// with ErrUnavailable, change nothing, and succeed once the lock is
// released. The database is configured as the package documentation
// says: SQLite's busy_timeout and PostgreSQL's statement_timeout at most
// the Timeout, so that the database gives up too.
func TestTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, tc := range []struct {
		name string
		d    sqlstore.Dialect
		open func(testing.TB) (store, locker *sql.DB)
		lock string
	}{
		{"sqlite", sqlstore.SQLite, func(t testing.TB) (*sql.DB, *sql.DB) {
			dsn := "file:" + filepath.Join(t.TempDir(), "idem.db") + "?_pragma=busy_timeout(150)&_pragma=journal_mode(WAL)"
			return openSQLite(t, dsn), openSQLite(t, dsn)
		}, "UPDATE gatekey_idempotency SET token = token"},
		{"postgres", sqlstore.Postgres, func(t testing.TB) (*sql.DB, *sql.DB) {
			dbs := postgresPools(t, 2, "statement_timeout=150")
			return dbs[1], dbs[0]
		}, "SELECT 1 FROM gatekey_idempotency FOR UPDATE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.d == sqlstore.Postgres {
				testserver.RequirePostgres(t)
			}
			db, locker := tc.open(t)
			c := newClock()
			s := newStore(t, db, tc.d, sqlstore.Config{Timeout: timeout, Now: c.Now})
			ctx := t.Context()
			fp := fingerprint("POST /v1/monitors")
			if _, ok, err := s.Begin(ctx, "acct", "k", fp, 1, time.Minute); err != nil || !ok {
				t.Fatal(ok, err)
			}
			tx, err := locker.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, tc.lock); err != nil {
				t.Fatal(err)
			}
			for _, op := range []struct {
				name string
				call func() error
			}{
				{"Begin", func() error {
					_, ok, err := s.Begin(ctx, "acct", "k", fp, 2, time.Minute)
					if ok {
						t.Error("Begin on a locked row claimed it")
					}
					return err
				}},
				{"Finish", func() error {
					ok, err := s.Finish(ctx, "acct", "k", 1, created, time.Hour)
					if ok {
						t.Error("Finish on a locked row reported true")
					}
					return err
				}},
				{"Release", func() error { return s.Release(ctx, "acct", "k", 1) }},
			} {
				start := time.Now()
				err := op.call()
				elapsed := time.Since(start)
				t.Logf("%s on a locked row: %v after %v", op.name, err, elapsed)
				if !errors.Is(err, idempotency.ErrUnavailable) {
					t.Errorf("%s on a locked row = %v; want ErrUnavailable", op.name, err)
				}
				if elapsed > 5*timeout {
					t.Errorf("%s on a locked row took %v, want about the timeout, %v", op.name, elapsed, timeout)
				}
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			// The timed-out calls changed nothing: the claim is held, and
			// its token can still finish it.
			if rec, ok, err := s.Begin(ctx, "acct", "k", fp, 3, time.Minute); err != nil || ok || rec.Fingerprint != fp || rec.Answer != nil {
				t.Errorf("Begin after the lock = %+v, %v, %v; want the claim in flight", rec, ok, err)
			}
			if ok, err := s.Finish(ctx, "acct", "k", 1, created, time.Hour); err != nil || !ok {
				t.Errorf("Finish after the lock = %v, %v; want true", ok, err)
			}
		})
	}
}
