// Package ratelimit limits how fast each key (an API key id, a client
// address) may make requests, with token buckets that count exactly as
// golang.org/x/time/rate's Limiter does.
// It has no HTTP code: package middleware builds the 429 responses and the
// RateLimit headers on top of it.
//
// # Limits and policies
//
// A [Limit] is a bucket of Burst tokens, full at the start and refilled at
// Requests per Window; "100/minute" allows 100 requests at once, then one
// every 600ms. A [Policy] is one or more limits enforced together, such as
// "10/second;burst=20,10000/day": a request passes only if every limit has
// room for its cost, and a rejected request consumes from none of them.
// [ParseLimit] and [ParsePolicy] read the text forms used in configuration.
//
// # Stores and decisions
//
// A [Store] takes tokens for a key and returns a [Decision]: whether the
// request is allowed, the tightest limit with its remaining tokens, the
// exact delay after which a retry succeeds (RetryAfter), and when the bucket
// is full again (ResetAfter). The policy is an argument of every call, so
// tiers are a lookup done by the caller, and a key that changes tier is held
// to its new policy at once.
//
// [MemoryStore] is the in-process Store: sharded, exact under contention,
// with memory bounded by dropping full buckets and by a cap. Shared stores
// for a fleet (Redis) implement the same interface and prove it with
// package limitstoretest. [NewDecision] is the rule by which every store
// assembles its Decision, so that all agree on the tightest limit.
//
// # Time
//
// Like x/time/rate, the store can be driven by a caller's clock
// (MemoryConfig.Now, MemoryStore.TakeAt), so tests advance a fake clock
// instead of sleeping. Durations are computed to the nanosecond, with the
// same floating-point arithmetic the buckets use.
package ratelimit
