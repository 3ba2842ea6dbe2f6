// Package redisstore is an idempotency.Store kept in Redis, so that every
// replica of a service shares the idempotency keys its clients send: a
// retry that lands on another replica gets the first request's answer,
// and two copies of a request sent to two replicas at once run once.
//
//	client := redis.NewClient(&redis.Options{
//		Addr:                  "redis.internal:6379",
//		ContextTimeoutEnabled: true, // required: lets Config.Timeout bound each call
//	})
//	store, err := redisstore.New(client, redisstore.Config{Prefix: "myservice:idem:"})
//	...
//	rec, claimed, err := store.Begin(ctx, account, key, fp, token, time.Minute)
//
// # Algorithm
//
// A Store keeps a record per account and key, with the semantics of
// idempotency.MemoryStore: Begin claims a key that is free (never
// claimed, or whose answer's retention or claim's lock has ended) or
// returns the record held; Finish keeps the answer of the request that
// holds the claim; Release frees a claim. Each of the three is one Lua
// script run, atomic, in one round trip: go-redis sends EVALSHA, and
// EVAL only when Redis does not have the script yet (at first use and
// after a restart). Of any number of concurrent Begins for a free key,
// from any number of replicas, exactly one claims it.
//
// A Begin with the token of the claim it finds is a retry of the Begin
// that made that claim (tokens are never reused), so it claims again:
// a Begin whose reply was lost and that go-redis retried (see
// redis.Options.MaxRetries) does not find its own claim in its way.
//
// # Time
//
// Time is the Redis server's clock (TIME), read by the script, so
// replicas need no clock agreement: the lock and the retention the
// caller passes are durations from the server's now. A record holds the
// microsecond its claim's lock or its answer's retention ends, which
// decides, and its key expires then too (PEXPIRE, rounded up to the
// millisecond), so that Redis drops ended records itself and the Store
// runs nothing in the background. A claim whose lock has ended is not
// held by its token any more: its Finish keeps nothing and reports
// false, whether or not another request has claimed the key since.
// Config.Now replaces the Redis clock, for tests only.
//
// This needs Redis 5 or later, whose scripts replicate their effects, so
// that a script may read TIME and then write. Tested with Redis 7.
//
// # Keys
//
// A record is the Redis hash
//
//	<Prefix>{<account>:<key>}
//
// where, in the account, '%', ':' and '}' are written %25, %3A and %7D,
// and in the key '%' and '}': an encoding that can be undone, so that
// any bytes make an account and a key of their own, and that leaves no
// '}' inside the braces, so that the Redis Cluster hash tag is the whole
// pair and a record is one slot. The hash's fields are until (in
// microseconds since 1970), token, fp (the 32-byte fingerprint) and,
// once finished, answer (idempotency.Answer's binary encoding).
// Answers bigger than Config.MaxAnswerBytes (1 MiB by default) are not
// kept: Finish frees the key instead.
//
// If Redis may lose its data (a restart without persistence, an eviction
// policy other than noeviction), retries of requests that had finished
// run again, and an eviction may drop a claim in flight, letting a
// second copy of its request run. Run it with persistence (appendonly
// yes) and maxmemory-policy noeviction where that matters.
//
// # Failures
//
// Every call to Redis is bounded by Config.Timeout (100ms by default), so
// a dead or hung Redis delays a request by at most that much; for the
// bound to hold the go-redis client must honour context deadlines, which
// New checks (redis.Options.ContextTimeoutEnabled). A failed call
// returns an error wrapping idempotency.ErrUnavailable: Begin then
// reports no claim, and the caller refuses the request (package
// middleware answers 503) rather than run it unprotected. Such an error
// means the Store could not tell what happened, not that nothing
// happened: a script sent to a hung Redis runs when Redis resumes, so a
// Begin that failed may have claimed its key, which then stays held
// until its lock ends; a retry of the request meanwhile is refused as
// in flight (409), never run twice. Nothing needs to be reset when Redis
// returns: the next call uses it again (go-redis reconnects).
//
// go-redis retries a command whose connection failed
// (redis.Options.MaxRetries). If Redis had run the script but its reply
// was lost, a retried Begin finds its own claim and claims again (see
// above), a retried Release does nothing more, and a retried Finish
// whose first run kept the answer reports false, though the answer is
// kept.
package redisstore
