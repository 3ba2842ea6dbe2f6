// Package limitstoretest checks that a ratelimit.Store implementation
// behaves as ratelimit.Store and ratelimit.Decision document, in the manner
// of testing/slogtest.
//
// A store's own tests call Run, which runs every rule as a subtest:
//
//	func TestConformance(t *testing.T) {
//		limitstoretest.Run(t, func(t *testing.T) ratelimit.Store { return newStore(t) })
//	}
//
// TestStore runs the same rules outside go test, for example from a command
// that checks a deployed backend:
//
//	err := limitstoretest.TestStore(ctx, func() (ratelimit.Store, error) {
//		return connectToTheBackend(ctx)
//	})
//
// It returns nil, or an error joining one error per broken rule, each
// naming the rule and saying what was wrong.
// Neither panics on a broken store: a Take that panics fails the rule it
// was called for, and the remaining rules still run.
//
// # What the rules check
//
// Every rule checks each Decision it gets for a valid request against the
// invariants of the contract: Limit is a limit of the policy, as passed (Name included);
// Remaining is within the bucket; RetryAfter is 0 when allowed, positive
// when rejected and ratelimit.Never when the cost exceeds a capacity;
// States is nil for a single-limit policy, and for a policy of several
// limits holds one entry per limit in policy order, from which Limit,
// Remaining, RetryAfter and ResetAfter follow by the rule of
// ratelimit.NewDecision. Each rule then checks one part of the behaviour:
// bursts, costs, costs above capacity, independent keys, all-or-nothing
// multi-limit policies, the choice of the tightest limit, policy changes,
// invalid arguments (errors wrapping ratelimit.ErrInvalidLimit or
// ratelimit.ErrInvalidCost), and exactness under contention.
//
// # What a store author must know
//
// The suite does not control the store's clock; it runs against the store
// as configured, real clock included. Hence:
//
//   - Every limit it uses has a window of a day or a week, and none refills
//     faster than 100 tokens a day (one every 14.4 minutes), so that no
//     bucket refills noticeably while a rule runs; the checks take seconds.
//     A store must accept such limits. One driven by a frozen fake clock
//     passes too.
//   - Time precision: RetryAfter and ResetAfter are compared with the exact
//     durations, allowing for the time the rule has taken so far and one
//     second of rounding. A store may therefore keep time more coarsely
//     than the nanosecond (Redis keeps microseconds, a SQL column perhaps
//     milliseconds) provided it rounds durations up, so that a client that
//     waits RetryAfter is not rejected again. Exactness to the store's own
//     precision cannot be checked without controlling its clock: test that
//     with a fake clock of your own, as packages ratelimit and
//     ratelimit/redisstore do.
//   - Keys: every key the suite uses is "limitstoretest-", a random run id,
//     "-", the rule's name, "-" and a short name, such as
//     "limitstoretest-Zx81KeQ2pA-Burst-k": only letters, digits and dashes.
//     Since each run uses fresh keys, a shared backend need not be emptied
//     between runs; the buckets left behind are ordinary ones, which a
//     store expires or drops as it does any other.
//   - newStore is called once per rule. The stores it returns may share
//     their backend (or be the same store), since no two rules share keys.
//   - The concurrency rules call Take from 64 goroutines at once and count
//     the allowed requests, which must be exactly the burst; run the suite
//     with the race detector.
//   - A Take that never returns stops the suite: bound calls to a remote
//     backend with a timeout, as a production store should anyway.
package limitstoretest
