package keystoretest_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/keystoretest"
)

// toyStore is a small ManagedStore: a map behind a mutex. It copies
// records in and out, as the contract requires, and checks the context
// first in every method.
type toyStore struct {
	mu   sync.Mutex
	keys map[string]*apikey.Key
}

func newToyStore() *toyStore { return &toyStore{keys: make(map[string]*apikey.Key)} }

// unavailable returns an error wrapping apikey.ErrUnavailable if ctx is done.
func unavailable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("toystore: %w: %w", apikey.ErrUnavailable, err)
	}
	return nil
}

func (s *toyStore) LookupKey(ctx context.Context, id string) (*apikey.Key, error) {
	if err := unavailable(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return nil, fmt.Errorf("toystore: %s: %w", id, apikey.ErrNotFound)
	}
	return k.Clone(), nil
}

func (s *toyStore) CreateKey(ctx context.Context, k *apikey.Key) error {
	if err := unavailable(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k.ID]; ok {
		return fmt.Errorf("toystore: %s: %w", k.ID, apikey.ErrConflict)
	}
	s.keys[k.ID] = k.Clone()
	return nil
}

func (s *toyStore) UpdateKey(ctx context.Context, k *apikey.Key) error {
	if err := unavailable(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.keys[k.ID]
	if !ok {
		return fmt.Errorf("toystore: %s: %w", k.ID, apikey.ErrNotFound)
	}
	n := k.Clone()
	if !old.RevokedAt.IsZero() {
		n.RevokedAt = old.RevokedAt // revocation is irreversible
	}
	if old.LastUsedAt.After(n.LastUsedAt) {
		n.LastUsedAt = old.LastUsedAt // last use never moves backwards
	}
	s.keys[k.ID] = n
	return nil
}

func (s *toyStore) ListKeys(ctx context.Context, f apikey.ListFilter) ([]*apikey.Key, error) {
	if err := unavailable(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*apikey.Key
	for _, k := range s.keys {
		if f.Match(k) {
			out = append(out, k.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *apikey.Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (s *toyStore) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	if err := unavailable(ctx); err != nil {
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

// This example implements a small ManagedStore and checks it with
// TestStore, which needs no testing.T. In a _test.go file, Run does the
// same with one subtest per rule.
func Example() {
	err := keystoretest.TestStore(context.Background(), func() (apikey.ManagedStore, error) {
		return newToyStore(), nil
	})
	if err != nil {
		fmt.Println(err) // one line per broken rule
		return
	}
	fmt.Println("toyStore keeps the contract")
	// Output: toyStore keeps the contract
}
