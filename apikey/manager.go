package apikey

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// ManagerConfig configures a Manager. The zero value is a working
// configuration.
type ManagerConfig struct {
	// Verifier configures the Manager's own Verifier. Its Format and Now are
	// also used to generate keys and stamp records. Hasher is added to its
	// Hashers if no hasher with the same algorithm tag is listed.
	Verifier VerifierConfig

	// Hasher hashes new keys. Nil means SHA256.
	Hasher Hasher

	// Rand is the source of key randomness. Nil means crypto/rand; set it
	// only in tests and examples.
	Rand io.Reader

	// OnEvent, if set, is told of every change in a key's life made
	// through the Manager (created, rolled, revoked, disabled, enabled),
	// and of what its Verifier notices when a key is used: that it expires
	// within ExpiryWarning, or that it was refused because it has expired.
	// It runs on the goroutine of the call (for the latter, of Verify):
	// keep it fast, or hand the event off. Each Manager sends its own
	// events, so a fleet of replicas, each with a Manager, may send the
	// Verifier's events once per replica: deduplicate by key ID and Kind.
	OnEvent func(ctx context.Context, e Event)

	// ExpiryWarning is how long before its expiry the use of a key sends
	// EventExpiringSoon, once per key and expiry (per Manager: see
	// OnEvent). It costs one comparison per verification, no scan of the
	// store. 0 means 7 days; a negative value sends none.
	ExpiryWarning time.Duration
}

// CreateParams describes a key to create. Type and Environment are required.
type CreateParams struct {
	Name        string
	Type        Type
	Environment Environment
	// Permission is ignored for publishable keys, which are always ReadOnly.
	Permission      Permission
	Scopes          []string
	Owner           string
	Tier            string
	AllowedNetworks []netip.Prefix // stored masked and unmapped (see Create)
	ExpiresAt       time.Time      // zero means never; otherwise must be in the future
	Metadata        map[string]string
	Disabled        bool // create the key disabled (see Manager.Enable)
}

// Manager manages the lifecycle of keys in a ManagedStore: create, list,
// revoke, disable, enable, roll. It owns a Verifier, so its changes take
// effect on that Verifier's cache at once. Create one with NewManager and
// Close it when done. It is safe for concurrent use; changes to one record
// are serialised within the Manager.
type Manager struct {
	store  ManagedStore
	v      *Verifier
	format Format
	hasher Hasher
	rand   io.Reader
	now    func() time.Time
	events notifier
	mu     sync.Mutex // serialises read-modify-write of records
}

// createAttempts bounds retries when a generated id collides with an existing one.
const createAttempts = 4

// NewManager returns a Manager for store.
func NewManager(store ManagedStore, cfg ManagerConfig) (*Manager, error) {
	if store == nil {
		return nil, errors.New("apikey: NewManager needs a ManagedStore")
	}
	h := cfg.Hasher
	if h == nil {
		h = SHA256{}
	}
	vc := cfg.Verifier
	hashers := slices.Clone(vc.Hashers)
	if len(hashers) == 0 {
		hashers = []Hasher{SHA256{}}
	}
	if !slices.ContainsFunc(hashers, func(x Hasher) bool {
		return x != nil && x.Algorithm() == h.Algorithm() || x == nil && h.Algorithm() == "sha256"
	}) {
		hashers = append(hashers, h)
	}
	vc.Hashers = hashers
	v, err := NewVerifier(store, vc)
	if err != nil {
		return nil, err
	}
	m := &Manager{store: store, v: v, format: vc.Format, hasher: h, rand: cfg.Rand, now: v.now}
	m.events = notifier{hook: cfg.OnEvent, now: v.now}
	if cfg.OnEvent != nil {
		v.expiry = newExpiryWatch(durationOr(cfg.ExpiryWarning, 7*24*time.Hour), &m.events)
	}
	return m, nil
}

// Format returns the Format of the keys the Manager issues.
func (m *Manager) Format() Format { return m.format }

// Verifier returns the Manager's Verifier.
func (m *Manager) Verifier() *Verifier { return m.v }

// Verify checks a presented key; see Verifier.Verify.
func (m *Manager) Verify(ctx context.Context, presented string) (*Key, error) {
	return m.v.Verify(ctx, presented)
}

// Close closes the Manager's Verifier, writing pending last-use times.
func (m *Manager) Close() error { return m.v.Close() }

// MaxNameLen is the longest key name Create accepts, in bytes (of UTF-8:
// a name of 200 characters may be longer).
const MaxNameLen = 200

