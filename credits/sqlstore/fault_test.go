//go:build unix

package sqlstore_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/credits/sqlstore"
	"github.com/gatekey/gatekey/internal/testserver"
)

// TestPostgresDown stops the database under a Store: every Spend and
// Grant fails with an error wrapping credits.ErrUnavailable and reports no
// success, never a silent one (nor a fresh allowance); once the database
// is back the Store uses it again by itself, with the balances it kept.
func TestPostgresDown(t *testing.T) {
	srv := testserver.StartPostgres(t)
	s := newStore(t, openPG(t, srv, "fault"), sqlstore.Postgres, sqlstore.Config{Timeout: 10 * time.Second})
	a := credits.PerMonth(10)
	if b, ok, err := s.Spend(t.Context(), "k", a, 3); err != nil || !ok || b.Remaining != 7 {
		t.Fatalf("Spend with the database up = %+v, %v, %v", b, ok, err)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	// Several calls: the first finds pooled connections that the server
	// closed, the next ones find the port refusing connections.
	for i := range 3 {
		for _, cost := range []int64{0, 1, 11} {
			b, ok, err := s.Spend(t.Context(), "k", a, cost)
			if i == 0 && cost == 1 {
				t.Logf("Spend with the database down: %v", err)
			}
			if ok || !errors.Is(err, credits.ErrUnavailable) || b != (credits.Balance{}) {
				t.Errorf("Spend #%d (cost %d) with the database down = %+v, %v, %v; want ErrUnavailable", i, cost, b, ok, err)
			}
		}
		if b, err := s.Grant(t.Context(), "k", a, 1); !errors.Is(err, credits.ErrUnavailable) || b != (credits.Balance{}) {
			t.Errorf("Grant #%d with the database down = %+v, %v; want ErrUnavailable", i, b, err)
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
		b, ok, err := s.Spend(t.Context(), "k", a, 1)
		if err == nil {
			if !ok || b.Remaining != 6 {
				t.Errorf("first Spend after the restart = %+v, %v; want Remaining 6", b, ok)
			}
			break
		}
		if !errors.Is(err, credits.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Spend did not recover within 15s of the restart: %v", err)
		}
	}
}

// TestTimeout holds the row (PostgreSQL) or the database's write lock
// (SQLite) in another transaction, as a hung or very slow writer would: a
// Spend or Grant gives up after about Config.Timeout with ErrUnavailable,
// changes nothing, and succeeds once the lock is released. The database is
// configured as the package documentation says: SQLite's busy_timeout and
// PostgreSQL's statement_timeout at most the Timeout, so that the database
// gives up too, rather than apply the spend once the caller has gone.
func TestTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, tc := range []struct {
		name string
		d    sqlstore.Dialect
		open func(testing.TB) (store, locker *sql.DB)
		lock string
	}{
		{"sqlite", sqlstore.SQLite, func(t testing.TB) (*sql.DB, *sql.DB) {
			dsn := "file:" + filepath.Join(t.TempDir(), "credits.db") + "?_pragma=busy_timeout(150)&_pragma=journal_mode(WAL)"
			return openSQLite(t, dsn), openSQLite(t, dsn)
		}, "UPDATE gatekey_credits SET remaining = remaining"},
		{"postgres", sqlstore.Postgres, func(t testing.TB) (*sql.DB, *sql.DB) {
			dbs := postgresPools(t, 2, "statement_timeout=150")
			return dbs[1], dbs[0]
		}, "SELECT 1 FROM gatekey_credits FOR UPDATE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.d == sqlstore.Postgres {
				testserver.RequirePostgres(t)
			}
			db, locker := tc.open(t)
			s := newStore(t, db, tc.d, sqlstore.Config{Timeout: timeout})
			a := credits.PerMonth(10)
			if _, ok, err := s.Spend(t.Context(), "k", a, 1); err != nil || !ok {
				t.Fatal(ok, err)
			}
			tx, err := locker.BeginTx(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(t.Context(), tc.lock); err != nil {
				t.Fatal(err)
			}
			for _, op := range []string{"Spend", "Grant"} {
				start := time.Now()
				var ok bool
				var err error
				if op == "Spend" {
					_, ok, err = s.Spend(t.Context(), "k", a, 1)
				} else {
					_, err = s.Grant(t.Context(), "k", a, 1)
				}
				elapsed := time.Since(start)
				t.Logf("%s on a locked row: %v after %v", op, err, elapsed)
				if ok || !errors.Is(err, credits.ErrUnavailable) {
					t.Errorf("%s on a locked row = %v, %v; want ErrUnavailable", op, ok, err)
				}
				if elapsed > 5*timeout {
					t.Errorf("%s on a locked row took %v, want about the timeout, %v", op, elapsed, timeout)
				}
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			if b, ok, err := s.Spend(t.Context(), "k", a, 1); err != nil || !ok || b.Remaining != 8 {
				t.Errorf("Spend after the lock = %+v, %v, %v; want Remaining 8 (the timed-out calls changed nothing)", b, ok, err)
			}
		})
	}
}
