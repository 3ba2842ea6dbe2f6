package limitstoretest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
	"github.com/gatekey/gatekey/ratelimit/limitstoretest"
)

func TestRunMemoryStore(t *testing.T) {
	limitstoretest.Run(t, func(*testing.T) ratelimit.Store { return ratelimit.NewMemoryStore(ratelimit.MemoryConfig{}) })
}

func TestTestStoreCorrectStores(t *testing.T) {
	frozen := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	shared := new(toyStore)
	for _, tc := range []struct {
		name     string
		newStore func() ratelimit.Store
	}{
		{"MemoryStore", func() ratelimit.Store { return ratelimit.NewMemoryStore(ratelimit.MemoryConfig{}) }},
		{"MemoryStore on a frozen clock", func() ratelimit.Store {
			return ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: func() time.Time { return frozen }})
		}},
		{"one store for every rule", func() ratelimit.Store { return shared }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := limitstoretest.TestStore(context.Background(), func() (ratelimit.Store, error) { return tc.newStore(), nil }); err != nil {
				t.Errorf("TestStore = %v, want nil", err)
			}
		})
	}
}

// storeFunc makes a function a ratelimit.Store.
type storeFunc func(ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error)

func (f storeFunc) Take(ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
	return f(ctx, key, p, n)
}

// wrap returns a new store that decides with a fresh MemoryStore and then
// changes what it decided with edit.
func wrap(edit func(d *ratelimit.Decision, p ratelimit.Policy, n int)) func() ratelimit.Store {
	return func() ratelimit.Store {
		m := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
		return storeFunc(func(ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
			d, err := m.Take(ctx, key, p, n)
			if err == nil {
				edit(&d, p, n)
			}
			return d, err
		})
	}
}

// around returns a new store whose Take is take, given a fresh MemoryStore
// to decide with.
func around(take func(m *ratelimit.MemoryStore, ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error)) func() ratelimit.Store {
	return func() ratelimit.Store {
		m := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
		return storeFunc(func(ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
			return take(m, ctx, key, p, n)
		})
	}
}

// eachState applies f to the Decision and to each of its States.
func eachState(d *ratelimit.Decision, f func(l *ratelimit.Limit, remaining *int, retry, reset *time.Duration)) {
	f(&d.Limit, &d.Remaining, &d.RetryAfter, &d.ResetAfter)
	for i := range d.States {
		st := &d.States[i]
		f(&st.Limit, &st.Remaining, &st.RetryAfter, &st.ResetAfter)
	}
}

