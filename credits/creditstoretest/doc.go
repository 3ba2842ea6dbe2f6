// Package creditstoretest checks that a credits.Store implementation keeps
// the contract documented on credits.Store, in the manner of
// testing/slogtest. A store's tests call Run:
//
//	func TestConformance(t *testing.T) {
//		creditstoretest.Run(t, func(t *testing.T, now func() time.Time) credits.Store {
//			return newStore(t, now)
//		})
//	}
//
// and a program, without go test, calls TestStore, whose error names each
// broken rule:
//
//	err := creditstoretest.TestStore(ctx, func(now func() time.Time) (credits.Store, error) {
//		return connect(ctx, now)
//	})
//
// # What the suite asks of a store
//
// A clock it can set. The suite moves time across period boundaries, so
// newStore is given the clock the store must read in Spend and Grant
// (a store that reads a server's clock in production, as the Redis store
// does, takes a clock for tests). The clock starts on the last minute of
// a month and only the suite moves it, forwards and, once, backwards.
//
// Keys of its own. Every account name the suite uses starts with a fresh
// random prefix, so a store may share a backend with other runs without
// being emptied first; the names include non-ASCII and long ones, and
// names that differ only in case.
//
// Safety for concurrent use: the Exact and RefillOnce rules spend from
// many goroutines at once. Run the suite with the race detector (go test
// -race) so that it can report data races.
//
// A store may panic: the suite recovers, fails the rule that was running
// with the panic, and goes on with the next rule. It does not time out a
// call that blocks: bound the run with go test -timeout, or with the
// context given to TestStore if the store honours it.
//
// # Rules
//
// Each rule is a subtest of Run and the prefix of an error of TestStore.
//
//   - Fresh: an account not seen yet holds the allowance; a cost of 0 reads
//     it, spends nothing and keeps nothing; ResetAt is the end of the
//     period; Allowance is the one passed.
//   - Spend: spends take from the balance; one that needs more than is left
//     is refused and takes nothing; the last credit can be spent.
//   - Accounts: accounts are independent, and their names are compared
//     exactly (case, non-ASCII, 1 KiB names that differ only at the end).
//   - Refill: at the start of a period the balance becomes the allowance,
//     replaced, not added to, for days and for months.
//   - Grant: a grant adds to the balance until the period ends, and is
//     gone after.
//   - PlanChange: another allowance passed mid-period keeps the current
//     balance; it applies from the next period. An account's daily and
//     monthly balances are apart.
//   - ClockBehind: after a refill, a call whose clock is behind spends from
//     the new period and never refills again.
//   - Exact: concurrent spends succeed exactly Remaining/cost times, and
//     concurrent grants all count.
//   - RefillOnce: concurrent spends just after a boundary see one refill.
//   - InvalidArguments: an invalid allowance, a negative or too large
//     cost, a grant of 0: errors wrapping credits.ErrInvalidAllowance or
//     credits.ErrInvalidCost, and no change.
package creditstoretest
