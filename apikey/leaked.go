package apikey

import (
	"context"
	"errors"
	"fmt"
)

// RevokeLeaked revokes the key presented, found where it should not be (in
// public code, a paste, a log), if it is genuine: a well-formed key of the
// Manager's Format whose record exists and whose secret matches. It
// returns the revoked record, or an error matching ErrInvalidKey when
// presented is not a genuine key (malformed, unknown or wrong secret, as
// the report of a leak may well be a false positive), or a store error.
//
// A genuine key is revoked whatever its state, expired and disabled ones
// included (they could be brought back); for one revoked before, it
// returns the record and changes nothing. When it revokes, it sends
// EventRevoked with RevokedLeaked. It reads the store rather than the
// Verifier's cache, and a report of a leak is not a use of the key: its
// last use is not recorded.
func (m *Manager) RevokeLeaked(ctx context.Context, presented string) (*Key, error) {
	var p parsed
	if err := m.format.parseShape(presented, &p); err != nil {
		return nil, err
	}
	if !checksumOK(presented) {
		return nil, errChecksum
	}
	id := p.id()
	k, changed, err := m.apply(ctx, id, func(k *Key) (bool, error) {
		if err := m.genuine(k, &p); err != nil {
			return false, err
		}
		if !k.RevokedAt.IsZero() {
			return false, nil
		}
		k.RevokedAt = m.now().Round(0)
		return true, nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidKey
	}
	if err != nil {
		return nil, err
	}
	if changed {
		m.events.send(ctx, EventRevoked, RevokedLeaked, k, nil)
	}
	return k, nil
}

// genuine reports, as nil, whether p is the key whose record is k: its
// stored hash matches and its type and environment agree. A mismatch is
// ErrInvalidKey.
func (m *Manager) genuine(k *Key, p *parsed) error {
	if k.ID != p.id() || k.Type != p.typ || k.Environment != p.env {
		return ErrInvalidKey
	}
	h := m.v.hashers[HashAlgorithm(k.Hash)]
	if h == nil {
		return ErrInvalidKey
	}
	ok, err := h.Verify(p.key, k.Hash)
	if err != nil {
		return fmt.Errorf("apikey: cannot check the stored hash of key %s: %w", k.ID, err)
	}
	if !ok {
		return ErrInvalidKey
	}
	return nil
}
