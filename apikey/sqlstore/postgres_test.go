package sqlstore_test

import (
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gatekey/gatekey/internal/testserver"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// schemas counts the schemas postgresDB handed out.
var schemas atomic.Int64

// postgresDB returns a connection pool whose search_path is a new, empty
// schema of the shared test server, so each caller gets an empty store.
func postgresDB(t testing.TB) *sql.DB {
	t.Helper()
	srv := testserver.SharedPostgres(t)
	return openPG(t, srv, fmt.Sprintf("t%d", schemas.Add(1)))
}

// openPG creates schema on srv and returns a pool using it.
func openPG(t testing.TB, srv *testserver.Postgres, schema string) *sql.DB {
	t.Helper()
	admin, err := sql.Open("pgx", srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// An identifier made by the test, never a value: no placeholder exists
	// for identifiers.
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", srv.DSN("search_path="+schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
