package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/gatekey/gatekey/credits"
)

// DefaultTimeout is the default of Config.Timeout.
const DefaultTimeout = time.Second

// Margin is how long after the end of its period Prune keeps a balance,
// for a replica whose clock is behind and still spends from that period.
const Margin = 24 * time.Hour

// maxBalance is the largest balance grants can make, as in
// credits.MemoryStore.
const maxBalance = 2 * credits.MaxCredits

// Config configures a Store. The zero value selects every default.
type Config struct {
	// Now returns the current time, from which Spend and Grant take the
	// period (credits.Period.Index) they pass to the database. The
	// replicas sharing a database should keep their clocks in step (NTP):
	// a replica whose clock is behind the period of a balance spends from
	// that balance, but one ahead refills balances early. Nil means
	// time.Now.
	Now func() time.Time

	// Timeout bounds each call to the database, a Spend's one or two
	// statements together (the caller's context may end it sooner). A
	// negative value sets no bound of the Store's own.
	// Default: DefaultTimeout.
	Timeout time.Duration
}

// A Store is a credits.Store in a SQL database. Create one with New. It is
// safe for concurrent use (as *sql.DB is), holds no state of its own
// besides the database handle, and so any number of replicas may share one
// database.
type Store struct {
	db      *sql.DB
	q       *queries
	now     func() time.Time
	timeout time.Duration
}

var _ credits.Store = (*Store)(nil)

// New returns a Store that keeps its balances in db, a database of dialect
// d whose schema has been applied (see ApplySchema). The Store does not
// own db: closing it, and bounding its pool (sql.DB.SetMaxOpenConns), are
// the caller's job.
func New(db *sql.DB, d Dialect, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: New needs a database")
	}
	q, ok := dialectQueries[d]
	if !ok {
		return nil, fmt.Errorf("sqlstore: invalid dialect %v", d)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Store{db: db, q: q, now: cfg.Now, timeout: cfg.Timeout}, nil
}

