-- gatekey credits store, PostgreSQL schema (version 1).
-- Applied by sqlstore.ApplySchema; safe to run again (IF NOT EXISTS).
--
-- One row per account and kind of period: the credits remaining in the
-- period numbered period_index (credits.Period.Index: days since
-- 1970-01-01 for 'day', months since January 1970 for 'month'). A row of a
-- past period is replaced by the allowance at the account's next spend.
-- account holds the account name's bytes, compared exactly: no collation,
-- and any name, NUL bytes and invalid UTF-8 included.
-- Every statement reads and writes one row through the primary key; a
-- spend updates only remaining (and period_index once a period), so the
-- spare room of the fill factor lets most updates stay on their page (HOT).

CREATE TABLE IF NOT EXISTS gatekey_credits (
    account      bytea  NOT NULL,
    period       text   NOT NULL CHECK (period IN ('day', 'month')),
    period_index bigint NOT NULL,
    remaining    bigint NOT NULL CHECK (remaining >= 0),
    PRIMARY KEY (account, period)
) WITH (fillfactor = 80);
