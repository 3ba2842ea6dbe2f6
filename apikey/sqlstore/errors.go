package sqlstore

import (
	"errors"
	"fmt"

	"github.com/gatekey/gatekey/apikey"
)

// unavailable wraps err, a failure to get an answer from the database, with
// apikey.ErrUnavailable.
func unavailable(op string, err error) error {
	return fmt.Errorf("sqlstore: %s: %w: %w", op, apikey.ErrUnavailable, err)
}

// isUniqueViolation reports whether err is a driver's unique-constraint
// error: SQLSTATE 23505 (PostgreSQL: pgx, lib/pq) or SQLITE_CONSTRAINT_UNIQUE
// / SQLITE_CONSTRAINT_PRIMARYKEY (modernc.org/sqlite, extended codes). The
// drivers are recognised by method, so this package imports none of them.
func isUniqueViolation(err error) bool {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		return pg.SQLState() == "23505"
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		const (
			constraintPrimaryKey = 19 | 6<<8 // SQLITE_CONSTRAINT_PRIMARYKEY
			constraintUnique     = 19 | 8<<8 // SQLITE_CONSTRAINT_UNIQUE
		)
		c := lite.Code()
		return c == constraintPrimaryKey || c == constraintUnique
	}
	return false
}
