// Package sqlstore is a credits.Store kept in a SQL database through
// database/sql, so that every replica of a service spends from the same
// balances. It supports PostgreSQL and SQLite.
//
// # Drivers
//
// The package imports no driver: the program registers the one it uses.
// The tested ones are github.com/jackc/pgx/v5/stdlib for PostgreSQL and the
// pure-Go modernc.org/sqlite (no cgo) for SQLite:
//
//	import _ "github.com/jackc/pgx/v5/stdlib"
//
//	db, err := sql.Open("pgx", "postgres://gatekey@db.internal/gatekey?statement_timeout=1000")
//	...
//	db.SetMaxOpenConns(20)
//	if err := sqlstore.ApplySchema(ctx, db, sqlstore.Postgres); err != nil { ... }
//	store, err := sqlstore.New(db, sqlstore.Postgres, sqlstore.Config{})
//
// The pool is the caller's: bound it (sql.DB.SetMaxOpenConns) below what
// the server accepts. With SQLite, which runs one writer at a time, use
// one connection per process, so that spends queue in the pool rather than
// poll for the lock, and let writers of other processes wait for each
// other rather than fail at once:
//
//	import _ "modernc.org/sqlite"
//
//	db, err := sql.Open("sqlite", "file:credits.db?_pragma=busy_timeout(1000)&_pragma=journal_mode(WAL)")
//	...
//	db.SetMaxOpenConns(1)
//
// SQLite then syncs the file at every spend (synchronous=FULL), which
// costs most of a spend's time; with WAL, _pragma=synchronous(NORMAL) is
// several times faster and may lose the last spends, never the
// database, to a power failure: credits given back, not taken.
//
// # Schema
//
// The schema is one table, gatekey_credits, with a row per account and
// kind of period (day or month): the index of the row's period
// (credits.Period.Index) and the credits remaining in it. Schema returns
// its SQL and ApplySchema applies it (idempotently, so every replica may
// call it at start-up; on PostgreSQL concurrent calls are serialised by an
// advisory lock). The table name is fixed; to keep stores apart, use
// separate databases or, on PostgreSQL, separate schemas chosen with
// search_path. Accounts are stored as their bytes (bytea, BLOB), so any
// name is an account of its own, compared exactly. An account's daily and
// monthly balances are separate rows: an account moved from one kind of
// allowance to the other and back within a period finds its balance where
// it left it.
//
// # Statements
//
// Every Spend and Grant is one atomic statement on one row, run without a
// transaction of the Store's own, and returns the row it wrote (RETURNING);
// nothing is read first and decided in Go. A Spend of a cost from 1 to the
// allowance is an upsert:
//
//	INSERT INTO gatekey_credits AS c (account, period, period_index, remaining)
//	VALUES ($1, $2, $3, $4)  -- $3 the caller's period, $4 the allowance less the cost
//	ON CONFLICT (account, period) DO UPDATE SET
//		period_index = CASE WHEN c.period_index < excluded.period_index THEN excluded.period_index ELSE c.period_index END,
//		remaining = CASE WHEN c.period_index < excluded.period_index THEN excluded.remaining ELSE c.remaining - $5 END
//	WHERE c.period_index < excluded.period_index OR c.remaining >= $5  -- $5 the cost
//	RETURNING period_index, remaining
//
// which inserts a new balance, refills one of a past period, or spends from
// one of the current period (or a newer one: periods never go backwards)
// only if it holds the cost; otherwise it changes nothing and returns no
// row. A cost above the allowance can only be paid by a balance holding
// grants, so it is an UPDATE … WHERE period_index >= $3 AND remaining >=
// cost. A Grant is the same upsert, adding. A cost of 0 is a plain SELECT,
// and so is the reading of the balance a refused spend reports. The
// database's row lock (PostgreSQL) or write lock (SQLite) makes
// concurrent statements take turns on a row, so spends from any number of
// replicas are exact, and a period boundary refills a balance once.
//
// # Time
//
// Time is Config.Now (time.Now by default): the Store passes the period
// index of its clock to the database, so the replicas sharing a database
// should keep their clocks in step. A replica whose clock is behind spends
// from the newer period a balance is in; one whose clock is ahead refills
// balances early.
//
// Rows of past periods stay until the account spends again; Store.Prune
// deletes those whose period ended more than a Margin ago.
//
// # Errors and timeouts
//
// Invalid arguments are errors wrapping credits.ErrInvalidAllowance or
// credits.ErrInvalidCost, without a statement. Every failure to get an
// answer from the database — a connection refused or lost, a timeout, a
// canceled context, a missing table — is an error wrapping
// credits.ErrUnavailable, with no success reported; there is no fallback,
// since credits are money, and the caller decides what an outage means
// (package middleware fails closed, answering 503, unless told
// otherwise). database/sql reconnects by itself, so a Store recovers when
// the database comes back.
//
// Config.Timeout (1s by default) bounds each call through its context.
// Such an error means the Store could not tell what happened, not that
// nothing happened, unless the database gives up too: a PostgreSQL
// statement whose client has gone still runs to completion (waiting for a
// row lock, say) and commits, so set the server's statement_timeout (as
// above, in milliseconds) to at most the Timeout; and SQLite waits for
// another process's write lock for its busy_timeout whatever the context,
// so keep busy_timeout at most the Timeout too.
package sqlstore
