package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/idempotency/sqlstore"
	"modernc.org/sqlite"
)

// hookedDriver is the SQLite driver with a hook run, on the connection,
// before each statement that reads a held record: a way to make another
// request's Release land between a Begin's two statements.
type hookedDriver struct{ sqlite.Driver }

var (
	hookMu sync.Mutex
	hook   func(ctx context.Context, c driver.ExecerContext) error
)

func setHook(t *testing.T, h func(ctx context.Context, c driver.ExecerContext) error) {
	hookMu.Lock()
	hook = h
	hookMu.Unlock()
	t.Cleanup(func() {
		hookMu.Lock()
		hook = nil
		hookMu.Unlock()
	})
}

func init() { sql.Register("sqlite-hooked", &hookedDriver{}) }

func (d *hookedDriver) Open(name string) (driver.Conn, error) {
	c, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	return &hookedConn{c.(sqliteConn)}, nil
}

// sqliteConn is what the SQLite driver's connections implement, and
// database/sql uses.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
}

type hookedConn struct{ sqliteConn }

func (c *hookedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	hookMu.Lock()
	h := hook
	hookMu.Unlock()
	if h != nil && strings.HasPrefix(query, "SELECT fingerprint, answer") {
		if err := h(ctx, c.sqliteConn); err != nil {
			return nil, err
		}
	}
	return c.sqliteConn.QueryContext(ctx, query, args)
}

// TestBeginRace makes the record a Begin found held disappear before the
// Begin reads it (its request released it, say): the Begin claims the
// key at its next try, rather than report a record that is gone.
func TestBeginRace(t *testing.T) {
	db, err := sql.Open("sqlite-hooked", sqliteDSN(filepath.Join(t.TempDir(), "idem.db")))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	s := newStore(t, db, sqlstore.SQLite, sqlstore.Config{Now: newClock().Now})
	ctx := t.Context()
	fp := fingerprint("POST /v1/monitors")
	if _, ok, err := s.Begin(ctx, "acct", "k", fp, 1, time.Minute); err != nil || !ok {
		t.Fatalf("Begin = %v, %v", ok, err)
	}
	hooked := 0
	setHook(t, func(ctx context.Context, c driver.ExecerContext) error {
		hooked++
		if hooked > 1 {
			return nil
		}
		_, err := c.ExecContext(ctx, "DELETE FROM gatekey_idempotency", nil)
		return err
	})
	if _, ok, err := s.Begin(ctx, "acct", "k", fp, 2, time.Minute); err != nil || !ok {
		t.Errorf("Begin whose held record went away before it was read = %v, %v; want a claim", ok, err)
	}
	if hooked != 1 {
		t.Errorf("the read ran %d times, want 1", hooked)
	}
	// And the claim is token 2's.
	if ok, err := s.Finish(ctx, "acct", "k", 2, created, time.Hour); err != nil || !ok {
		t.Errorf("Finish of the claim = %v, %v; want true", ok, err)
	}
}
