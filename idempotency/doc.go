// Package idempotency makes retried writes safe: a client sends an
// Idempotency-Key header with a write (the IETF httpapi draft's header,
// Stripe's behaviour), and a retry of the same request with the same key
// gets the first request's answer again instead of running it twice.
//
// This package holds the parts that do not depend on HTTP middleware:
//
//   - [ParseKey] reads the header's value: 1 to 255 visible ASCII
//     characters, bare (abc) or as a structured-field string ("abc");
//   - a request's [Fingerprint] (method, path with query, SHA-256 of the
//     body), made by [ReadRequest], which reads the body without keeping
//     more than a given number of bytes;
//   - the kept [Answer] (status, content headers, body) and its binary
//     encoding, which stores that keep bytes use;
//   - the [Store] interface, with its claim-then-finish protocol, and
//     [MemoryStore], bounded by count and bytes. The idempotency/redisstore
//     and idempotency/sqlstore modules keep records in Redis and in
//     PostgreSQL or SQLite for fleets; package idempotencystoretest checks
//     any implementation against the contract.
//
// The HTTP side (the Gate's idempotency step, 409 idempotency_conflict,
// 422 idempotency_key_mismatch, the Idempotent-Replayed header, routes
// that opt out) is in package middleware.
//
// Keys are scoped to an account (the API key's owner, else the key's id),
// so two customers may use the same value. A key names one request: while
// it is claimed, other requests with it are refused; once the answer is
// kept, requests with it and the same fingerprint get the answer, and
// others are refused as a mismatch, until the answer's retention ends.
package idempotency
