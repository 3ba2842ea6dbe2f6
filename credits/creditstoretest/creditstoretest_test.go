package creditstoretest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/credits/creditstoretest"
)

// ruleNames are the rules, in the order the suite checks them.
var ruleNames = []string{"Fresh", "Spend", "Accounts", "Refill", "Grant", "PlanChange",
	"ClockBehind", "Exact", "RefillOnce", "InvalidArguments"}

func TestRunMemoryStore(t *testing.T) {
	creditstoretest.Run(t, func(_ *testing.T, now func() time.Time) credits.Store {
		return credits.NewMemoryStore(credits.MemoryConfig{Now: now})
	})
}

func TestTestStoreCorrectStores(t *testing.T) {
	for _, tc := range []struct {
		name     string
		newStore func(now func() time.Time) credits.Store
	}{
		{"MemoryStore", func(now func() time.Time) credits.Store {
			return credits.NewMemoryStore(credits.MemoryConfig{Now: now})
		}},
		{"toyStore", func(now func() time.Time) credits.Store { return &toyStore{now: now} }},
		{"ledger without a flaw", func(now func() time.Time) credits.Store { return &ledger{now: now} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := creditstoretest.TestStore(context.Background(), func(now func() time.Time) (credits.Store, error) { return tc.newStore(now), nil })
			if err != nil {
				t.Errorf("TestStore = %v, want nil", err)
			}
		})
	}
}

// TestTestStoreStops checks that TestStore stops, and says so, once its
// context is done.
func TestTestStoreStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := creditstoretest.TestStore(ctx, func(now func() time.Time) (credits.Store, error) {
		return credits.NewMemoryStore(credits.MemoryConfig{Now: now}), nil
	})
	if err == nil || !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "creditstoretest: stopped before Fresh: ") {
		t.Errorf("TestStore with a canceled context = %v, want \"creditstoretest: stopped before Fresh: context canceled\"", err)
	}
}

