// Package apikey issues, stores and verifies API keys.
//
// # Keys
//
// A key looks like
//
//	sk_live_<id: 12 chars><secret: 32 chars><checksum: 6 chars>
//
// with an optional service tag in front (acme_sk_live_…) and, if the
// Format says so, no "live" label on production keys (sk_… beside
// sk_test_…). Secret keys (sk) are for servers; publishable keys (pk) may
// ship in apps and are always read-only. The id is public and is the
// store's primary key; the 32-character secret carries about 190 random
// bits; the checksum (CRC-32 of everything before it, in base62) lets
// clients and secret scanners recognise a key offline.
//
// Format.Generate makes keys and Format.Parse checks them strictly. Both
// give a Token, which holds the plaintext but prints, logs and marshals
// only as the redacted "sk_live_<id>…": Token.Reveal is the one way to
// get the full key, to show its owner once.
//
// Pattern is a regular expression for every form of key (Format.Pattern,
// for one Format's keys), for secret scanners (the scanrules subpackage
// writes their rules), and FindAll finds every key in a text, checking
// each checksum so that strings which merely look like keys are not
// reported.
//
// # Storage
//
// A Store keeps Key records, which hold a self-describing hash of the key
// (see Hasher: SHA256 by default, HMAC with a pepper, or Argon2id), never
// the key. Store is the one method verification needs; ManagedStore adds
// what the Manager needs. MemoryStore implements both, and the keystoretest
// subpackage checks any implementation.
//
// # Verification
//
// A Verifier turns a presented string into its *Key, or an error that a
// caller maps to an HTTP answer: ErrInvalidKey (malformed, unknown or
// wrong secret, indistinguishable: 401), ErrExpired, ErrRevoked,
// ErrDisabled (only after the secret matched: 401 with a specific code), or
// ErrUnavailable (the store failed: 503). It caches records for a short
// time, remembers unknown ids, collapses concurrent look-ups of one id, and
// batches last-use writes. On a cache hit with SHA-256 hashes it costs about
// one SHA-256 of the key and does not allocate. A slow hash (Argon2id) is
// computed once per key per cache lifetime, one check per key at a time,
// and a bounded number at once; store look-ups in flight are bounded too.
// Work beyond those bounds fails with ErrUnavailable rather than queueing
// without limit.
//
// # Lifecycle
//
// A Manager creates, lists, revokes, disables, enables and rolls keys in a
// ManagedStore, and owns the Verifier whose cache it keeps current.
// RevokeLeaked revokes a key found in public, if it is genuine (the
// leakreport subpackage calls it for GitHub's secret-scanning reports).
//
// ManagerConfig.OnEvent hears of each change in a key's life (an Event:
// created, rolled, revoked with its RevokeReason, disabled, enabled) and
// of what the Verifier notices as keys are used: that a key expires soon,
// or was refused because it has expired. A service tells the key's owner,
// by email or webhook.
package apikey
