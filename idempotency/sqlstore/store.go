package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/gatekey/gatekey/idempotency"
)

// Defaults for Config.
const (
	DefaultTimeout        = time.Second
	DefaultMaxAnswerBytes = 1 << 20
)

// MaxDuration is the longest lock or retention the Store keeps: longer
// ones are cut to it.
const MaxDuration = 100 * 365 * 24 * time.Hour

// beginTries bounds the claims a Begin tries when the record it found
// held is gone by the time it reads it (released or ended in between).
const beginTries = 3

// Config configures a Store. The zero value selects every default.
type Config struct {
	// Table names the Store's table: a plain identifier (letters, digits
	// and '_', 48 at most), without a schema. Default: DefaultTable.
	Table string

	// Timeout bounds each call to the database, a Begin's one or two
	// statements together (the caller's context may end it sooner). A
	// negative value sets no bound of the Store's own.
	// Default: DefaultTimeout (1s).
	Timeout time.Duration

	// MaxAnswerBytes bounds the encoded size of an answer the Store keeps
	// (idempotency.Answer.AppendBinary: about the body and headers). A
	// bigger answer is not written: Finish frees the key and reports
	// false, as the Store contract says of an answer too big to keep.
	// Default: DefaultMaxAnswerBytes (1 MiB).
	MaxAnswerBytes int

	// Now returns the current time, from which locks and retentions are
	// measured. Nil means, on PostgreSQL, the database's clock (now(), so
	// that replicas need no clock agreement: set Now there in tests only)
	// and, on SQLite, time.Now: the processes sharing a SQLite file share
	// a machine and its clock.
	Now func() time.Time
}

// A Store is an idempotency.Store in a SQL database. Create one with
// New. It is safe for concurrent use (as *sql.DB is), holds no state of
// its own besides the database handle, and so any number of replicas may
// share one database.
type Store struct {
	db        *sql.DB
	dialect   Dialect
	table     string
	q         *queries
	now       func() time.Time
	timeout   time.Duration
	maxAnswer int
}

var _ idempotency.Store = (*Store)(nil)

// New returns a Store that keeps its records in db, a database of dialect
// d, in the table cfg.Table, which ApplySchema creates. The Store does
// not own db: closing it, and bounding its pool (sql.DB.SetMaxOpenConns),
// are the caller's job. New does not contact the database.
func New(db *sql.DB, d Dialect, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: New needs a database")
	}
	if !d.Valid() {
		return nil, fmt.Errorf("sqlstore: invalid dialect %v", d)
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if !validTable.MatchString(cfg.Table) {
		return nil, fmt.Errorf("sqlstore: invalid table name %q: want letters, digits and '_', 48 at most, not starting with a digit", cfg.Table)
	}
	if cfg.Now == nil && d == SQLite {
		cfg.Now = time.Now
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxAnswerBytes <= 0 {
		cfg.MaxAnswerBytes = DefaultMaxAnswerBytes
	}
	return &Store{db: db, dialect: d, table: cfg.Table, q: newQueries(d, cfg.Table), now: cfg.Now,
		timeout: cfg.Timeout, maxAnswer: cfg.MaxAnswerBytes}, nil
}

// Begin implements idempotency.Store: it claims key for a request with
// fingerprint fp if the key is free, in one statement, and reads the
// Record held with a second one only if it did not claim it. Any failure
// to get an answer from the database (a connection refused or lost, a
// timeout, a canceled context, a missing table) is an error wrapping
// idempotency.ErrUnavailable, with no claim reported.
func (s *Store) Begin(ctx context.Context, account, key string, fp idempotency.Fingerprint, token uint64, lock time.Duration) (idempotency.Record, bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	acct, k, now := []byte(account), []byte(key), s.clock()
	for range beginTries {
		var tok int64
		err := s.db.QueryRowContext(ctx, s.q.claim, acct, k, fp[:], int64(token), micros(lock), now).Scan(&tok)
		switch {
		case err == nil:
			return idempotency.Record{}, true, nil
		case !errors.Is(err, sql.ErrNoRows):
			return idempotency.Record{}, false, unavailable("begin", err)
		}
		var fpb, enc []byte
		err = s.db.QueryRowContext(ctx, s.q.read, acct, k, now).Scan(&fpb, &enc)
		if errors.Is(err, sql.ErrNoRows) {
			continue // freed or ended since the claim was tried: try again
		}
		if err != nil {
			return idempotency.Record{}, false, unavailable("begin", err)
		}
		var rec idempotency.Record
		if len(fpb) != len(rec.Fingerprint) {
			return idempotency.Record{}, false, unavailable("begin", fmt.Errorf("malformed fingerprint of %d bytes", len(fpb)))
		}
		copy(rec.Fingerprint[:], fpb)
		if enc != nil {
			rec.Answer = new(idempotency.Answer)
			if err := rec.Answer.UnmarshalBinary(enc); err != nil {
				return idempotency.Record{}, false, unavailable("begin", err)
			}
		}
		return rec, false, nil
	}
	return idempotency.Record{}, false, unavailable("begin", fmt.Errorf("the key changed hands %d times during the call", beginTries))
}

// Finish implements idempotency.Store: it keeps a until retain has
// passed if key is still held by token (claimed by it, with its lock not
// yet ended), in one UPDATE. An answer bigger than Config.MaxAnswerBytes
// is not kept: Finish frees the key (Release) and reports false. An
// answer that cannot be encoded (a status outside 100–999) is an error
// not wrapping ErrUnavailable, and frees the key too. Database failures
// are errors wrapping idempotency.ErrUnavailable, as for Begin.
func (s *Store) Finish(ctx context.Context, account, key string, token uint64, a *idempotency.Answer, retain time.Duration) (bool, error) {
	enc, err := a.AppendBinary(nil)
	if err != nil || len(enc) > s.maxAnswer {
		if rerr := s.Release(ctx, account, key, token); rerr != nil {
			return false, rerr
		}
		if err != nil {
			return false, fmt.Errorf("sqlstore: finish: %w", err)
		}
		return false, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, s.q.finish, []byte(account), []byte(key), int64(token), enc, micros(retain), s.clock())
	if err != nil {
		return false, unavailable("finish", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, unavailable("finish", err)
	}
	return n == 1, nil
}

// Release implements idempotency.Store: it frees key if token still
// holds its claim, in one DELETE. Database failures are errors wrapping
// idempotency.ErrUnavailable, as for Begin.
func (s *Store) Release(ctx context.Context, account, key string, token uint64) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, s.q.release, []byte(account), []byte(key), int64(token)); err != nil {
		return unavailable("release", err)
	}
	return nil
}

