-- gatekey idempotency store, SQLite schema (version 1).
-- Applied by sqlstore's Store.ApplySchema; safe to run again (IF NOT
-- EXISTS). The table's name, gatekey_idempotency here, is Config.Table.
--
-- One row per account and idempotency key: the request that claimed the
-- key (its fingerprint and the caller's token, a uint64 stored as the
-- int64 of the same bits), until_us, when the claim's lock or, once the
-- request finished, its answer's retention ends (microseconds since
-- 1970-01-01 UTC), and the answer (idempotency.Answer's binary encoding;
-- NULL while the request is in flight). A row whose until_us has passed
-- is free: the next claim takes it over, and Store.Prune deletes it.
-- account and key hold the bytes of the names, compared exactly (BLOB:
-- no collation, any name). STRICT makes SQLite enforce the column types.
-- The table keeps its rowid: answers make rows too big for WITHOUT ROWID.

CREATE TABLE IF NOT EXISTS gatekey_idempotency (
    account     BLOB    NOT NULL,
    key         BLOB    NOT NULL,
    fingerprint BLOB    NOT NULL CHECK (length(fingerprint) = 32),
    token       INTEGER NOT NULL,
    until_us    INTEGER NOT NULL,
    answer      BLOB,
    PRIMARY KEY (account, key)
) STRICT;
