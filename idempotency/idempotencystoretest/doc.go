// Package idempotencystoretest checks that an idempotency.Store
// implementation keeps the contract documented on idempotency.Store, in
// the manner of testing/slogtest. A store's tests call Run:
//
//	func TestConformance(t *testing.T) {
//		idempotencystoretest.Run(t, func(t *testing.T, now func() time.Time) idempotency.Store {
//			return newStore(t, now)
//		})
//	}
//
// and a program, without go test, calls TestStore, whose error names each
// broken rule.
//
// # What the suite asks of a store
//
// A clock it can set. The suite moves time past locks and retentions, so
// newStore is given the clock the store must read to measure them (a
// store that reads a server's clock in production, as the Redis store
// does, takes a clock for tests). Only the suite moves it, and only
// forwards.
//
// Keys of its own. Every account name the suite uses starts with a fresh
// random prefix, so a store may share a backend with other runs without
// being emptied first; keys include the longest one, ParseKey's whole
// alphabet, and keys that differ only in case.
//
// Room for what it keeps: a few hundred records and answers of up to
// 256 KiB.
package idempotencystoretest