func (m *Manager) validate(p *CreateParams, now time.Time) error {
	bad := func(param, reason string) error { return &ParamError{Param: param, Reason: reason} }
	switch {
	case !p.Type.Valid():
		return bad("type", "must be secret or publishable")
	case !p.Environment.Valid():
		return bad("environment", "must be live or test")
	case !p.Permission.Valid():
		return bad("permission", "must be read_only or read_write")
	case len(p.Name) > MaxNameLen:
		return bad("name", "must be at most 200 bytes")
	case RedactAll(p.Name) != p.Name:
		// It would be stored in the clear and listed with the key.
		return bad("name", "must not hold an API key")
	case !p.ExpiresAt.IsZero() && !p.ExpiresAt.After(now):
		return bad("expires_at", "must be in the future")
	}
	for _, s := range p.Scopes {
		if s == "" || len(s) > 128 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return bad("scopes", "must each be 1 to 128 bytes without spaces or control characters")
		}
	}
	for _, n := range p.AllowedNetworks {
		if !n.IsValid() {
			return bad("allowed_networks", "must be valid CIDR prefixes")
		}
	}
	for k := range p.Metadata {
		if k == "" {
			return bad("metadata", "must not have an empty key")
		}
	}
	return nil
}

// Create generates a key, stores its record (with only the key's hash) and
// returns the plaintext Token, which is never available again, with the
// record. Invalid params are reported as a *ParamError. A publishable key is always created ReadOnly. AllowedNetworks
// are stored masked (10.1.2.3/8 as 10.0.0.0/8), and IPv4-mapped IPv6
// prefixes as the IPv4 prefixes they denote (::ffff:1.2.3.0/120 as
// 1.2.3.0/24), as client addresses are compared unmapped. Id collisions
// are retried a few times.
func (m *Manager) Create(ctx context.Context, p CreateParams) (Token, *Key, error) {
	tok, k, err := m.create(ctx, p)
	if err == nil {
		m.events.send(ctx, EventCreated, 0, k, nil)
	}
	return tok, k, err
}

// create is Create without its event.
func (m *Manager) create(ctx context.Context, p CreateParams) (Token, *Key, error) {
	now := m.now()
	if err := m.validate(&p, now); err != nil {
		return Token{}, nil, err
	}
	if p.Type == PublishableKey {
		p.Permission = ReadOnly
	}
	nets := make([]netip.Prefix, 0, len(p.AllowedNetworks))
	for _, n := range p.AllowedNetworks {
		nets = append(nets, canonicalPrefix(n))
	}
	if len(nets) == 0 {
		nets = nil
	}
	for range createAttempts {
		tok, err := m.format.Generate(m.rand, p.Type, p.Environment)
		if err != nil {
			return Token{}, nil, err
		}
		hash, err := m.hasher.Hash(tok.Reveal())
		if err != nil {
			return Token{}, nil, fmt.Errorf("apikey: hashing new key: %w", err)
		}
		k := &Key{
			ID:              tok.ID(),
			Name:            p.Name,
			Type:            p.Type,
			Environment:     p.Environment,
			Permission:      p.Permission,
			Scopes:          slices.Clone(p.Scopes),
			Owner:           p.Owner,
			Tier:            p.Tier,
			AllowedNetworks: nets,
			CreatedAt:       now.Round(0),
			ExpiresAt:       p.ExpiresAt,
			Metadata:        maps.Clone(p.Metadata),
			Disabled:        p.Disabled,
			Hash:            hash,
		}
		err = m.store.CreateKey(ctx, k)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return Token{}, nil, fmt.Errorf("apikey: creating key: %w", err)
		}
		m.v.Invalidate(k.ID) // forget it if it was cached as unknown
		return tok, k, nil
	}
	return Token{}, nil, fmt.Errorf("apikey: creating key: %d id collisions in a row: %w", createAttempts, ErrConflict)
}

// Get returns the record with the given id, or an error matching ErrNotFound.
func (m *Manager) Get(ctx context.Context, id string) (*Key, error) {
	return m.store.LookupKey(ctx, id)
}

// List returns the records matching f, ordered by creation time then id.
func (m *Manager) List(ctx context.Context, f ListFilter) ([]*Key, error) {
	return m.store.ListKeys(ctx, f)
}

// update applies fn to the record with id, stores it and sends an event
// of kind (and reason) if fn reports a change, and invalidates the
// Verifier's cache for id either way.
// The event is sent once the Manager's lock is released, so that a slow
// hook does not hold up other changes.
func (m *Manager) update(ctx context.Context, id string, kind EventKind, reason RevokeReason, fn func(k *Key) (changed bool, err error)) (*Key, error) {
	k, changed, err := m.apply(ctx, id, fn)
	if changed {
		m.events.send(ctx, kind, reason, k, nil)
	}
	return k, err
}

