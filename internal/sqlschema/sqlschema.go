package sqlschema

import (
	"context"
	"database/sql"
)

// Apply runs schema, idempotent SQL, in one transaction on db. On
// PostgreSQL (postgres set) it first takes the transaction's advisory
// lock lock, so that replicas applying the schema at once do so one after
// the other. Errors are the database's, for the caller to wrap.
func Apply(ctx context.Context, db *sql.DB, postgres bool, lock int64, schema string) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", lock); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return err
	}
	return tx.Commit()
}
