// Package sqlstore is an idempotency.Store kept in a SQL database
// through database/sql, so that every replica of a service shares the
// idempotency keys its clients send: a retry that lands on another
// replica gets the first request's answer, and two copies of a request
// sent to two replicas at once run once. It supports PostgreSQL and
// SQLite.
//
// # Drivers
//
// The package imports no driver: the program registers the one it uses.
// The tested ones are github.com/jackc/pgx/v5/stdlib for PostgreSQL and
// the pure-Go modernc.org/sqlite (no cgo) for SQLite:
//
//	import _ "github.com/jackc/pgx/v5/stdlib"
//
//	db, err := sql.Open("pgx", "postgres://gatekey@db.internal/gatekey?statement_timeout=1000")
//	...
//	db.SetMaxOpenConns(20)
//	store, err := sqlstore.New(db, sqlstore.Postgres, sqlstore.Config{})
//	...
//	if err := store.ApplySchema(ctx); err != nil { ... }
//	rec, claimed, err := store.Begin(ctx, account, key, fp, token, time.Minute)
//
// The pool is the caller's: bound it (sql.DB.SetMaxOpenConns) below what
// the server accepts. With SQLite, which runs one writer at a time, use
// one connection per process, and let writers of other processes wait
// for each other rather than fail at once:
//
//	import _ "modernc.org/sqlite"
//
//	db, err := sql.Open("sqlite", "file:idem.db?_pragma=busy_timeout(1000)&_pragma=journal_mode(WAL)")
//	...
//	db.SetMaxOpenConns(1)
//
// # Schema
//
// The schema is one table, gatekey_idempotency by default
// (Config.Table), with a row per account and key, its primary key: the
// claiming request's fingerprint and token (a uint64, stored as the
// int64 of the same bits), until_us, when the claim's lock or the
// answer's retention ends (microseconds since 1970), and the answer
// (idempotency.Answer's binary encoding, in a bytea or BLOB column; NULL
// while the request is in flight). Schema returns its SQL and
// Store.ApplySchema applies it (idempotently, so every replica may call
// it at start-up; on PostgreSQL concurrent calls are serialised by an
// advisory lock). Accounts and keys are stored as their bytes, so any
// name is one of its own, compared exactly. To keep stores apart, use
// tables of their own, separate databases or, on PostgreSQL, separate
// schemas chosen with search_path. Answers bigger than
// Config.MaxAnswerBytes (1 MiB by default) are not kept: Finish frees
// the key instead.
//
// # Statements
//
// Every call is one statement on one row, through the primary key, run
// without a transaction of the Store's own; nothing is read first and
// decided in Go. Begin is an upsert that claims the key if it is free:
//
//	INSERT INTO gatekey_idempotency AS r (account, key, fingerprint, token, until_us, answer)
//	VALUES ($1, $2, $3, $4, now + $5, NULL)  -- $5 the lock; now in µs (see Time)
//	ON CONFLICT (account, key) DO UPDATE SET
//		fingerprint = excluded.fingerprint, token = excluded.token, until_us = excluded.until_us, answer = NULL
//	WHERE r.until_us <= now OR (r.token = excluded.token AND r.answer IS NULL)
//	RETURNING token
//
// It inserts a new key's row or takes over one whose lock or retention
// has ended, and returns it; a row still held is left as it is and no
// row returned, and only then a SELECT reads the record held. (A row
// held by the Begin's own token is a retry of the Begin that claimed it,
// since tokens are never reused, and is claimed again.) A replay is
// thus two statements, the first of which, though it changes nothing,
// takes the row's lock (PostgreSQL) or the write lock (SQLite) while it
// runs. Finish is an
// UPDATE of the row held by its token, unanswered, whose lock has not
// ended; Release a DELETE of the row held by its token, unanswered. The
// database's row lock (PostgreSQL) or write lock (SQLite) makes
// concurrent statements take turns on a row, so of any number of
// concurrent Begins for a free key, from any number of replicas, exactly
// one claims it.
//
// # Time
//
// On PostgreSQL time is the database's clock (now(), in the statement),
// so replicas need no clock agreement: the lock and the retention the
// caller passes are durations from the server's now. On SQLite it is
// Config.Now (time.Now by default), passed to each statement; the
// processes sharing a SQLite file share a machine and its clock. A claim
// whose lock has ended is not held by its token any more: its Finish
// keeps nothing and reports false, whether or not another request has
// claimed the key since.
//
// Ended rows stay until their key is claimed again; Store.Prune deletes
// them. It scans the table: run it now and then (hourly, say).
//
// # Errors and timeouts
//
// Every failure to get an answer from the database — a connection
// refused or lost, a timeout, a canceled context, a missing table — is an
// error wrapping idempotency.ErrUnavailable: Begin then reports no
// claim, and the caller refuses the request (package middleware answers
// 503) rather than run it unprotected. database/sql reconnects by
// itself, so a Store recovers when the database comes back.
//
// Config.Timeout (1s by default) bounds each call through its context.
// Such an error means the Store could not tell what happened, not that
// nothing happened, unless the database gives up too: a PostgreSQL
// statement whose client has gone still runs to completion (waiting for a
// row lock, say) and commits, so set the server's statement_timeout (as
// above, in milliseconds) to at most the Timeout; and SQLite waits for
// another process's write lock for its busy_timeout whatever the
// context, so keep busy_timeout at most the Timeout too. A Begin that
// failed but claimed its key leaves it held until its lock ends: a retry
// of the request meanwhile is refused as in flight (409), never run
// twice.
package sqlstore
