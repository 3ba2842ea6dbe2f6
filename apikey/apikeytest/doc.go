// Package apikeytest helps services test code that uses gatekey's API keys,
// the way net/http/httptest helps test HTTP handlers.
//
// New gives a test, in one call, an Env: an in-memory key store, an
// apikey.Manager over it (closed by the test's Cleanup), and a fake Clock
// that key expiry obeys. The Env's Mint methods create keys of any type,
// environment, permission, scopes and expiry, and return both the plaintext
// apikey.Token, to send in requests, and the stored *apikey.Key record.
// Revoke, Disable and Expire put a key in the state a test needs.
//
//	func TestCreateMonitor(t *testing.T) {
//		env := apikeytest.New(t, apikeytest.Config{})
//		tok, _ := env.MintReadOnly()
//		r := httptest.NewRequest("POST", "/v1/monitors", nil)
//		r.Header.Set("Authorization", "Bearer "+tok.Reveal())
//		… // serve r with the service's handler, built on env.Manager; expect 403
//	}
//
// Keys are deterministic: they come from a ChaCha8 generator seeded with
// Config.Seed, and record times come from the Clock, so a test that mints the
// same keys in the same order gets identical keys and records on every run,
// ready for golden files. A Token prints only its redacted form
// ("sk_live_<id>…"), so keys do not end up in test output by accident;
// Token.Reveal gives the plaintext to put in a request.
//
// The Clock's Now method is a plain func() time.Time, so one Clock can drive
// everything that takes a clock: pass env.Clock.Now as the Now of a
// ratelimit.MemoryConfig, and key expiry and rate limits move together
// when the test calls Advance. Tests never need
// to sleep.
//
// Two companion packages complete the kit: middleware/middlewaretest puts a
// key into a request's context without authentication, to test a handler in
// isolation, and decodes error bodies; ratelimit/ratelimittest has rate-limit
// store doubles.
//
// This package is for tests only. Its keys are predictable by design, which
// is the opposite of what production keys must be.
package apikeytest
