// Package credits meters what API keys spend: an allowance of credits per
// account and calendar period (500 a month, 100 a day), spent per request
// at a per-route cost, refilled at the start of each period, topped up by
// grants that last until the period ends. It sits next to rate limits, not
// instead of them: a rate limit protects capacity and refills continuously;
// credits are a plan's quota and refill on the calendar.
//
// An [Allowance] is parsed like a rate limit, "500/month" or "100/day"
// ([ParseAllowance]). Periods are UTC calendar periods: days start at
// midnight UTC, months on the 1st. At the start of a period an account's
// balance becomes the allowance; it is replaced, not added to, so unspent
// credits do not carry over, and neither do grants.
//
// A [Store] keeps balances and spends from them atomically: under any
// contention, across any number of processes sharing a store, exactly
// allowance/cost spends of cost succeed in a period. [MemoryStore] keeps
// them in this process; the credits/redisstore and credits/sqlstore modules
// keep them in Redis and in PostgreSQL or SQLite for fleets; package
// creditstoretest checks any implementation against the contract.
//
// Time is a parameter, as in golang.org/x/time/rate: [MemoryStore.SpendAt]
// and [MemoryStore.GrantAt] take the time, and Spend and Grant read the
// store's clock.
//
// The HTTP side (402 quota_exceeded, costs per route, plans) is in package
// middleware.
package credits
