// Package redisstore is a credits.Store kept in Redis, so that every
// replica of a service spends from the same balances.
//
// # Algorithm
//
// A Store keeps a balance per account and kind of period, with the
// semantics of credits.MemoryStore: a balance not seen yet in the current
// period holds the allowance; at the start of each period it is replaced
// by the allowance, not added to; a spend takes its cost only if the
// balance holds it all; a grant adds credits until the period ends. One Lua
// script reads the balance, refills it if it is from a past period, spends
// or grants, and writes it back, atomically, in one round trip: go-redis
// sends EVALSHA, and EVAL only when Redis does not have the script yet (at
// first use and after a restart). Concurrent Spends from any number of
// replicas are therefore exact: with no refill, together they succeed
// exactly Remaining/cost times, and a period boundary refills a balance
// once, whatever the concurrency. A spend of cost 0 reads the balance and
// writes nothing, nor does a refused spend.
//
// # Time
//
// Time is the Redis server's clock (TIME), read by the script, so replicas
// need no clock agreement. The script finds the period from it as
// credits.Period.Index does: the day is the Unix time divided by 86400,
// and the month follows from the day by the civil-from-days algorithm
// (Lua in Redis has no os.date), so periods are UTC calendar periods,
// months starting on the 1st. Periods never go backwards: if the clock is
// behind the period a balance is in (it stepped back, or a failover moved
// to a server whose clock is behind), that period is spent from, never
// refilled again. Config.Now replaces the Redis clock, for tests only.
//
// This needs Redis 5 or later, whose scripts replicate their effects, so
// that a script may read TIME and then write. Tested with Redis 7.
//
// # Keys
//
// A balance is the Redis string key
//
//	<Prefix>{<account>}:<period>
//
// where period is "day" or "month", holding "<index> <remaining>": the
// credits.Period.Index of its period and the credits left. The braces are
// a Redis Cluster hash tag, so an account's balances share a slot. An
// account's daily and monthly balances are separate: an account moved
// from one kind of allowance to the other and back within a period finds
// its balance where it left it. The key is written with an expiry (SET …
// PX) a Margin after the end of its period: a balance of a past period is
// replaced at the next spend anyway, so idle accounts cost Redis nothing
// once their period is over.
//
// Balances are money: if Redis may lose its data (a restart without
// persistence, an eviction policy other than noeviction), accounts get
// their full allowance again. Run it with persistence (appendonly yes) and
// maxmemory-policy noeviction where that matters.
//
// # Failures
//
// Every call to Redis is bounded by Config.Timeout (100ms by default), so a
// dead or hung Redis delays a request by at most that much; for the bound
// to hold the go-redis client must honour context deadlines, which New
// checks (redis.Options.ContextTimeoutEnabled). A failed call returns an
// error wrapping credits.ErrUnavailable, and Spend then reports no
// success. Such an error means the Store could not tell what happened, not
// that nothing happened: a script sent to a hung Redis runs when Redis
// resumes, though its caller has given up, so the account may have been
// charged (never credited) for a request that was refused. There is no
// fallback: a local balance per replica
// would hand out an allowance per replica, and credits are money. The
// caller decides what an outage means (package middleware fails closed,
// answering 503, unless told otherwise). Nothing needs to be reset when
// Redis returns: the next call uses it again (go-redis reconnects).
//
// go-redis retries a command whose connection failed
// (redis.Options.MaxRetries). If Redis had run the script but its reply
// was lost, the retry spends a second time: the account is charged twice,
// never given credits. Set MaxRetries to -1 where a failed request is
// better than a double charge.
package redisstore
