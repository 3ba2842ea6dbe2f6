// Package ratelimittest provides ratelimit.Store doubles for testing code
// that limits request rates, such as a service behind
// middleware.RateLimiter:
//
//   - AlwaysAllow lets every request through, so that rate limiting stays out
//     of the way of tests about something else;
//   - AlwaysDeny rejects every request with a given Retry-After, to test how
//     a service and its clients handle 429 responses;
//   - Failing fails every call, to test fail-open and fail-closed behaviour;
//   - Recorder wraps any Store and records each call.
//
// To test exact limits without sleeping, use the real store on a fake
// clock: ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: clock.Now}),
// where clock.Now is any func() time.Time, such as the Now method of an
// apikeytest.Clock, so that key expiry and rate limits share one clock.
//
// This package is for tests only.
package ratelimittest
