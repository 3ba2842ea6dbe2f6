// Package pgfeed tells a replica of the changes other replicas make to the
// API key records of a PostgreSQL sqlstore, so that a revocation made on
// one replica is honoured by every replica at once, not when its cached
// record expires.
//
// The store's schema (sqlstore.ApplySchema) announces every change of a
// record but for its last use, and every deletion, with PostgreSQL's
// NOTIFY, in the transaction that makes it: by the Manager or by hand in
// SQL, from any replica. Watch listens and calls the Invalidator (the
// replica's Verifier) for each changed id:
//
//	go func() {
//		err := pgfeed.Watch(ctx, db, mgr.Verifier(), pgfeed.Config{Logger: logger})
//		...
//	}()
//
// # A hint, not the truth
//
// NOTIFY delivers at most once: a replica that is not listening misses
// what is announced meanwhile. So the record stays the truth and a
// message is only a hint. Watch listens first and then drops everything
// the replica cached (InvalidateAll), when it starts and every time it
// has to listen anew after losing its connection, so that no change
// falls between. While it is not listening, cached records expire within
// the Verifier's CacheTTL, as they do without a feed. Watch logs both
// transitions, once each: "gatekey: key change feed subscribed" (Info)
// and "gatekey: key change feed lost; …" (Warn). A connection that goes
// silent (a partition, a hung server) is found by a ping after
// Config.Quiet without announcements.
//
// # Connections
//
// Watch holds one connection of db for as long as it runs (LISTEN is a
// property of a session), so size the pool for it. It needs the pgx
// driver (github.com/jackc/pgx/v5/stdlib), and a direct connection to
// PostgreSQL: LISTEN does not work through a transaction-pooling proxy
// such as PgBouncer. The channel is "<schema>.gatekey_api_keys" (with
// the md5 of the schema's name for a name too long for a channel), the
// schema being the one the table is found in through db's search_path,
// so that stores kept apart in schemas of one database do not hear each
// other.
//
// SQLite needs no feed: it serves one process, whose Manager invalidates
// its own Verifier.
package pgfeed
