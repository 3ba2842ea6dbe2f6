package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// Store is an apikey.ManagedStore in a SQL database. Create one with New.
// It is safe for concurrent use (as *sql.DB is), holds no state of its own
// besides the database handle, and so any number of replicas may share one
// database.
type Store struct {
	db *sql.DB
	d  Dialect
	q  *queries
}

var _ apikey.ManagedStore = (*Store)(nil)

// New returns a Store that keeps its records in db, a database of dialect d
// whose schema has been applied (see ApplySchema). The Store does not own
// db: closing db is the caller's job.
func New(db *sql.DB, d Dialect) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: New needs a database")
	}
	q, ok := dialectQueries[d]
	if !ok {
		return nil, fmt.Errorf("sqlstore: invalid dialect %v", d)
	}
	return &Store{db: db, d: d, q: q}, nil
}

// Dialect returns the dialect the Store was created with.
func (s *Store) Dialect() Dialect { return s.d }

// LookupKey returns the record with the given id, apikey.ErrNotFound if
// there is none, or an error wrapping apikey.ErrUnavailable.
func (s *Store) LookupKey(ctx context.Context, id string) (*apikey.Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, s.q.lookup, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("sqlstore: key %s: %w", id, apikey.ErrNotFound)
	case err != nil:
		return nil, unavailable("lookup key "+id, err)
	}
	return k, nil
}

// CreateKey inserts k. It returns apikey.ErrConflict if a record with k's id
// exists, and an error wrapping apikey.ErrUnavailable if the database
// cannot answer. k must have an id and a valid Type, Environment and
// Permission.
func (s *Store) CreateKey(ctx context.Context, k *apikey.Key) error {
	if k == nil || k.ID == "" {
		return errors.New("sqlstore: CreateKey needs a key with an id")
	}
	args, err := s.d.args(k)
	if err != nil {
		return fmt.Errorf("sqlstore: key %s: %w", k.ID, err)
	}
	res, err := s.db.ExecContext(ctx, s.q.insert, args...)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("sqlstore: key %s: %w", k.ID, apikey.ErrConflict)
		}
		return unavailable("create key "+k.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return unavailable("create key "+k.ID, err)
	}
	if n == 0 { // ON CONFLICT DO NOTHING skipped it
		return fmt.Errorf("sqlstore: key %s: %w", k.ID, apikey.ErrConflict)
	}
	return nil
}

// UpdateKey replaces the record with k's id, or returns apikey.ErrNotFound.
// In the same statement, as apikey.ManagedStore requires, a RevokedAt
// already stored is kept and LastUsedAt becomes the later of the stored and
// given values, so concurrent writers cannot un-revoke a key or move its
// last use backwards.
func (s *Store) UpdateKey(ctx context.Context, k *apikey.Key) error {
	if k == nil || k.ID == "" {
		return errors.New("sqlstore: UpdateKey needs a key with an id")
	}
	args, err := s.d.args(k)
	if err != nil {
		return fmt.Errorf("sqlstore: key %s: %w", k.ID, err)
	}
	res, err := s.db.ExecContext(ctx, s.q.update, args...)
	if err != nil {
		return unavailable("update key "+k.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return unavailable("update key "+k.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: key %s: %w", k.ID, apikey.ErrNotFound)
	}
	return nil
}

// ListKeys returns the records matching f, ordered by CreatedAt and then
// ID, reading an index in that order whatever the filter.
func (s *Store) ListKeys(ctx context.Context, f apikey.ListFilter) ([]*apikey.Key, error) {
	var (
		query string
		args  []any
	)
	var env string
	if f.Environment != 0 {
		b, err := f.Environment.MarshalText()
		if err != nil {
			return nil, fmt.Errorf("sqlstore: ListKeys: %w", err)
		}
		env = string(b)
	}
	switch {
	case f.Owner != "" && env != "":
		query, args = s.q.listOwnerEnv, []any{f.Owner, env}
	case f.Owner != "":
		query, args = s.q.listOwner, []any{f.Owner}
	case env != "":
		query, args = s.q.listEnv, []any{env}
	default:
		query = s.q.listAll
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, unavailable("list keys", err)
	}
	defer rows.Close()
	var out []*apikey.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, unavailable("list keys", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list keys", err)
	}
	return out, nil
}

// TouchKeys sets, in one statement, the LastUsedAt of each listed key to
// the later of its stored value and the given time. Unknown ids and zero
// times are ignored.
func (s *Store) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	var arg []any
	switch s.d {
	case Postgres:
		ids := make([]string, 0, len(lastUsed))
		ats := make([]time.Time, 0, len(lastUsed))
		for id, t := range lastUsed {
			if !t.IsZero() {
				ids = append(ids, id)
				ats = append(ats, s.d.encodeTime(t, true).(time.Time))
			}
		}
		if len(ids) == 0 {
			return nil
		}
		arg = []any{ids, ats}
	case SQLite:
		m := make(map[string]int64, len(lastUsed))
		for id, t := range lastUsed {
			if !t.IsZero() {
				m[id] = s.d.encodeTime(t, true).(int64)
			}
		}
		if len(m) == 0 {
			return nil
		}
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("sqlstore: TouchKeys: %w", err)
		}
		arg = []any{string(b)}
	}
	if _, err := s.db.ExecContext(ctx, s.q.touch, arg...); err != nil {
		return unavailable("touch keys", err)
	}
	return nil
}

