package sqlstore

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"

	"github.com/gatekey/gatekey/credits"
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

var (
	//go:embed schema/postgres.sql
	postgresSchema string
	//go:embed schema/sqlite.sql
	sqliteSchema string
)

// schemaLock is the PostgreSQL advisory lock key ("gkcredit") that
// serialises concurrent ApplySchema calls.
const schemaLock = 0x676b_6372_6564_6974

// Schema returns the SQL that creates the Store's table in dialect d (the
// files under schema/ in this module), for migration tools that want to
// apply it themselves. It returns "" for an invalid dialect.
func Schema(d Dialect) string {
	switch d {
	case Postgres:
		return postgresSchema
	case SQLite:
		return sqliteSchema
	}
	return ""
}

// ApplySchema creates the Store's table in db if it does not exist. It is
// idempotent, so every replica may call it when it starts; on PostgreSQL
// an advisory lock serialises concurrent calls. Errors wrap
// credits.ErrUnavailable when the database cannot be reached.
func ApplySchema(ctx context.Context, db *sql.DB, d Dialect) error {
	if db == nil || !d.Valid() {
		return fmt.Errorf("sqlstore: ApplySchema needs a database and a valid dialect (got %v)", d)
	}
	if err := sqlschema.Apply(ctx, db, d == Postgres, int64(schemaLock), Schema(d)); err != nil {
		return unavailable("apply schema", err)
	}
	return nil
}

// unavailable wraps err, a failure to get an answer from the database, with
// credits.ErrUnavailable.
func unavailable(op string, err error) error {
	return fmt.Errorf("sqlstore: %s: %w: %w", op, credits.ErrUnavailable, err)
}
