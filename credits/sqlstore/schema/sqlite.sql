-- gatekey credits store, SQLite schema (version 1).
-- Applied by sqlstore.ApplySchema; safe to run again (IF NOT EXISTS).
--
-- One row per account and kind of period: the credits remaining in the
-- period numbered period_index (credits.Period.Index: days since
-- 1970-01-01 for 'day', months since January 1970 for 'month'). A row of a
-- past period is replaced by the allowance at the account's next spend.
-- account holds the account name's bytes, compared exactly (BLOB: no
-- collation, any name). STRICT makes SQLite enforce the column types.

CREATE TABLE IF NOT EXISTS gatekey_credits (
    account      BLOB    NOT NULL,
    period       TEXT    NOT NULL CHECK (period IN ('day', 'month')),
    period_index INTEGER NOT NULL,
    remaining    INTEGER NOT NULL CHECK (remaining >= 0),
    PRIMARY KEY (account, period)
) WITHOUT ROWID, STRICT;
