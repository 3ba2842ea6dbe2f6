package apikey

import (
	"context"
	"time"
)

// Store is what verification needs from a key store: a look-up by id.
//
// LookupKey returns a record the caller may keep and modify, ErrNotFound
// (possibly wrapped) when no key has that id, or an error wrapping
// ErrUnavailable when the store cannot answer. It must honour ctx.
type Store interface {
	LookupKey(ctx context.Context, id string) (*Key, error)
}

// ManagedStore is what key lifecycle management (Manager) needs. Run
// keystoretest.Run (or keystoretest.TestStore) against an implementation
// to check it.
type ManagedStore interface {
	Store

	// CreateKey stores a new record. It returns ErrConflict if the id exists.
	CreateKey(ctx context.Context, k *Key) error

	// UpdateKey replaces the record with k's id, or returns ErrNotFound.
	// Two rules protect against lost updates: a RevokedAt already stored is
	// kept (revocation is irreversible), and LastUsedAt never moves
	// backwards (the later of the stored and given values is kept).
	UpdateKey(ctx context.Context, k *Key) error

	// ListKeys returns the records matching f, ordered by CreatedAt and
	// then ID.
	ListKeys(ctx context.Context, f ListFilter) ([]*Key, error)

	// TouchKeys records last use in one batch: for each id, LastUsedAt
	// becomes the later of its current value and the given time. Unknown
	// ids are ignored.
	TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error
}

// ListFilter selects keys in ManagedStore.ListKeys. Zero fields match any key.
type ListFilter struct {
	Owner       string
	Environment Environment
}

// Match reports whether k passes the filter.
func (f ListFilter) Match(k *Key) bool {
	return (f.Owner == "" || k.Owner == f.Owner) &&
		(f.Environment == 0 || k.Environment == f.Environment)
}

// toucher is the optional part of a Store that records last use.
type toucher interface {
	TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error
}
