// Package redisfeed tells a replica of the changes other replicas make to
// API key records, through a Redis Pub/Sub channel, so that a revocation
// made on one replica is honoured by every replica at once (within
// milliseconds), not when its cached record expires (apikey's
// VerifierConfig.CacheTTL, 30s by default).
//
// It serves key stores of any kind: a store of your own, say, whose
// replicas share a Redis. A PostgreSQL sqlstore needs no Redis: its
// schema announces changes itself (package
// github.com/gatekey/gatekey/apikey/sqlstore/pgfeed).
//
// Every replica wraps its store with Feed.Store, so that the changes its
// Manager makes are published, and runs Feed.Watch, so that it hears
// those of the others:
//
//	feed, err := redisfeed.New(rdb, redisfeed.Config{Logger: logger})
//	...
//	mgr, err := apikey.NewManager(feed.Store(myStore), apikey.ManagerConfig{})
//	...
//	go func() {
//		err := feed.Watch(ctx, mgr.Verifier()) // returns nil once ctx is done
//		...
//	}()
//
// The wrapper publishes a record's id after every UpdateKey that may have
// stored a change (all but those that fail with apikey.ErrNotFound, since
// a failure may come after the commit), through which Manager's Revoke,
// Disable, Enable and Roll go, and not after TouchKeys, which records
// last use. A change made otherwise (by
// hand, by another program) is announced only if that program calls
// Feed.Publish once the change is stored; unannounced, it takes effect
// within the CacheTTL, as it does without a feed.
//
// # A hint, not the truth
//
// Redis Pub/Sub delivers at most once: a replica that is not subscribed
// (its connection broke, it was restarting, Redis was restarting or cut
// it off for reading too slowly) misses what is published meanwhile, and
// nothing is kept for it. So the stored record stays the truth and a
// message is only a hint: "read this record again". Watch acts on it by
// dropping what the replica cached about the id (Invalidate), and its
// next Verify reads the record from the store. The wrapper publishes only
// after UpdateKey has returned, so that what is read then is the changed
// record.
//
// Since messages can be missed, Watch drops everything the replica
// cached (InvalidateAll) whenever it is subscribed: when it starts, and
// each time it subscribes again after losing its connection. The order
// matters: Watch drops the cache only once Redis has confirmed the
// subscription, so that a change is either published after the
// subscription, and heard, or stored before the cache was dropped, and
// read from the store at the next Verify; none falls between. While Watch
// is not subscribed, cached records expire within the CacheTTL, as they
// do without a feed: that bounds how stale a replica can be.
//
// A change that cannot be published (Redis down) stands: the wrapper's
// UpdateKey logs a warning and returns nil, and the other replicas see
// the change within their CacheTTL.
//
// # Connections and failures
//
// Watch holds one Redis connection of its own while it runs, outside the
// client's pool. It sees a broken connection at once; one that merely
// goes quiet (a hung Redis, a network partition) is sent a PING after 3s
// without traffic and given up if no answer comes within 3s more. It
// subscribes again with a backoff (100ms, doubling to 5s, starting over
// once subscribed). It logs transitions only, once each: "gatekey: key
// change feed subscribed" (Info) and "gatekey: key change feed lost; …"
// (Warn), as pgfeed does.
//
// Publish is bounded by Config.Timeout (100ms by default), which needs a
// go-redis client created with ContextTimeoutEnabled (New checks). With a
// Redis Cluster client, a message published on any node reaches the
// subscribers of every node (PUBLISH, not sharded SPUBLISH).
//
// # Trust
//
// Whoever can publish on the channel can make replicas drop cached
// records, which costs a store read each, but never make a key valid
// that its record says is not. Payloads that are not plausible key ids
// (1 to 64 visible ASCII characters) are ignored and never logged.
package redisfeed