// Spend implements credits.Store: it takes cost credits from account's
// balance in the current period if the balance holds them all, in one
// atomic statement. A cost of 0 reads the balance and writes nothing.
//
// A refused spend writes nothing either, and its Balance is read by a
// second statement: under contention, it may already count spends and
// grants made after the refusal.
//
// Invalid arguments give an error wrapping credits.ErrInvalidAllowance or
// credits.ErrInvalidCost without contacting the database. Any failure to
// get an answer from the database (a connection refused or lost, a
// timeout, a canceled context, a missing table) is an error wrapping
// credits.ErrUnavailable, with no success reported.
func (s *Store) Spend(ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
	if err := credits.CheckArgs(a, cost, false); err != nil {
		return credits.Balance{}, false, fmt.Errorf("sqlstore: %w", err)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	index := a.Period.Index(s.now())
	key, period := []byte(account), a.Period.String()
	var row *sql.Row
	switch {
	case cost == 0:
		b, err := s.read(ctx, key, period, a, index)
		return b, err == nil, err
	case cost <= a.Credits:
		row = s.db.QueryRowContext(ctx, s.q.spend, key, period, index, a.Credits-cost, cost)
	default:
		// More than a whole allowance: only a balance of this period (or
		// a newer one) that holds grants can pay.
		row = s.db.QueryRowContext(ctx, s.q.spendGrants, key, period, index, cost)
	}
	b, err := scanBalance(row, a)
	switch {
	case errors.Is(err, sql.ErrNoRows): // refused
		b, err = s.read(ctx, key, period, a, index)
		return b, false, err
	case err != nil:
		return credits.Balance{}, false, unavailable("spend", err)
	}
	return b, true, nil
}

// Grant implements credits.Store: it adds n credits to account's balance
// until the current period ends, in one atomic statement. Errors are those
// of Spend.
func (s *Store) Grant(ctx context.Context, account string, a credits.Allowance, n int64) (credits.Balance, error) {
	if err := credits.CheckArgs(a, n, true); err != nil {
		return credits.Balance{}, fmt.Errorf("sqlstore: %w", err)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	index := a.Period.Index(s.now())
	row := s.db.QueryRowContext(ctx, s.q.grant, []byte(account), a.Period.String(), index, a.Credits+n, n, int64(maxBalance))
	b, err := scanBalance(row, a)
	if err != nil {
		return credits.Balance{}, unavailable("grant", err)
	}
	return b, nil
}

// Prune deletes the balances of periods that ended more than Margin ago
// (by Config.Now's clock) and returns how many it deleted. Such a balance
// is replaced by the allowance at its account's next spend anyway, so
// deleting it changes nothing but the size of the table, which Prune
// keeps to the accounts active in the current period. Run it now and then
// (daily, say): it scans the table. Its timeout is the caller's context's
// alone.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	before := s.now().Add(-Margin)
	res, err := s.db.ExecContext(ctx, s.q.prune, credits.Day.Index(before), credits.Month.Index(before))
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

// read returns account's balance without writing: the stored one if it is
// of the current period (or a newer one), else a new period's.
func (s *Store) read(ctx context.Context, key []byte, period string, a credits.Allowance, index int64) (credits.Balance, error) {
	stored, remaining, err := scanRow(s.db.QueryRowContext(ctx, s.q.read, key, period))
	switch {
	case errors.Is(err, sql.ErrNoRows) || err == nil && stored < index:
		return balance(a, index, a.Credits), nil
	case err != nil:
		return credits.Balance{}, unavailable("read balance", err)
	}
	return balance(a, stored, remaining), nil
}

// scanBalance reads a row of period_index and remaining as a Balance.
func scanBalance(row *sql.Row, a credits.Allowance) (credits.Balance, error) {
	index, remaining, err := scanRow(row)
	if err != nil {
		return credits.Balance{}, err
	}
	return balance(a, index, remaining), nil
}

func scanRow(row *sql.Row) (index, remaining int64, err error) {
	err = row.Scan(&index, &remaining)
	return index, remaining, err
}

func balance(a credits.Allowance, index, remaining int64) credits.Balance {
	return credits.Balance{Remaining: remaining, Allowance: a, ResetAt: a.Period.EndOf(index)}
}

// queries are the statements of one dialect.
type queries struct {
	spend, spendGrants, grant, read, prune string
}

// The statements, with PostgreSQL's $n placeholders (rewritten to ?n for
// SQLite). In each, $1 is the account, $2 the period ('day' or 'month')
// and $3 the caller's period index. A stored row of an older period is
// replaced; one of the same or a newer period is kept and spent from.
var common = queries{
	// Spend of a cost from 1 to the allowance: $4 is the allowance less
	// the cost, $5 the cost. A new or past-period balance always holds the
	// cost (it is inserted or refilled with $4); a current one pays only
	// if it holds the cost, or else the statement updates no row and
	// returns none.
	spend: `INSERT INTO gatekey_credits AS c (account, period, period_index, remaining)
VALUES ($1, $2, $3, $4)
ON CONFLICT (account, period) DO UPDATE SET
	period_index = CASE WHEN c.period_index < excluded.period_index THEN excluded.period_index ELSE c.period_index END,
	remaining = CASE WHEN c.period_index < excluded.period_index THEN excluded.remaining ELSE c.remaining - $5 END
WHERE c.period_index < excluded.period_index OR c.remaining >= $5
RETURNING period_index, remaining`,

	// Spend of a cost ($4) above the allowance: a new or refilled balance
	// cannot pay, so only a stored current one is updated.
	spendGrants: `UPDATE gatekey_credits SET remaining = remaining - $4
WHERE account = $1 AND period = $2 AND period_index >= $3 AND remaining >= $4
RETURNING period_index, remaining`,

	// Grant: $4 is the allowance plus the grant, $5 the grant, $6 the
	// largest balance.
	grant: `INSERT INTO gatekey_credits AS c (account, period, period_index, remaining)
VALUES ($1, $2, $3, $4)
ON CONFLICT (account, period) DO UPDATE SET
	period_index = CASE WHEN c.period_index < excluded.period_index THEN excluded.period_index ELSE c.period_index END,
	remaining = CASE
		WHEN c.period_index < excluded.period_index THEN excluded.remaining
		WHEN c.remaining + $5 > $6 THEN $6
		ELSE c.remaining + $5
	END
RETURNING period_index, remaining`,

	read: `SELECT period_index, remaining FROM gatekey_credits WHERE account = $1 AND period = $2`,

	// Prune: $1 and $2 are the first day and month indexes kept.
	prune: `DELETE FROM gatekey_credits
WHERE (period = 'day' AND period_index < $1) OR (period = 'month' AND period_index < $2)`,
}

var dialectQueries = map[Dialect]*queries{
	Postgres: &common,
	SQLite:   sqliteQueries(common),
}

var dollar = regexp.MustCompile(`\$([0-9]+)`)

// sqliteQueries rewrites $n placeholders to SQLite's ?n.
func sqliteQueries(q queries) *queries {
	for _, s := range []*string{&q.spend, &q.spendGrants, &q.grant, &q.read, &q.prune} {
		*s = dollar.ReplaceAllString(*s, "?$1")
	}
	return &q
}
