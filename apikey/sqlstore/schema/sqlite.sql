-- gatekey API key store, SQLite schema (version 1).
-- Applied by sqlstore.ApplySchema; safe to run again (IF NOT EXISTS).
--
-- Times are INTEGER microseconds since the Unix epoch (UTC), the same
-- resolution as PostgreSQL's timestamptz. Unset optional times are NULL.
-- disabled is 0 or 1. scopes, allowed_networks and metadata are JSON text
-- (an array of strings, an array of CIDR strings, an object of strings).
-- Text compares with the BINARY collation (byte order).

CREATE TABLE IF NOT EXISTS gatekey_api_keys (
    id               TEXT    NOT NULL PRIMARY KEY,
    name             TEXT    NOT NULL DEFAULT '',
    type             TEXT    NOT NULL CHECK (type IN ('secret', 'publishable')),
    environment      TEXT    NOT NULL CHECK (environment IN ('live', 'test')),
    permission       TEXT    NOT NULL CHECK (permission IN ('read_only', 'read_write')),
    scopes           TEXT    NOT NULL DEFAULT '[]',
    owner            TEXT    NOT NULL DEFAULT '',
    tier             TEXT    NOT NULL DEFAULT '',
    allowed_networks TEXT    NOT NULL DEFAULT '[]',
    disabled         INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER,
    revoked_at       INTEGER,
    last_used_at     INTEGER,
    metadata         TEXT    NOT NULL DEFAULT '{}',
    hash             TEXT    NOT NULL
) WITHOUT ROWID;

-- LookupKey, UpdateKey and TouchKeys use the primary key.
-- ListKeys: every filter combination reads an index in (created_at, id) order.
CREATE INDEX IF NOT EXISTS gatekey_api_keys_created_idx
    ON gatekey_api_keys (created_at, id);
-- Owner, and owner with environment (filtered on the way, order kept).
CREATE INDEX IF NOT EXISTS gatekey_api_keys_owner_created_idx
    ON gatekey_api_keys (owner, created_at, id);
CREATE INDEX IF NOT EXISTS gatekey_api_keys_environment_created_idx
    ON gatekey_api_keys (environment, created_at, id);