// brokenStores are stores that each break the contract in one way, with the
// rules that must catch it (others may too).
var brokenStores = []struct {
	name     string
	newStore func() ratelimit.Store
	rules    []string
}{
	{"takes a token on a rejected request", around(func(m *ratelimit.MemoryStore, ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
		d, err := m.Take(ctx, key, p, n)
		if err == nil && !d.Allowed {
			m.Take(ctx, key, p, 1)
		}
		return d, err
	}), []string{"Cost"}},
	{"ignores the cost", around(func(m *ratelimit.MemoryStore, ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
		return m.Take(ctx, key, p, min(n, 1))
	}), []string{"Cost"}},
	{"reports Remaining before the request", wrap(func(d *ratelimit.Decision, p ratelimit.Policy, n int) {
		if d.Allowed {
			eachState(d, func(_ *ratelimit.Limit, remaining *int, _, _ *time.Duration) { *remaining += n })
		}
	}), []string{"Burst", "Cost"}},
	{"rejects with RetryAfter 0", wrap(func(d *ratelimit.Decision, p ratelimit.Policy, n int) {
		eachState(d, func(_ *ratelimit.Limit, _ *int, retry, _ *time.Duration) { *retry = 0 })
	}), []string{"Burst", "Cost"}},
	{"halves RetryAfter", wrap(func(d *ratelimit.Decision, p ratelimit.Policy, n int) {
		eachState(d, func(_ *ratelimit.Limit, _ *int, retry, _ *time.Duration) { *retry /= 2 })
	}), []string{"Burst", "Cost", "CostAboveCapacity"}},
	{"gives a finite RetryAfter for a cost above capacity", wrap(func(d *ratelimit.Decision, p ratelimit.Policy, n int) {
		eachState(d, func(_ *ratelimit.Limit, _ *int, retry, _ *time.Duration) {
			if *retry == ratelimit.Never {
				*retry = 24 * time.Hour
			}
		})
	}), []string{"CostAboveCapacity"}},
	{"reports the time to fill an empty bucket as ResetAfter", wrap(func(d *ratelimit.Decision, p ratelimit.Policy, n int) {
		eachState(d, func(l *ratelimit.Limit, _ *int, _, reset *time.Duration) {
			*reset = l.Window * time.Duration(l.Capacity()) / time.Duration(l.Requests)
		})
	}), []string{"Burst", "Cost"}},
	{"has no States for several limits", wrap(func(d *ratelimit.Decision, p ratelimit.Policy, n int) {
		d.States = nil
	}), []string{"AllLimitsOrNone", "TightestLimit"}},
	{"has States for a single limit", wrap(func(d *ratelimit.Decision, p ratelimit.Policy, n int) {
		if len(p) == 1 {
			d.States = []ratelimit.LimitState{{Limit: d.Limit, Remaining: d.Remaining, RetryAfter: d.RetryAfter, ResetAfter: d.ResetAfter}}
		}
	}), []string{"Burst", "Cost"}},
	{"has States out of policy order", wrap(func(d *ratelimit.Decision, p ratelimit.Policy, n int) {
		slices.Reverse(d.States)
	}), []string{"AllLimitsOrNone"}},
	{"describes the first limit, not the tightest", wrap(func(d *ratelimit.Decision, p ratelimit.Policy, n int) {
		if len(d.States) > 1 {
			d.Limit, d.Remaining, d.ResetAfter = d.States[0].Limit, d.States[0].Remaining, d.States[0].ResetAfter
		}
	}), []string{"TightestLimit", "AllLimitsOrNone"}},
	{"drops the limit's Name", wrap(func(d *ratelimit.Decision, p ratelimit.Policy, n int) {
		eachState(d, func(l *ratelimit.Limit, _ *int, _, _ *time.Duration) { l.Name = "" })
	}), []string{"LimitAsPassed"}},
	{"ignores the second limit", around(func(m *ratelimit.MemoryStore, ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
		d, err := m.Take(ctx, key, p[:min(len(p), 1)], n)
		if err != nil || len(p) == 1 {
			return d, err
		}
		states := []ratelimit.LimitState{{Limit: d.Limit, Remaining: d.Remaining, RetryAfter: d.RetryAfter, ResetAfter: d.ResetAfter}}
		for _, l := range p[1:] {
			states = append(states, ratelimit.LimitState{Limit: l, Remaining: l.Capacity()})
		}
		return ratelimit.NewDecision(d.Allowed, states), nil
	}), []string{"AllLimitsOrNone"}},
	{"takes from each limit that has room, not all or none", around(func(m *ratelimit.MemoryStore, ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
		if len(p) == 1 {
			return m.Take(ctx, key, p, n)
		}
		allowed := true
		var states []ratelimit.LimitState
		for i, l := range p {
			d, err := m.Take(ctx, fmt.Sprint(key, "#", i), ratelimit.Policy{l}, n)
			if err != nil {
				return d, err
			}
			allowed = allowed && d.Allowed
			states = append(states, ratelimit.LimitState{Limit: d.Limit, Remaining: d.Remaining, RetryAfter: d.RetryAfter, ResetAfter: d.ResetAfter})
		}
		return ratelimit.NewDecision(allowed, states), nil
	}), []string{"AllLimitsOrNone"}},
	{"is not exact under contention (check, then take)", around(func(m *ratelimit.MemoryStore, ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
		// A look that takes nothing (a cost no bucket holds), then the take:
		// the classic read-modify-write race, without a data race.
		peek, err := m.Take(ctx, key, p, ratelimit.MaxTokens+1)
		if err != nil {
			return peek, err
		}
		room := peek.Remaining >= n
		for _, st := range peek.States {
			room = room && st.Remaining >= n
		}
		runtime.Gosched()
		d, err := m.Take(ctx, key, p, n)
		if err == nil && room && !d.Allowed {
			d = ratelimit.Decision{Allowed: true, Limit: d.Limit, ResetAfter: d.ResetAfter}
			if len(p) > 1 {
				d.States = make([]ratelimit.LimitState, len(p))
				for i, l := range p {
					d.States[i] = ratelimit.LimitState{Limit: l}
				}
			}
		}
		return d, err
	}), []string{"ConcurrentExact", "ConcurrentMultiLimitExact"}},
	{"shares buckets between keys", around(func(m *ratelimit.MemoryStore, ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
		return m.Take(ctx, "", p, n)
	}), []string{"KeysIndependent"}},
	{"keeps a key's first policy", func() ratelimit.Store {
		var mu sync.Mutex
		first := map[string]ratelimit.Policy{}
		m := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
		return storeFunc(func(ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
			if p.Validate() == nil {
				mu.Lock()
				if _, ok := first[key]; !ok {
					first[key] = p
				}
				p = first[key]
				mu.Unlock()
			}
			return m.Take(ctx, key, p, n)
		})
	}, []string{"PolicyChange"}},
	{"returns an error for a valid policy of several limits", around(func(m *ratelimit.MemoryStore, ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
		if len(p) > 1 {
			return ratelimit.Decision{}, fmt.Errorf("broken: %w: multi-limit policies are not supported", ratelimit.ErrUnavailable)
		}
		return m.Take(ctx, key, p, n)
	}), []string{"AllLimitsOrNone", "TightestLimit", "LimitAsPassed", "ConcurrentMultiLimitExact"}},
	{"accepts invalid arguments", around(func(m *ratelimit.MemoryStore, ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
		if p.Validate() != nil {
			return ratelimit.Decision{Allowed: true}, nil
		}
		return m.Take(ctx, key, p, max(n, 1))
	}), []string{"InvalidArguments"}},
	{"reports invalid arguments with errors of its own", around(func(m *ratelimit.MemoryStore, ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
		if p.Validate() != nil || n < 1 {
			return ratelimit.Decision{}, errors.New("broken: bad request")
		}
		return m.Take(ctx, key, p, n)
	}), []string{"InvalidArguments"}},
	{"panics on a cost above 1", around(func(m *ratelimit.MemoryStore, ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
		if n > 1 {
			panic("broken: cost above 1")
		}
		return m.Take(ctx, key, p, n)
	}), []string{"Cost", "CostAboveCapacity"}},
	{"panics under load (at its 100th call)", func() ratelimit.Store {
		var calls atomic.Int64
		m := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
		return storeFunc(func(ctx context.Context, key string, p ratelimit.Policy, n int) (ratelimit.Decision, error) {
			if calls.Add(1) == 100 {
				panic("broken: 100th call")
			}
			return m.Take(ctx, key, p, n)
		})
	}, []string{"ConcurrentExact", "ConcurrentMultiLimitExact"}},
	{"is nil", func() ratelimit.Store { return nil }, []string{"Burst", "ConcurrentExact"}},
}

// TestBrokenStores runs TestStore against each broken store: it must return
// an error naming at least the rules the store breaks, one error per broken
// rule, and it must not have been surprised (panicked) itself.
func TestBrokenStores(t *testing.T) {
	for _, tc := range brokenStores {
		t.Run(tc.name, func(t *testing.T) {
			err := limitstoretest.TestStore(context.Background(), func() (ratelimit.Store, error) { return tc.newStore(), nil })
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
				rule, _, ok := strings.Cut(strings.TrimPrefix(msg, "limitstoretest: "), " (")
				if !strings.HasPrefix(msg, "limitstoretest: ") || !ok || strings.Contains(msg, "\n") {
					t.Errorf("error %q: want one line, \"limitstoretest: <rule> (<what it says>): <what was wrong>\"", msg)
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