// brokenStores are stores that each break the contract in one way, with the
// rules that must catch it (others may too).
var brokenStores = []struct {
	name     string
	newStore func(now func() time.Time) (credits.Store, error)
	rules    []string
}{
	{"adds the allowance at a refill instead of replacing the balance", flawed(addAtRefill), []string{"Refill", "Grant"}},
	{"never refills", func(now func() time.Time) (credits.Store, error) {
		var first atomic.Pointer[time.Time] // the clock, stopped at the store's first call
		return credits.NewMemoryStore(credits.MemoryConfig{Now: func() time.Time {
			t := now()
			first.CompareAndSwap(nil, &t)
			return *first.Load()
		}}), nil
	}, []string{"Refill", "Grant", "PlanChange", "ClockBehind", "RefillOnce"}},
	{"refills twice under concurrency (checks the period, then refills)", flawed(racyRefill), []string{"RefillOnce"}},
	{"goes backwards with a clock behind (refills on any change of period)", flawed(backwards), []string{"ClockBehind"}},
	{"carries grants over into the next period", flawed(grantsCarryOver), []string{"Grant"}},
	{"applies a new allowance mid-period", func(now func() time.Time) (credits.Store, error) {
		m := credits.NewMemoryStore(credits.MemoryConfig{Now: now})
		return funcs{spend: func(ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
			return m.Spend(ctx, account+"#"+a.String(), a, cost) // a balance per allowance
		}, grant: func(ctx context.Context, account string, a credits.Allowance, n int64) (credits.Balance, error) {
			return m.Grant(ctx, account+"#"+a.String(), a, n)
		}}, nil
	}, []string{"PlanChange"}},
	{"takes what is left on a refused spend", around(func(m *credits.MemoryStore, ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
		b, ok, err := m.Spend(ctx, account, a, cost)
		if err == nil && !ok {
			m.Spend(ctx, account, a, b.Remaining)
		}
		return b, ok, err
	}), []string{"Spend"}},
	{"shares balances across accounts", renamed(func(string) string { return "" }), []string{"Accounts"}},
	{"case-folds account names", renamed(strings.ToLower), []string{"Accounts"}},
	{"keeps only the first 256 bytes of an account name", renamed(func(s string) string { return s[:min(len(s), 256)] }), []string{"Accounts"}},
	{"ignores the cost (spends 1)", around(func(m *credits.MemoryStore, ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
		return m.Spend(ctx, account, a, min(cost, 1))
	}), []string{"Spend", "Exact"}},
	{"cannot spend the last credit", around(func(m *credits.MemoryStore, ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
		b, _, err := m.Spend(ctx, account, a, 0)
		if err != nil || cost == 0 || cost < b.Remaining {
			return m.Spend(ctx, account, a, cost)
		}
		return b, false, nil
	}), []string{"Spend", "Exact"}},
	{"is not exact under contention (reads, then spends)", around(func(m *credits.MemoryStore, ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
		// A read, then the spend: the classic read-modify-write race,
		// without a data race.
		peek, _, err := m.Spend(ctx, account, a, 0)
		if err != nil || cost == 0 {
			return peek, err == nil, err
		}
		runtime.Gosched()
		b, ok, err := m.Spend(ctx, account, a, cost)
		if err == nil && !ok && peek.Remaining >= cost {
			return credits.Balance{Remaining: peek.Remaining - cost, Allowance: a, ResetAt: b.ResetAt}, true, nil
		}
		return b, ok, err
	}), []string{"Exact"}},
	{"fails under contention", func(now func() time.Time) (credits.Store, error) {
		m := credits.NewMemoryStore(credits.MemoryConfig{Now: now})
		var busy sync.Mutex
		return funcs{spend: func(ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
			if !busy.TryLock() {
				return credits.Balance{}, false, fmt.Errorf("broken: %w: busy", credits.ErrUnavailable)
			}
			defer busy.Unlock()
			runtime.Gosched()
			return m.Spend(ctx, account, a, cost)
		}, grant: m.Grant}, nil
	}, []string{"Exact", "RefillOnce"}},
	{"reports Remaining before the spend", edited(func(b *credits.Balance, ok bool, cost int64) {
		if ok {
			b.Remaining += cost
		}
	}), []string{"Spend"}},
	{"reports the start of the period as ResetAt", edited(func(b *credits.Balance, _ bool, _ int64) {
		b.ResetAt = b.Allowance.Period.StartOf(b.Allowance.Period.Index(b.ResetAt) - 1)
	}), []string{"Fresh", "Refill"}},
	{"reports ResetAt a period late", edited(func(b *credits.Balance, _ bool, _ int64) {
		b.ResetAt = b.Allowance.Period.EndOf(b.Allowance.Period.Index(b.ResetAt))
	}), []string{"Fresh", "Refill"}},
	{"reports a month's end as ResetAt of a daily allowance", around(func(m *credits.MemoryStore, ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
		b, ok, err := m.Spend(ctx, account, a, cost)
		if err == nil && a.Period == credits.Day {
			b.ResetAt = credits.Month.End(b.ResetAt.Add(-time.Nanosecond))
		}
		return b, ok, err
	}), []string{"Refill"}},
	{"reports the zero Allowance", edited(func(b *credits.Balance, _ bool, _ int64) { b.Allowance = credits.Allowance{} }), []string{"Fresh", "Spend"}},
	{"panics on a grant", func(now func() time.Time) (credits.Store, error) {
		m := credits.NewMemoryStore(credits.MemoryConfig{Now: now})
		return funcs{spend: m.Spend, grant: func(context.Context, string, credits.Allowance, int64) (credits.Balance, error) {
			panic("broken: Grant")
		}}, nil
	}, []string{"Grant", "InvalidArguments"}},
	{"panics under load (at its 100th call)", func(now func() time.Time) (credits.Store, error) {
		m := credits.NewMemoryStore(credits.MemoryConfig{Now: now})
		var calls atomic.Int64
		return funcs{spend: func(ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
			if calls.Add(1) == 100 {
				panic("broken: 100th call")
			}
			return m.Spend(ctx, account, a, cost)
		}, grant: m.Grant}, nil
	}, []string{"Exact", "RefillOnce"}},
	{"returns nil errors for invalid arguments", unchecked(func(m *credits.MemoryStore, ctx context.Context, account string, a credits.Allowance, n int64, err error) error {
		return nil
	}), []string{"InvalidArguments"}},
	{"returns errors of its own for invalid arguments", unchecked(func(m *credits.MemoryStore, ctx context.Context, account string, a credits.Allowance, n int64, err error) error {
		return errors.New("broken: bad request")
	}), []string{"InvalidArguments"}},
	{"takes a negative grant before rejecting it", unchecked(func(m *credits.MemoryStore, ctx context.Context, account string, a credits.Allowance, n int64, err error) error {
		if a.Validate() == nil && n < 0 {
			m.Spend(ctx, account, a, -n)
		}
		return err
	}), []string{"InvalidArguments"}},
	{"is nil", func(func() time.Time) (credits.Store, error) { return nil, nil }, ruleNames},
	{"fails to open", func(func() time.Time) (credits.Store, error) {
		return nil, fmt.Errorf("broken: %w: connection refused", credits.ErrUnavailable)
	}, ruleNames},
	{"panics when opened", func(func() time.Time) (credits.Store, error) { panic("broken: open") }, ruleNames},
}

