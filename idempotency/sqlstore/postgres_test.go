package sqlstore_test

import (
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gatekey/gatekey/internal/testserver"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// schemas counts the schemas postgresPools handed out.
var schemas atomic.Int64

// postgresDB returns a connection pool whose search_path is a new, empty
// schema of the shared test server, so each caller gets an empty store.
func postgresDB(t testing.TB) *sql.DB {
	t.Helper()
	return postgresPools(t, 1)[0]
}

// postgresPools returns n connection pools of their own (as n replicas
// would have) on one new, empty schema of the shared test server. The
// runtime parameters given (such as statement_timeout=100) apply to every
// pool but the first.
func postgresPools(t testing.TB, n int, params ...string) []*sql.DB {
	t.Helper()
	srv := testserver.SharedPostgres(t)
	schema := fmt.Sprintf("t%d", schemas.Add(1))
	pools := []*sql.DB{openPG(t, srv, schema)}
	for len(pools) < n {
		pools = append(pools, openPGSchema(t, srv, schema, params...))
	}
	return pools
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
	return openPGSchema(t, srv, schema)
}

// openPGSchema returns a pool on srv using schema, which exists, with at
// most 20 connections (the server takes 100) and the runtime parameters
// given.
func openPGSchema(t testing.TB, srv *testserver.Postgres, schema string, params ...string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", srv.DSN(append([]string{"search_path=" + schema}, params...)...))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(20)
	t.Cleanup(func() { db.Close() })
	return db
}
