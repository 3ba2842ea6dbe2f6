package sqlstore

import (
	"context"
	_ "embed"
	"fmt"
	"regexp"

	"github.com/gatekey/gatekey/internal/sqlschema"
)

// A Dialect is a SQL database a Store can use.
type Dialect uint8

// Dialects.
const (
	// Postgres is PostgreSQL (9.5 or later, for INSERT … ON CONFLICT;
	// tested with 15, through github.com/jackc/pgx/v5/stdlib).
	Postgres Dialect = iota + 1
	// SQLite is SQLite (3.37 or later, for RETURNING and STRICT tables;
	// tested with modernc.org/sqlite).
	SQLite
)

// String returns "postgres" or "sqlite" (or "Dialect(n)" for an invalid
// value).
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case SQLite:
		return "sqlite"
	}
	return fmt.Sprintf("Dialect(%d)", uint8(d))
}

// Valid reports whether d is Postgres or SQLite.
func (d Dialect) Valid() bool { return d == Postgres || d == SQLite }

// DefaultTable is the default of Config.Table.
const DefaultTable = "gatekey_idempotency"

var (
	//go:embed schema/postgres.sql
	postgresSchema string
	//go:embed schema/sqlite.sql
	sqliteSchema string
)

// schemaLock is the PostgreSQL advisory lock key ("gkidempo") that
// serialises concurrent ApplySchema calls.
const schemaLock = 0x676b_6964_656d_706f

// validTable matches the table names a Store accepts: plain identifiers,
// used unquoted (so PostgreSQL folds them to lower case), without a
// schema: choose that with search_path.
var validTable = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

var defaultTableWord = regexp.MustCompile(`\b` + DefaultTable + `\b`)

// Schema returns the SQL that creates the Store's table in dialect d (the
// files under schema/ in this module, with the table named table; ""
// means DefaultTable), for migration tools that want to apply it
// themselves. It returns "" for an invalid dialect or table name.
func Schema(d Dialect, table string) string {
	if table == "" {
		table = DefaultTable
	}
	if !validTable.MatchString(table) {
		return ""
	}
	var s string
	switch d {
	case Postgres:
		s = postgresSchema
	case SQLite:
		s = sqliteSchema
	default:
		return ""
	}
	return defaultTableWord.ReplaceAllLiteralString(s, table)
}

// ApplySchema creates the Store's table if it does not exist. It is
// idempotent, so every replica may call it when it starts; on PostgreSQL
// an advisory lock serialises concurrent calls. Its timeout is the
// caller's context's alone. Errors wrap idempotency.ErrUnavailable when
// the database cannot be reached.
func (s *Store) ApplySchema(ctx context.Context) error {
	if err := sqlschema.Apply(ctx, s.db, s.dialect == Postgres, int64(schemaLock), Schema(s.dialect, s.table)); err != nil {
		return unavailable("apply schema", err)
	}
	return nil
}
