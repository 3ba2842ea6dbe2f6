//go:build !unix

package sqlstore_test

import (
	"database/sql"
	"testing"
)

func requirePostgres(t testing.TB) string {
	t.Skip("the PostgreSQL tests start a server and need a Unix system")
	return ""
}

func postgresDB(t testing.TB) *sql.DB {
	requirePostgres(t)
	return nil
}

func postgresPools(t testing.TB, n int, params ...string) []*sql.DB {
	requirePostgres(t)
	return nil
}

func removeSharedPostgres() {}
