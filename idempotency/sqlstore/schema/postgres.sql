-- gatekey idempotency store, PostgreSQL schema (version 1).
-- Applied by sqlstore's Store.ApplySchema; safe to run again (IF NOT
-- EXISTS). The table's name, gatekey_idempotency here, is Config.Table.
--
-- One row per account and idempotency key: the request that claimed the
-- key (its fingerprint and the caller's token, a uint64 stored as the
-- bigint of the same bits), until_us, when the claim's lock or, once the
-- request finished, its answer's retention ends (microseconds since
-- 1970-01-01 UTC), and the answer (idempotency.Answer's binary encoding;
-- NULL while the request is in flight). A row whose until_us has passed
-- is free: the next claim takes it over, and Store.Prune deletes it.
-- account and key hold the bytes of the names, compared exactly: no
-- collation, and any name, NUL bytes and invalid UTF-8 included.
-- Every statement reads and writes one row through the primary key.

CREATE TABLE IF NOT EXISTS gatekey_idempotency (
    account     bytea  NOT NULL,
    key         bytea  NOT NULL,
    fingerprint bytea  NOT NULL CHECK (octet_length(fingerprint) = 32),
    token       bigint NOT NULL,
    until_us    bigint NOT NULL,
    answer      bytea,
    PRIMARY KEY (account, key)
);