// Prune deletes the records whose lock or retention has ended (by the
// Store's clock) and returns how many it deleted. Such a record is free
// already, and taken over by the next claim of its key, so deleting it
// changes nothing but the size of the table. Run it now and then (hourly,
// say): it scans the table. Its timeout is the caller's context's alone.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q.prune, s.clock())
	if err != nil {
		return 0, unavailable("prune", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, unavailable("prune", err)
	}
	return n, nil
}

func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout > 0 {
		return context.WithTimeout(ctx, s.timeout)
	}
	return ctx, func() {}
}

// clock returns the time to pass to the statements: microseconds since
// 1970 by Config.Now, or nil for the database's clock.
func (s *Store) clock() any {
	if s.now == nil {
		return nil
	}
	return s.now().UnixMicro()
}

// micros returns d in microseconds, within [0, MaxDuration].
func micros(d time.Duration) int64 {
	return min(max(d, 0), MaxDuration).Microseconds()
}

// unavailable wraps err, a failure to get an answer from the database,
// with idempotency.ErrUnavailable.
func unavailable(op string, err error) error {
	return fmt.Errorf("sqlstore: %s: %w: %w", op, idempotency.ErrUnavailable, err)
}

// queries are the statements of one dialect and table.
type queries struct {
	claim, read, finish, release, prune string
}

// The statements, with PostgreSQL's $n placeholders (rewritten to ?n for
// SQLite), {table} for the table's name and {now<n>} for the current time
// in microseconds since 1970: parameter $n, or on PostgreSQL the
// database's clock when $n is NULL. In each, $1 is the account and $2 the key.
var common = queries{
	// Claim: $3 is the fingerprint, $4 the token, $5 the lock. A new key
	// is inserted; a row whose until has passed is taken over; a row
	// held by the same token (a retried Begin) is claimed again. Any
	// other row is left as it is, and no row returned.
	claim: `INSERT INTO {table} AS r (account, key, fingerprint, token, until_us, answer)
VALUES ($1, $2, $3, $4, {now6} + $5, NULL)
ON CONFLICT (account, key) DO UPDATE SET
	fingerprint = excluded.fingerprint, token = excluded.token, until_us = excluded.until_us, answer = NULL
WHERE r.until_us <= {now6} OR (r.token = excluded.token AND r.answer IS NULL)
RETURNING token`,

	// The record held, read when the claim was refused.
	read: `SELECT fingerprint, answer FROM {table} WHERE account = $1 AND key = $2 AND until_us > {now3}`,

	// Finish: $3 is the token, $4 the answer, $5 the retention.
	finish: `UPDATE {table} SET answer = $4, until_us = {now6} + $5
WHERE account = $1 AND key = $2 AND token = $3 AND answer IS NULL AND until_us > {now6}`,

	// Release: $3 is the token.
	release: `DELETE FROM {table} WHERE account = $1 AND key = $2 AND token = $3 AND answer IS NULL`,

	prune: `DELETE FROM {table} WHERE until_us <= {now1}`,
}

var (
	nowCall = regexp.MustCompile(`\{now([0-9]+)\}`)
	dollar  = regexp.MustCompile(`\$([0-9]+)`)
)

// newQueries returns the statements of dialect d on table.
func newQueries(d Dialect, table string) *queries {
	q := common
	for _, s := range []*string{&q.claim, &q.read, &q.finish, &q.release, &q.prune} {
		*s = strings.ReplaceAll(*s, "{table}", table)
		if d == Postgres {
			*s = nowCall.ReplaceAllString(*s, "COALESCE($$$1::bigint, (extract(epoch FROM now()) * 1000000)::bigint)")
		} else {
			*s = nowCall.ReplaceAllString(*s, "$$$1")
			*s = dollar.ReplaceAllString(*s, "?$1")
		}
	}
	return &q
}
