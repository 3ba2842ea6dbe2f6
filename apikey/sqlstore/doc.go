// Package sqlstore keeps API key records in a SQL database through
// database/sql, for services that run several replicas. A Store implements
// apikey.ManagedStore (and so apikey.Store) for PostgreSQL and SQLite.
//
// # Drivers
//
// The package imports no driver: the program registers the one it uses.
// The tested ones are github.com/jackc/pgx/v5/stdlib for PostgreSQL and the
// pure-Go modernc.org/sqlite (no cgo) for SQLite:
//
//	import _ "github.com/jackc/pgx/v5/stdlib"
//
//	db, err := sql.Open("pgx", "postgres://gatekey@db.internal/gatekey")
//	...
//	if err := sqlstore.ApplySchema(ctx, db, sqlstore.Postgres); err != nil { ... }
//	store, err := sqlstore.New(db, sqlstore.Postgres)
//	mgr, err := apikey.NewManager(store, apikey.ManagerConfig{})
//
// Bound the pool (db.SetMaxOpenConns, 20 or so per replica, one more for
// package pgfeed's listener): under a flood of made-up keys, look-ups then
// queue for a connection, within the Verifier's LookupTimeout and
// MaxConcurrentLookups, instead of opening connections until PostgreSQL
// refuses them, genuine keys' look-ups included. (database/sql's default
// is no bound; examples/fleet's flood test shows the difference.)
//
// With SQLite, let writers wait for each other instead of failing with
// SQLITE_BUSY, and let readers run beside a writer:
//
//	import _ "modernc.org/sqlite"
//
//	db, err := sql.Open("sqlite", "file:keys.db?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
//
// # Schema
//
// The schema is one table, gatekey_api_keys, and three indexes; Schema
// returns its SQL and ApplySchema applies it (idempotently, so every replica
// may call it at start-up; on PostgreSQL concurrent calls are serialised by
// an advisory lock). On PostgreSQL it also has triggers that announce
// every change of a record (but for its last use), every deletion and
// every TRUNCATE with NOTIFY, in the changing transaction, whoever makes
// it: package pgfeed listens, so that every replica drops a changed
// record at once. The table name is fixed; to keep stores apart, use
// separate databases or, on PostgreSQL, separate schemas chosen with
// search_path. Every statement the Store runs is a constant with
// placeholders; no value is ever written into SQL text.
//
// Times are stored in UTC with microsecond resolution (PostgreSQL's
// timestamptz; INTEGER microseconds since the Unix epoch in SQLite): finer
// digits are truncated, so a record read back equals (time.Time.Equal) the
// one written when its times are whole microseconds, and differs by less
// than a microsecond otherwise. Unset times (zero time.Time) are NULL.
//
// # Errors
//
// As apikey.Store requires: a missing id is apikey.ErrNotFound, a taken id
// in CreateKey is apikey.ErrConflict, and every failure to answer — a
// connection refused or lost, a timeout, a canceled context, a missing
// table, a row that cannot be decoded — is an error wrapping
// apikey.ErrUnavailable, which the Verifier reports as "store unavailable"
// (HTTP 503), never as an invalid key. database/sql reconnects by itself,
// so a store recovers when the database comes back.
package sqlstore
