package apikey

import (
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"time"
)

// Key is the stored record of an API key. It never holds the plaintext key,
// only its Hash. Zero times mean "unset".
//
// Records a Store returns belong to the caller, but the *Key a Verifier
// returns is shared by every request that presents that key and must be
// treated as read-only; use Clone to get a copy to modify.
type Key struct {
	ID          string      `json:"id"` // the 12-character id embedded in the key
	Name        string      `json:"name,omitempty"`
	Type        Type        `json:"type"`
	Environment Environment `json:"environment"`
	// Permission applies to secret keys; a publishable key is always
	// read-only (see CanWrite).
	Permission Permission `json:"permission"`
	// Scopes are extra, application-defined grants (see HasScope).
	Scopes []string `json:"scopes,omitempty"`
	// Owner is the account or user the key belongs to.
	Owner string `json:"owner,omitempty"`
	// Tier names the rate-limit tier of the key.
	Tier string `json:"tier,omitempty"`
	// AllowedNetworks, when not empty, restricts the client addresses the
	// key may be used from (see AllowsAddr).
	AllowedNetworks []netip.Prefix `json:"allowed_networks,omitempty"`
	// Disabled suspends the key reversibly.
	Disabled   bool      `json:"disabled,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// Metadata holds application-defined labels.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Hash is the self-describing hash of the plaintext key (see Hasher).
	// It is never encoded to JSON or logged by this package.
	Hash string `json:"-"`
}

// Status is the state of a Key at a given time.
type Status uint8

// Key states. When several apply, Status reports the first in this order:
// StatusRevoked (permanent), StatusExpired (permanent unless the expiry is
// changed), StatusDisabled (reversible), StatusActive.
const (
	StatusActive Status = iota
	StatusRevoked
	StatusExpired
	StatusDisabled
)

// String returns "active", "revoked", "expired" or "disabled".
func (s Status) String() string {
	switch s {
	case StatusActive:
		return "active"
	case StatusRevoked:
		return "revoked"
	case StatusExpired:
		return "expired"
	case StatusDisabled:
		return "disabled"
	}
	return "unknown"
}

// Err returns nil for StatusActive and ErrRevoked, ErrExpired or
// ErrDisabled for the other states.
func (s Status) Err() error {
	switch s {
	case StatusActive:
		return nil
	case StatusRevoked:
		return ErrRevoked
	case StatusExpired:
		return ErrExpired
	case StatusDisabled:
		return ErrDisabled
	}
	return ErrInvalidKey
}

// Status returns the state of k at time now. A key is revoked as soon as
// RevokedAt is set, and expired from ExpiresAt on (ExpiresAt itself
// included).
func (k *Key) Status(now time.Time) Status {
	switch {
	case !k.RevokedAt.IsZero():
		return StatusRevoked
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return StatusExpired
	case k.Disabled:
		return StatusDisabled
	}
	return StatusActive
}

// AllowsAddr reports whether a client at addr may use k: true when
// AllowedNetworks is empty, otherwise when one of them contains addr.
// Addresses and networks are compared unmapped (an IPv4-mapped IPv6
// address matches an IPv4 network, and an IPv4-mapped network such as
// ::ffff:1.2.3.0/120 matches IPv4 addresses), and zones are ignored.
func (k *Key) AllowsAddr(addr netip.Addr) bool {
	if len(k.AllowedNetworks) == 0 {
		return true
	}
	addr = addr.WithZone("").Unmap()
	for _, p := range k.AllowedNetworks {
		if p.Addr().Is4In6() {
			p = canonicalPrefix(p)
		}
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// canonicalPrefix returns p masked and, if it is an IPv4-mapped IPv6
// prefix (::ffff:a.b.c.d/n, which needs n >= 96 once masked), as the IPv4
// prefix it denotes (a.b.c.d/n-96).
func canonicalPrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// HasScope reports whether s is one of k's Scopes.
func (k *Key) HasScope(s string) bool { return slices.Contains(k.Scopes, s) }

// Account returns the account the key belongs to, under which what is
// kept per account (credits, idempotency keys) is kept: its Owner, or its
// own ID when it has none. Manager.Roll gives the successor of a key
// without an owner that ID as its Owner, so that the account carries over.
func (k *Key) Account() string {
	if k.Owner != "" {
		return k.Owner
	}
	return k.ID
}

// CanWrite reports whether k may use write methods: only a secret key with
// ReadWrite permission. A publishable key never can, whatever its record says.
func (k *Key) CanWrite() bool { return k.Type == SecretKey && k.Permission == ReadWrite }

// Clone returns a deep copy of k (nil for nil).
func (k *Key) Clone() *Key {
	if k == nil {
		return nil
	}
	c := *k
	c.Scopes = slices.Clone(k.Scopes)
	c.AllowedNetworks = slices.Clone(k.AllowedNetworks)
	c.Metadata = maps.Clone(k.Metadata)
	return &c
}

// LogValue implements slog.LogValuer. It logs identifying attributes only,
// never Hash.
func (k *Key) LogValue() slog.Value {
	if k == nil {
		return slog.Value{}
	}
	return slog.GroupValue(
		slog.String("id", k.ID),
		slog.String("type", k.Type.String()),
		slog.String("environment", k.Environment.String()),
		slog.String("owner", k.Owner),
	)
}
