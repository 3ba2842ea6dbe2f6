-- gatekey API key store, PostgreSQL schema (version 2: change announcements).
-- Applied by sqlstore.ApplySchema; safe to run again (IF NOT EXISTS).
--
-- Times are timestamptz (microsecond resolution, stored in UTC).
-- Unset optional times are NULL. scopes, allowed_networks and metadata are
-- JSON (an array of strings, an array of CIDR strings, an object of strings).
-- id uses the "C" collation so that ORDER BY id is byte order, the order
-- apikey.MemoryStore uses, whatever the database's locale.

CREATE TABLE IF NOT EXISTS gatekey_api_keys (
    id               text COLLATE "C" PRIMARY KEY,
    name             text        NOT NULL DEFAULT '',
    type             text        NOT NULL CHECK (type IN ('secret', 'publishable')),
    environment      text        NOT NULL CHECK (environment IN ('live', 'test')),
    permission       text        NOT NULL CHECK (permission IN ('read_only', 'read_write')),
    scopes           jsonb       NOT NULL DEFAULT '[]',
    owner            text        NOT NULL DEFAULT '',
    tier             text        NOT NULL DEFAULT '',
    allowed_networks jsonb       NOT NULL DEFAULT '[]',
    disabled         boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz,
    revoked_at       timestamptz,
    last_used_at     timestamptz,
    metadata         jsonb       NOT NULL DEFAULT '{}',
    hash             text        NOT NULL
);

-- LookupKey, UpdateKey and TouchKeys use the primary key.
-- ListKeys: every filter combination reads an index in (created_at, id) order.
CREATE INDEX IF NOT EXISTS gatekey_api_keys_created_idx
    ON gatekey_api_keys (created_at, id);
-- Owner, and owner with environment (filtered on the way, order kept).
CREATE INDEX IF NOT EXISTS gatekey_api_keys_owner_created_idx
    ON gatekey_api_keys (owner, created_at, id);
CREATE INDEX IF NOT EXISTS gatekey_api_keys_environment_created_idx
    ON gatekey_api_keys (environment, created_at, id);

-- Every change of a record but for its last use, every deletion and every
-- TRUNCATE is announced on the channel gatekey_api_keys_channel(<schema>)
-- with the key's id as payload, by the transaction that makes it (PostgreSQL
-- delivers it at commit), so that replicas listening (package pgfeed)
-- drop what they cached. Batched last-use writes (TouchKeys) announce
-- nothing.
--
-- The channel is "<schema>.gatekey_api_keys", or, for a schema whose name
-- would make it longer than a channel may be (63 bytes), the same with
-- the md5 of the schema's name in its place.
CREATE OR REPLACE FUNCTION gatekey_api_keys_channel(schema_name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN octet_length(schema_name) <= 46 THEN schema_name || '.gatekey_api_keys'
                ELSE md5(schema_name) || '.gatekey_api_keys' END
$$;

-- A deletion, or a change of the id itself, announces the old id; a
-- TRUNCATE announces the empty payload, which means every key. The
-- function keeps the search_path it was created with, so that a change
-- made from a session whose search_path does not hold the table's schema
-- (a schema-qualified UPDATE in psql) still finds gatekey_api_keys_channel.
CREATE OR REPLACE FUNCTION gatekey_api_keys_announce() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    channel text := gatekey_api_keys_channel(TG_TABLE_SCHEMA);
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify(channel, '');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify(channel, OLD.id);
    ELSE
        PERFORM pg_notify(channel, NEW.id);
        IF OLD.id IS DISTINCT FROM NEW.id THEN
            PERFORM pg_notify(channel, OLD.id);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'gatekey_api_keys'::regclass AND tgname = 'gatekey_api_keys_changed') THEN
        CREATE TRIGGER gatekey_api_keys_changed
            AFTER UPDATE ON gatekey_api_keys FOR EACH ROW
            WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
            EXECUTE PROCEDURE gatekey_api_keys_announce();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'gatekey_api_keys'::regclass AND tgname = 'gatekey_api_keys_deleted') THEN
        CREATE TRIGGER gatekey_api_keys_deleted
            AFTER DELETE ON gatekey_api_keys FOR EACH ROW
            EXECUTE PROCEDURE gatekey_api_keys_announce();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = 'gatekey_api_keys'::regclass AND tgname = 'gatekey_api_keys_truncated') THEN
        CREATE TRIGGER gatekey_api_keys_truncated
            AFTER TRUNCATE ON gatekey_api_keys FOR EACH STATEMENT
            EXECUTE PROCEDURE gatekey_api_keys_announce();
    END IF;
END
$$;
