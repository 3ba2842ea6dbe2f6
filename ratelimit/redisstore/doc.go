// Package redisstore is a ratelimit.Store kept in Redis, so that every
// replica of a service draws from the same buckets.
//
// # Algorithm
//
// A Store keeps one token bucket per key and limit, with the semantics of
// ratelimit.MemoryStore: a bucket of Burst tokens, full at the start,
// refilled continuously at Requests per Window; a request of cost n passes
// only if every limit of its policy holds n tokens, and then takes n from
// each, while a rejected request takes none. One Lua script does this for
// all of a policy's limits atomically, in one round trip: go-redis sends
// EVALSHA, and EVAL only when Redis does not have the script yet (at first
// use and after a restart). Concurrent Takes from any number of replicas are
// therefore exact: with no refill, together they get exactly the burst.
//
// Time is the Redis server's clock (TIME), so replicas need no clock
// agreement; if that clock steps back, buckets do not refill until it has
// caught up. The clock's resolution is a microsecond, and so is that of
// Decision.RetryAfter and ResetAfter: they are rounded up to a whole
// microsecond, and are exact to it (a client that waits RetryAfter and
// retries succeeds, with no other request for its key; one that retries a
// microsecond earlier does not).
//
// # Keys
//
// A bucket is the Redis string key
//
//	<Prefix>{<key>}:<position>:<requests>:<window ns>:<burst>
//
// holding its tokens and the time they were counted. It is written with an
// expiry (SET … PX, as PEXPIRE) at the moment it would be full again, since
// a missing bucket is a full one: idle keys cost Redis nothing. The braces
// are a Redis Cluster hash tag, so a policy's buckets share a slot. A limit
// whose parameters change gets a new bucket, so a key moved to another
// tier is held to its new policy at once.
//
// # Failures
//
// Every call to Redis is bounded by Config.Timeout (100ms by default), so a
// dead or hung Redis delays a request by at most that much; for the bound to
// hold the go-redis client must honour context deadlines, which New checks
// (redis.Options.ContextTimeoutEnabled). go-redis retries a command whose
// connection failed (Options.MaxRetries); if Redis had run the script but
// its reply was lost, the retry takes the tokens twice, so set MaxRetries
// to -1 where that matters more than riding out a blip. A failed call
// returns an error wrapping ratelimit.ErrUnavailable, unless
// Config.FailOpen is set: then the Store decides with a local
// ratelimit.Store instead. (middleware.RateLimiter does the same with an
// error, through its Fallback, unless it fails closed and answers 503.)
// Each replica's local store counts only its own requests, so with N
// replicas a key may get up to N times its limit while Redis is away. Nothing needs to be reset when Redis returns: the
// next call uses it again (go-redis reconnects), and since Redis started
// empty (or from its persisted state) the buckets resume from there.
package redisstore