// TestBrokenStores runs TestStore against each broken store: it must return
// an error naming at least the rules the store breaks, one error per broken
// rule, and it must not have been surprised (panicked) itself.
func TestBrokenStores(t *testing.T) {
	for _, tc := range brokenStores {
		t.Run(tc.name, func(t *testing.T) {
			err := creditstoretest.TestStore(context.Background(), tc.newStore)
			if err == nil {
				t.Fatalf("TestStore = nil, want an error naming %v", tc.rules)
			}
			var errs []error
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			}
			broken := map[string]bool{}
			for _, e := range errs {
				msg := e.Error()
				rule, _, ok := strings.Cut(strings.TrimPrefix(msg, "creditstoretest: "), ": ")
				if !strings.HasPrefix(msg, "creditstoretest: ") || !ok || strings.Contains(msg, "\n") {
					t.Errorf("error %q: want one line, \"creditstoretest: <rule>: <what was wrong>\"", msg)
				}
				if broken[rule] {
					t.Errorf("rule %s reported twice", rule)
				}
				broken[rule] = true
				if strings.Contains(msg, "the check panicked") {
					t.Errorf("a check panicked on this store: %s", msg)
				}
			}
			for _, r := range tc.rules {
				if !broken[r] {
					t.Errorf("rule %s not reported broken; TestStore said:\n%v", r, err)
				}
			}
			t.Logf("caught by %d rules:\n%v", len(errs), err)
		})
	}
}

// funcs makes two functions a credits.Store.
type funcs struct {
	spend func(ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error)
	grant func(ctx context.Context, account string, a credits.Allowance, n int64) (credits.Balance, error)
}

func (f funcs) Spend(ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
	return f.spend(ctx, account, a, cost)
}

func (f funcs) Grant(ctx context.Context, account string, a credits.Allowance, n int64) (credits.Balance, error) {
	return f.grant(ctx, account, a, n)
}

// around returns a store whose Spend is spend, given a MemoryStore on the
// suite's clock to decide with, and whose Grant is the MemoryStore's.
func around(spend func(m *credits.MemoryStore, ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error)) func(func() time.Time) (credits.Store, error) {
	return func(now func() time.Time) (credits.Store, error) {
		m := credits.NewMemoryStore(credits.MemoryConfig{Now: now})
		return funcs{spend: func(ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
			return spend(m, ctx, account, a, cost)
		}, grant: m.Grant}, nil
	}
}

// renamed returns a MemoryStore that keeps account's balance under the
// name name(account).
func renamed(name func(string) string) func(func() time.Time) (credits.Store, error) {
	return func(now func() time.Time) (credits.Store, error) {
		m := credits.NewMemoryStore(credits.MemoryConfig{Now: now})
		return funcs{spend: func(ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
			return m.Spend(ctx, name(account), a, cost)
		}, grant: func(ctx context.Context, account string, a credits.Allowance, n int64) (credits.Balance, error) {
			return m.Grant(ctx, name(account), a, n)
		}}, nil
	}
}

// edited returns a MemoryStore whose Balances edit changes: those of its
// spends (with their outcome and cost) and of its grants (as a successful
// spend of 0).
func edited(edit func(b *credits.Balance, ok bool, cost int64)) func(func() time.Time) (credits.Store, error) {
	return func(now func() time.Time) (credits.Store, error) {
		m := credits.NewMemoryStore(credits.MemoryConfig{Now: now})
		return funcs{spend: func(ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
			b, ok, err := m.Spend(ctx, account, a, cost)
			if err == nil {
				edit(&b, ok, cost)
			}
			return b, ok, err
		}, grant: func(ctx context.Context, account string, a credits.Allowance, n int64) (credits.Balance, error) {
			b, err := m.Grant(ctx, account, a, n)
			if err == nil {
				edit(&b, true, 0)
			}
			return b, err
		}}, nil
	}
}

// unchecked returns a MemoryStore that answers a call with invalid
// arguments with the error invalid returns, given the error it should
// return (the MemoryStore's) and the MemoryStore.
func unchecked(invalid func(m *credits.MemoryStore, ctx context.Context, account string, a credits.Allowance, n int64, err error) error) func(func() time.Time) (credits.Store, error) {
	return func(now func() time.Time) (credits.Store, error) {
		m := credits.NewMemoryStore(credits.MemoryConfig{Now: now})
		return funcs{spend: func(ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
			b, ok, err := m.Spend(ctx, account, a, cost)
			if err != nil {
				err = invalid(m, ctx, account, a, cost, err)
			}
			return b, ok, err
		}, grant: func(ctx context.Context, account string, a credits.Allowance, n int64) (credits.Balance, error) {
			b, err := m.Grant(ctx, account, a, n)
			if err != nil {
				err = invalid(m, ctx, account, a, n, err)
			}
			return b, err
		}}, nil
	}
}