// queries are the statements of one dialect.
type queries struct {
	lookup, insert, update, touch             string
	listAll, listOwner, listEnv, listOwnerEnv string
}

const (
	selectKeys = "SELECT " + columns + " FROM gatekey_api_keys"
	orderKeys  = " ORDER BY created_at, id"

	// updateKey keeps a stored revoked_at and the later last_used_at.
	updateKey = `UPDATE gatekey_api_keys SET
	name = $2, type = $3, environment = $4, permission = $5, scopes = $6,
	owner = $7, tier = $8, allowed_networks = $9, disabled = $10,
	created_at = $11, expires_at = $12,
	revoked_at = COALESCE(revoked_at, $13),
	last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < $14 THEN $14 ELSE last_used_at END,
	metadata = $15, hash = $16
WHERE id = $1`
)

// common are the statements written the same way in every dialect, with
// PostgreSQL's $n placeholders (rewritten to ?n for SQLite).
var common = queries{
	lookup: selectKeys + " WHERE id = $1",
	insert: "INSERT INTO gatekey_api_keys (" + columns + ") VALUES " +
		"($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) " +
		"ON CONFLICT (id) DO NOTHING",
	update:       updateKey,
	listAll:      selectKeys + orderKeys,
	listOwner:    selectKeys + " WHERE owner = $1" + orderKeys,
	listEnv:      selectKeys + " WHERE environment = $1" + orderKeys,
	listOwnerEnv: selectKeys + " WHERE owner = $1 AND environment = $2" + orderKeys,
}

// Batched last use: two arrays in PostgreSQL, a JSON object {id: micros}
// in SQLite; either way one statement that joins on the primary key.
const (
	touchPostgres = `UPDATE gatekey_api_keys AS k SET last_used_at = v.at
FROM unnest($1::text[], $2::timestamptz[]) AS v(id, at)
WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.at)`

	touchSQLite = `UPDATE gatekey_api_keys SET last_used_at = v.at
FROM (SELECT key AS id, value AS at FROM json_each($1)) AS v
WHERE gatekey_api_keys.id = v.id
  AND (gatekey_api_keys.last_used_at IS NULL OR gatekey_api_keys.last_used_at < v.at)`
)

var dialectQueries = map[Dialect]*queries{
	Postgres: withTouch(common, touchPostgres),
	SQLite:   sqliteQueries(withTouch(common, touchSQLite)),
}

func withTouch(q queries, touch string) *queries {
	q.touch = touch
	return &q
}

var dollar = regexp.MustCompile(`\$([0-9]+)`)

// sqliteQueries rewrites $n placeholders to SQLite's ?n.
func sqliteQueries(q *queries) *queries {
	for _, s := range []*string{&q.lookup, &q.insert, &q.update, &q.touch,
		&q.listAll, &q.listOwner, &q.listEnv, &q.listOwnerEnv} {
		*s = dollar.ReplaceAllString(*s, "?$1")
	}
	return q
}
