package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// columns lists the table's columns in the order of row and the insert.
const columns = "id, name, type, environment, permission, scopes, owner, tier, " +
	"allowed_networks, disabled, created_at, expires_at, revoked_at, last_used_at, metadata, hash"

// encodeTime returns the value stored for t: NULL for the zero time unless
// notNull, otherwise t in UTC truncated to the microsecond, as a time.Time
// (PostgreSQL) or as microseconds since the Unix epoch (SQLite).
func (d Dialect) encodeTime(t time.Time, notNull bool) any {
	if t.IsZero() && !notNull {
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	if d == SQLite {
		return t.UnixMicro()
	}
	return t
}

// timeColumn scans a time stored by encodeTime, whichever the dialect.
type timeColumn struct{ t *time.Time }

func (c timeColumn) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case time.Time:
		*c.t = v.UTC()
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("cannot scan %T into a time", src)
	}
	if c.t.IsZero() { // a zero CreatedAt, stored as 0001-01-01 UTC
		*c.t = time.Time{}
	}
	return nil
}

// textColumn scans text or JSON into a []byte, whatever the driver returns.
type textColumn struct{ b *[]byte }

func (c textColumn) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.b = nil
	case []byte:
		*c.b = append((*c.b)[:0], v...)
	case string:
		*c.b = append((*c.b)[:0], v...)
	default:
		return fmt.Errorf("cannot scan %T into text", src)
	}
	return nil
}

var (
	_ sql.Scanner = timeColumn{}
	_ sql.Scanner = textColumn{}
)

// args returns the values of k's columns, in the order of columns.
func (d Dialect) args(k *apikey.Key) ([]any, error) {
	typ, err := k.Type.MarshalText()
	if err != nil {
		return nil, err
	}
	env, err := k.Environment.MarshalText()
	if err != nil {
		return nil, err
	}
	perm, err := k.Permission.MarshalText()
	if err != nil {
		return nil, err
	}
	scopes, err := marshalJSON(k.Scopes, len(k.Scopes), "[]")
	if err != nil {
		return nil, err
	}
	nets, err := marshalJSON(k.AllowedNetworks, len(k.AllowedNetworks), "[]")
	if err != nil {
		return nil, err
	}
	meta, err := marshalJSON(k.Metadata, len(k.Metadata), "{}")
	if err != nil {
		return nil, err
	}
	return []any{
		k.ID, k.Name, string(typ), string(env), string(perm), scopes, k.Owner, k.Tier,
		nets, k.Disabled, d.encodeTime(k.CreatedAt, true), d.encodeTime(k.ExpiresAt, false),
		d.encodeTime(k.RevokedAt, false), d.encodeTime(k.LastUsedAt, false), meta, k.Hash,
	}, nil
}

// marshalJSON encodes v, a collection of n elements, as JSON text, or
// returns empty when n is 0.
func marshalJSON(v any, n int, empty string) (string, error) {
	if n == 0 {
		return empty, nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// scanKey reads one row of columns into a new Key.
func scanKey(row interface{ Scan(...any) error }) (*apikey.Key, error) {
	var (
		k                      apikey.Key
		typ, env, perm         string
		scopes, nets, metadata []byte
	)
	err := row.Scan(&k.ID, &k.Name, &typ, &env, &perm, textColumn{&scopes}, &k.Owner, &k.Tier,
		textColumn{&nets}, &k.Disabled, timeColumn{&k.CreatedAt}, timeColumn{&k.ExpiresAt},
		timeColumn{&k.RevokedAt}, timeColumn{&k.LastUsedAt}, textColumn{&metadata}, &k.Hash)
	if err != nil {
		return nil, err
	}
	if err := decodeKey(&k, typ, env, perm, scopes, nets, metadata); err != nil {
		return nil, fmt.Errorf("key %s: %w", k.ID, err)
	}
	return &k, nil
}

func decodeKey(k *apikey.Key, typ, env, perm string, scopes, nets, metadata []byte) error {
	if err := k.Type.UnmarshalText([]byte(typ)); err != nil {
		return err
	}
	if err := k.Environment.UnmarshalText([]byte(env)); err != nil {
		return err
	}
	if err := k.Permission.UnmarshalText([]byte(perm)); err != nil {
		return err
	}
	if err := unmarshalJSON(scopes, &k.Scopes, "scopes"); err != nil {
		return err
	}
	if err := unmarshalJSON(nets, &k.AllowedNetworks, "allowed_networks"); err != nil {
		return err
	}
	if err := unmarshalJSON(metadata, &k.Metadata, "metadata"); err != nil {
		return err
	}
	// Empty collections come back nil, as they were most likely created.
	if len(k.Scopes) == 0 {
		k.Scopes = nil
	}
	if len(k.AllowedNetworks) == 0 {
		k.AllowedNetworks = nil
	}
	if len(k.Metadata) == 0 {
		k.Metadata = nil
	}
	return nil
}

// unmarshalJSON decodes the JSON text of a column into v.
func unmarshalJSON(b []byte, v any, column string) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("column %s: %w", column, err)
	}
	return nil
}
