// Package keystoretest checks that an apikey.ManagedStore implementation
// keeps the contract documented on apikey.Store, apikey.ManagedStore and
// apikey.Key, in the manner of testing/slogtest. A store's tests call Run:
//
//	func TestConformance(t *testing.T) {
//		keystoretest.Run(t, func(t *testing.T) apikey.ManagedStore {
//			return newEmptyStore(t)
//		})
//	}
//
// and a program, without go test, calls TestStore, whose error names each
// broken rule:
//
//	err := keystoretest.TestStore(ctx, func() (apikey.ManagedStore, error) {
//		return openStoreInANewNamespace(ctx)
//	})
//
// # What the suite asks of a store
//
// A new, empty store per call of newStore: each rule runs on a store of its
// own, and fails at once if ListKeys shows that the store holds records.
// Stores may share a database as long as they do not see each other's
// records (a schema, a key prefix or a table each).
//
// Times kept to the microsecond at least. Times written in whole
// microseconds must come back as the same instants (time.Time.Equal); finer
// digits may be lost, but a time read back is less than a microsecond away
// from the one written. Locations need not be kept, and the zero time means
// unset: it must come back as the zero time (not as the Unix epoch). The
// suite writes times between 2029 and 2031.
//
// Fields kept as given. Strings are valid UTF-8, with non-ASCII text but no
// NUL byte; Scopes and AllowedNetworks keep their order; Metadata keeps
// entries whose value is empty. Nil and empty collections are
// interchangeable. Ids are 12 characters of [0-9A-Za-z], as apikey.Format
// makes them, and are case-sensitive: "abc…" and "ABC…" are two keys. A
// store that returns the record of "ABC…" for "abc…" breaks
// CaseSensitiveIDs, even though the Verifier, which checks the id of what
// it gets, would treat the look-up as unknown.
//
// Errors that match the sentinels with errors.Is, wrapped or not, and that
// keep them apart: ErrNotFound for an unknown id, ErrConflict for a taken
// one, and an error wrapping ErrUnavailable whenever the store cannot
// answer, never one of the others. The suite calls every method with a
// canceled context and with an expired one, and expects ErrUnavailable from
// each: an error dropped (a nil error) breaks the rule too.
//
// Safety for concurrent use: the Concurrent rule calls the store from 16
// goroutines at once. Run the suite with the race detector (go test -race)
// so that it can report data races.
//
// A store may panic: the suite recovers, fails the rule that was running
// with a message naming the method and where it panicked, and goes on with
// the next rule. It cannot recover a panic in a goroutine that the store
// starts itself, and it does not time out a call that blocks: bound the run
// with go test -timeout, or with the context given to TestStore if the store
// honours it.
//
// # Rules
//
// Each rule is a subtest of Run and the prefix of an error of TestStore.
//
//   - RoundTrip: LookupKey returns a record as CreateKey stored it, every
//     field of it (a full record and a minimal one).
//   - TimePrecision: times keep their microseconds, in any location,
//     through CreateKey, UpdateKey, TouchKeys, LookupKey and ListKeys.
//   - DeepCopy: mutating a record passed to CreateKey or UpdateKey, or
//     returned by LookupKey or ListKeys, does not change the stored one.
//   - CaseSensitiveIDs: ids that differ only in case are distinct keys for
//     every method.
//   - CreateConflict: CreateKey of a taken id returns ErrConflict and leaves
//     the stored record alone.
//   - LookupNotFound: LookupKey of an unknown id returns ErrNotFound, not
//     ErrUnavailable and not (nil, nil).
//   - UpdateNotFound: UpdateKey of an unknown id returns ErrNotFound and
//     creates nothing.
//   - ContextCanceled, ContextDeadline: every method fails with an error
//     wrapping ErrUnavailable (not ErrNotFound, not ErrConflict) given a
//     canceled or an expired context.
//   - Update: UpdateKey replaces every field, setting and clearing them.
//   - UpdateKeepsRevocation: UpdateKey never un-revokes a key or changes a
//     stored RevokedAt, and applies the rest of the record.
//   - UpdateKeepsLastUse: UpdateKey keeps the later of the stored and given
//     LastUsedAt.
//   - TouchKeys: one call applies the whole batch, keeping for each id the
//     later LastUsedAt, ignoring unknown ids and zero times, changing no
//     other field; an empty or nil batch succeeds.
//   - ListFilter: ListKeys returns the records apikey.ListFilter.Match
//     accepts, each once; owners compare exactly.
//   - ListOrder: ListKeys orders records by CreatedAt (as instants), then by
//     ID in byte order.
//   - ListRecords: the records ListKeys returns are complete.
//   - Concurrent: concurrent calls all succeed and every write lands; of
//     concurrent CreateKey calls with one id, exactly one succeeds.
package keystoretest
