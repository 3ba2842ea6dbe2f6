package apikey

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a ManagedStore kept in memory, for tests and
// single-process services. The zero value is an empty store ready to use. It
// is safe for concurrent use, and it copies records in and out, so callers
// cannot change stored records by mutating what they passed or got back.
type MemoryStore struct {
	mu   sync.RWMutex
	keys map[string]*Key
}

var _ ManagedStore = (*MemoryStore)(nil)

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// LookupKey returns a copy of the record with the given id, or ErrNotFound.
func (s *MemoryStore) LookupKey(ctx context.Context, id string) (*Key, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[id]
	if !ok {
		return nil, ErrNotFound
	}
	return k.Clone(), nil
}

// CreateKey stores a copy of k, or returns ErrConflict if its id exists.
func (s *MemoryStore) CreateKey(ctx context.Context, k *Key) error {
	if k == nil || k.ID == "" {
		return errors.New("apikey: CreateKey needs a key with an id")
	}
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k.ID]; ok {
		return ErrConflict
	}
	if s.keys == nil {
		s.keys = make(map[string]*Key)
	}
	s.keys[k.ID] = k.Clone()
	return nil
}

// UpdateKey replaces the record with k's id, following the rules of
// ManagedStore.UpdateKey, or returns ErrNotFound.
func (s *MemoryStore) UpdateKey(ctx context.Context, k *Key) error {
	if k == nil {
		return errors.New("apikey: UpdateKey needs a key")
	}
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.keys[k.ID]
	if !ok {
		return ErrNotFound
	}
	n := k.Clone()
	if !old.RevokedAt.IsZero() {
		n.RevokedAt = old.RevokedAt
	}
	if old.LastUsedAt.After(n.LastUsedAt) {
		n.LastUsedAt = old.LastUsedAt
	}
	s.keys[k.ID] = n
	return nil
}

// ListKeys returns copies of the matching records ordered by CreatedAt, then ID.
func (s *MemoryStore) ListKeys(ctx context.Context, f ListFilter) ([]*Key, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	out := make([]*Key, 0, len(s.keys))
	for _, k := range s.keys {
		if f.Match(k) {
			out = append(out, k.Clone())
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// TouchKeys advances LastUsedAt of the given keys; unknown ids are ignored.
func (s *MemoryStore) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range lastUsed {
		if k, ok := s.keys[id]; ok && t.After(k.LastUsedAt) {
			k.LastUsedAt = t
		}
	}
	return nil
}