// apply is update without the event: it reports whether it stored a change.
func (m *Manager) apply(ctx context.Context, id string, fn func(k *Key) (changed bool, err error)) (*Key, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.v.Invalidate(id)
	k, err := m.store.LookupKey(ctx, id)
	if err != nil {
		return nil, false, err
	}
	changed, err := fn(k)
	if err != nil || !changed {
		return k, false, err
	}
	if err := m.store.UpdateKey(ctx, k); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// Revoke revokes the key immediately and irreversibly: from now on it
// answers ErrRevoked. Revoking a revoked key changes nothing.
func (m *Manager) Revoke(ctx context.Context, id string) (*Key, error) {
	return m.update(ctx, id, EventRevoked, RevokedByUser, func(k *Key) (bool, error) {
		if !k.RevokedAt.IsZero() {
			return false, nil
		}
		k.RevokedAt = m.now().Round(0)
		return true, nil
	})
}

// Disable suspends the key (it answers ErrDisabled) until Enable.
func (m *Manager) Disable(ctx context.Context, id string) (*Key, error) {
	return m.update(ctx, id, EventDisabled, 0, func(k *Key) (bool, error) {
		changed := !k.Disabled
		k.Disabled = true
		return changed, nil
	})
}

// Enable lifts Disable. A revoked key cannot be enabled: that returns the
// record and ErrRevoked.
func (m *Manager) Enable(ctx context.Context, id string) (*Key, error) {
	return m.update(ctx, id, EventEnabled, 0, func(k *Key) (bool, error) {
		if !k.RevokedAt.IsZero() {
			return false, ErrRevoked
		}
		changed := k.Disabled
		k.Disabled = false
		return changed, nil
	})
}

// RollParams describes a roll.
type RollParams struct {
	// Grace is how long the old key keeps working; 0 or less means it
	// stops at once. An earlier expiry it already has is kept.
	Grace time.Duration

	// ExpiresAt, if set, caps the new key's expiry: it expires at the
	// earlier of ExpiresAt and the old key's own expiry. It must be in
	// the future. A service sets it so that a key which expires cannot
	// roll another into a key that outlives it.
	ExpiresAt time.Time
}

// Roll replaces a key: it creates a new key with the same attributes (name,
// type, environment, permission, scopes, owner, tier, networks, metadata,
// disabled, and the expiry the old one had before this roll, so that
// rolling a key never extends its life; see also RollParams.ExpiresAt)
// and makes the old one expire after p.Grace. It returns the new key's
// plaintext and record. A revoked key cannot be rolled (ErrRevoked), nor
// an expired one (ErrExpired): rolling would turn a key that no longer
// works into a working one. A disabled key can be rolled; the new key is
// disabled too.
//
// A key without an Owner is its own account (see Key.Account); its
// successor gets that ID as its Owner, so that the account carries over.
func (m *Manager) Roll(ctx context.Context, id string, p RollParams) (Token, *Key, error) {
	tok, old, nk, err := m.roll(ctx, id, p)
	if err != nil {
		return Token{}, nil, err
	}
	m.events.send(ctx, EventRolled, 0, old, nk)
	return tok, nk, nil
}

// roll is Roll without its event; it also returns the old record.
func (m *Manager) roll(ctx context.Context, id string, p RollParams) (Token, *Key, *Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.v.Invalidate(id)
	old, err := m.store.LookupKey(ctx, id)
	if err != nil {
		return Token{}, nil, nil, err
	}
	now := m.now()
	if st := old.Status(now); st == StatusRevoked || st == StatusExpired {
		return Token{}, nil, nil, st.Err()
	}
	expires := old.ExpiresAt
	if !p.ExpiresAt.IsZero() && (expires.IsZero() || p.ExpiresAt.Before(expires)) {
		expires = p.ExpiresAt // Create checks that it is in the future
	}
	tok, nk, err := m.create(ctx, CreateParams{
		Name:            old.Name,
		Type:            old.Type,
		Environment:     old.Environment,
		Permission:      old.Permission,
		Scopes:          old.Scopes,
		Owner:           cmp.Or(old.Owner, old.ID),
		Tier:            old.Tier,
		AllowedNetworks: old.AllowedNetworks,
		Metadata:        old.Metadata,
		Disabled:        old.Disabled,
		ExpiresAt:       expires,
	})
	if err != nil {
		return Token{}, nil, nil, err
	}
	until := now.Add(max(p.Grace, 0)).Round(0)
	if old.ExpiresAt.IsZero() || until.Before(old.ExpiresAt) {
		old.ExpiresAt = until
		if err := m.store.UpdateKey(ctx, old); err != nil {
			return Token{}, nil, nil, fmt.Errorf("apikey: new key %s created but expiring the old one failed: %w", nk.ID, err)
		}
	}
	return tok, old, nk, nil
}
