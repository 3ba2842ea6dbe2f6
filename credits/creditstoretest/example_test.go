package creditstoretest_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/credits/creditstoretest"
)

// toyStore is a small but complete credits.Store: balances in a map under
// one lock, read on the clock it is given. (A real store would also drop
// the balances of past periods, which are indistinguishable from missing
// ones, and bound the map.)
type toyStore struct {
	now func() time.Time

	mu       sync.Mutex
	balances map[toyKey]toyBalance
}

// An account has a balance per kind of period.
type toyKey struct {
	account string
	period  credits.Period
}

// toyBalance is what is left of the period with the given Period.Index.
type toyBalance struct {
	index, remaining int64
}

// Spend implements credits.Store.
func (s *toyStore) Spend(_ context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
	if err := credits.CheckArgs(a, cost, false); err != nil {
		return credits.Balance{}, false, fmt.Errorf("toystore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := toyKey{account, a.Period}
	b := s.current(k, a)
	if cost > b.remaining {
		return s.balance(b, a), false, nil // refused: nothing taken
	}
	if cost > 0 {
		b.remaining -= cost
		s.balances[k] = b
	}
	return s.balance(b, a), true, nil
}

// Grant implements credits.Store.
func (s *toyStore) Grant(_ context.Context, account string, a credits.Allowance, n int64) (credits.Balance, error) {
	if err := credits.CheckArgs(a, n, true); err != nil {
		return credits.Balance{}, fmt.Errorf("toystore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := toyKey{account, a.Period}
	b := s.current(k, a)
	b.remaining = min(b.remaining+n, 2*credits.MaxCredits)
	s.balances[k] = b
	return s.balance(b, a), nil
}

// current returns k's balance now: the stored one if it is of the current
// period or a newer one (a clock behind never takes a balance back), else
// a new period's, which holds the allowance. s.mu is held.
func (s *toyStore) current(k toyKey, a credits.Allowance) toyBalance {
	if s.balances == nil {
		s.balances = make(map[toyKey]toyBalance)
	}
	index := a.Period.Index(s.now())
	b, ok := s.balances[k]
	if !ok || b.index < index {
		b = toyBalance{index: index, remaining: a.Credits}
	}
	return b
}

func (s *toyStore) balance(b toyBalance, a credits.Allowance) credits.Balance {
	return credits.Balance{Remaining: b.remaining, Allowance: a, ResetAt: a.Period.EndOf(b.index)}
}

// A store's author checks it against the contract with one call, giving
// each new store the clock the suite moves. In a test,
// creditstoretest.Run does the same with a subtest per rule.
func ExampleTestStore() {
	err := creditstoretest.TestStore(context.Background(), func(now func() time.Time) (credits.Store, error) {
		return &toyStore{now: now}, nil
	})
	fmt.Println(err)
	// Output:
	// <nil>
}
