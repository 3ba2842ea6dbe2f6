package keystoretest

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// base is the instant the suite's records are built around. Its
// microsecond digits (.123456) are lost by a store that keeps less.
var base = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)

// fullKey returns a record with every field set, each time different down
// to the microsecond, and text beyond ASCII.
func fullKey(id string) *apikey.Key {
	return &apikey.Key{
		ID:          id,
		Name:        "clé " + id + " ✓",
		Type:        apikey.SecretKey,
		Environment: apikey.Test,
		Permission:  apikey.ReadWrite,
		Scopes:      []string{"orders:write", "orders:read", "réservé"},
		Owner:       "acct_1",
		Tier:        "gold",
		AllowedNetworks: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"),
			netip.MustParsePrefix("2001:db8::/32"),
			netip.MustParsePrefix("192.0.2.7/32"),
		},
		Disabled:   true,
		CreatedAt:  base,
		ExpiresAt:  base.Add(48*time.Hour + time.Microsecond),
		RevokedAt:  base.Add(time.Hour + 2*time.Microsecond),
		LastUsedAt: base.Add(time.Minute + 3*time.Microsecond),
		Metadata:   map[string]string{"team": "billing", "ticket": "T-1", "note": ""},
		Hash:       "argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
	}
}

// minimalKey returns a record with only the required fields set, and the
// enum values fullKey does not use.
func minimalKey(id string) *apikey.Key {
	return &apikey.Key{ID: id, Type: apikey.PublishableKey, Environment: apikey.Live,
		Permission: apikey.ReadOnly, CreatedAt: base, Hash: "sha256$x"}
}

// A field compares one field of two records.
type field struct {
	name string
	diff func(got, want *apikey.Key) string // "" when equal
}

// newField returns the field name of Key, read by get and compared by eq.
func newField[T any](name string, get func(*apikey.Key) T, eq func(a, b T) bool) field {
	return field{name, func(got, want *apikey.Key) string {
		if g, w := get(got), get(want); !eq(g, w) {
			return fmt.Sprintf("%s = %s, want %s", name, show(g), show(w))
		}
		return ""
	}}
}

func equal[T comparable](a, b T) bool { return a == b }

// sameTime reports whether a and b are the same instant, whatever their
// locations and monotonic readings.
func sameTime(a, b time.Time) bool { return a.Equal(b) }

// show formats a field value for a message.
func show(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case []string:
		return fmt.Sprintf("%q", v)
	case map[string]string:
		return fmt.Sprintf("%q", v)
	case time.Time:
		if v.IsZero() {
			return "the zero time"
		}
		return v.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// fields are the fields of apikey.Key, every one of them (a test checks
// that none is missing). Empty and nil collections are equal.
var fields = []field{
	newField("ID", func(k *apikey.Key) string { return k.ID }, equal),
	newField("Name", func(k *apikey.Key) string { return k.Name }, equal),
	newField("Type", func(k *apikey.Key) apikey.Type { return k.Type }, equal),
	newField("Environment", func(k *apikey.Key) apikey.Environment { return k.Environment }, equal),
	newField("Permission", func(k *apikey.Key) apikey.Permission { return k.Permission }, equal),
	newField("Scopes", func(k *apikey.Key) []string { return k.Scopes }, slices.Equal),
	newField("Owner", func(k *apikey.Key) string { return k.Owner }, equal),
	newField("Tier", func(k *apikey.Key) string { return k.Tier }, equal),
	newField("AllowedNetworks", func(k *apikey.Key) []netip.Prefix { return k.AllowedNetworks }, slices.Equal),
	newField("Disabled", func(k *apikey.Key) bool { return k.Disabled }, equal),
	newField("CreatedAt", func(k *apikey.Key) time.Time { return k.CreatedAt }, sameTime),
	newField("ExpiresAt", func(k *apikey.Key) time.Time { return k.ExpiresAt }, sameTime),
	newField("RevokedAt", func(k *apikey.Key) time.Time { return k.RevokedAt }, sameTime),
	newField("LastUsedAt", func(k *apikey.Key) time.Time { return k.LastUsedAt }, sameTime),
	newField("Metadata", func(k *apikey.Key) map[string]string { return k.Metadata }, maps.Equal),
	newField("Hash", func(k *apikey.Key) string { return k.Hash }, equal),
}

// diff returns one line per field of got that differs from want.
func diff(got, want *apikey.Key) []string {
	var out []string
	for _, f := range fields {
		if d := f.diff(got, want); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// expect records a problem for each field in which got differs from want.
// what says where got comes from, as in "LookupKey(X) after UpdateKey".
func (c *checker) expect(what string, got, want *apikey.Key) {
	for _, d := range diff(got, want) {
		c.errorf("%s: %s", what, d)
	}
}

// The helpers below make one store call that must succeed, and end the
// rule when it does not.

func (c *checker) create(k *apikey.Key) {
	if err := c.s.CreateKey(c.ctx, k); err != nil {
		c.fatalf("CreateKey(%s) = %v, want success", k.ID, err)
	}
}

func (c *checker) update(k *apikey.Key) {
	if err := c.s.UpdateKey(c.ctx, k); err != nil {
		c.fatalf("UpdateKey(%s) = %v, want success", k.ID, err)
	}
}

func (c *checker) touch(lastUsed map[string]time.Time) {
	if err := c.s.TouchKeys(c.ctx, lastUsed); err != nil {
		c.fatalf("TouchKeys of %d ids = %v, want success", len(lastUsed), err)
	}
}

// lookup returns the record with id, which must exist.
func (c *checker) lookup(id string) *apikey.Key {
	k, err := c.s.LookupKey(c.ctx, id)
	switch {
	case err != nil:
		c.fatalf("LookupKey(%s) = %v, want the record", id, err)
	case k == nil:
		c.fatalf("LookupKey(%s) returned no record and no error", id)
	case k.ID != id:
		c.fatalf("LookupKey(%s) returned the record of %s", id, k.ID)
	}
	return k
}

// lookupMissing checks that no record has id.
func (c *checker) lookupMissing(id, after string) {
	k, err := c.s.LookupKey(c.ctx, id)
	switch {
	case err == nil && k == nil:
		c.errorf("after %s, LookupKey(%s) returned no record and no error, want ErrNotFound", after, id)
	case err == nil:
		c.errorf("after %s, LookupKey(%s) found a record (with id %s), want ErrNotFound", after, id, k.ID)
	case !errors.Is(err, apikey.ErrNotFound):
		c.errorf("after %s, LookupKey(%s) = %v, want ErrNotFound", after, id, err)
	}
}

// list returns the records matching f, none of them nil.
func (c *checker) list(f apikey.ListFilter) []*apikey.Key {
	ks, err := c.s.ListKeys(c.ctx, f)
	if err != nil {
		c.fatalf("ListKeys(%s) = %v, want success", showFilter(f), err)
	}
	if slices.Contains(ks, nil) {
		c.fatalf("ListKeys(%s) returned a nil record", showFilter(f))
	}
	return ks
}

// ids returns the ids of ks, in order.
func ids(ks []*apikey.Key) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.ID
	}
	return out
}

func showFilter(f apikey.ListFilter) string {
	env := "any"
	if f.Environment != 0 {
		env = f.Environment.String()
	}
	return fmt.Sprintf("Owner %q, Environment %s", f.Owner, env)
}
