package apikey

import (
	"context"
	"errors"
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
// EventRevoked with RevokedLeaked. The secret is checked as Verify checks
// it (the same cache, the same bounds on store look-ups and slow hashes),
// outside the Manager's lock, so that a report of many wrong secrets does
// not hold up other changes; a report of a leak is not a use of the key:
// its last use is not recorded.
func (m *Manager) RevokeLeaked(ctx context.Context, presented string) (*Key, error) {
	checked, err := m.v.genuine(ctx, presented)
	if err != nil {
		return nil, err
	}
	k, changed, err := m.apply(ctx, checked.ID, func(k *Key) (bool, error) {
		// The record the secret was checked against, unless it was
		// replaced since (then the secret was checked against another).
		if k.Hash != checked.Hash || k.Type != checked.Type || k.Environment != checked.Environment {
			return false, ErrInvalidKey
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
