package creditstoretest_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatekey/gatekey/credits"
)

// A flaw is a way for a ledger to get refills wrong.
type flaw int

const (
	noFlaw          flaw = iota
	addAtRefill          // adds the allowance to what is left
	racyRefill           // checks the period, then refills and spends in a second step
	backwards            // refills on any change of period, back included
	grantsCarryOver      // refills to the allowance plus every grant
)

// ledger is a store in the manner of toyStore, with a flaw.
type ledger struct {
	now  func() time.Time
	flaw flaw

	inFlight atomic.Int64 // Spends under way (racyRefill)
	mu       sync.Mutex
	m        map[string]*entry
}

type entry struct {
	index, remaining int64
	granted          int64 // in the period (grantsCarryOver)
	seen             int64 // callers that saw the old period (racyRefill)
}

func flawed(f flaw) func(func() time.Time) (credits.Store, error) {
	return func(now func() time.Time) (credits.Store, error) { return &ledger{now: now, flaw: f}, nil }
}

func (l *ledger) Spend(_ context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
	if err := credits.CheckArgs(a, cost, false); err != nil {
		return credits.Balance{}, false, err
	}
	index := a.Period.Index(l.now())
	if l.flaw == racyRefill && cost <= a.Credits {
		// Check, then refill and spend without checking again. The window
		// between the two is held open while other callers are on their
		// way (or for a while, in case some are about to start) until one
		// of them has seen the same old period, so that the flaw shows
		// whenever spends are concurrent.
		l.inFlight.Add(1)
		defer l.inFlight.Add(-1)
		l.mu.Lock()
		e := l.entry(account, a, index)
		stale := e.index < index
		if stale {
			e.seen++
		}
		l.mu.Unlock()
		if stale {
			for i := 0; i < 1e6 && (i < 1e4 || l.inFlight.Load() > 1); i++ {
				l.mu.Lock()
				seen := e.seen
				l.mu.Unlock()
				if seen >= 2 {
					break
				}
				runtime.Gosched()
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			e.index, e.remaining, e.seen = index, a.Credits-cost, 0
			return l.balance(e, a), true, nil
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.refilled(account, a, index)
	if cost > e.remaining {
		return l.balance(e, a), false, nil
	}
	e.remaining -= cost
	return l.balance(e, a), true, nil
}

func (l *ledger) Grant(_ context.Context, account string, a credits.Allowance, n int64) (credits.Balance, error) {
	if err := credits.CheckArgs(a, n, true); err != nil {
		return credits.Balance{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.refilled(account, a, a.Period.Index(l.now()))
	e.remaining = min(e.remaining+n, 2*credits.MaxCredits)
	e.granted += n
	return l.balance(e, a), nil
}

// entry returns account's entry, created for the period index if new.
// l.mu is held.
func (l *ledger) entry(account string, a credits.Allowance, index int64) *entry {
	if l.m == nil {
		l.m = make(map[string]*entry)
	}
	k := account + "\x00" + a.Period.String()
	e := l.m[k]
	if e == nil {
		e = &entry{index: index, remaining: a.Credits}
		l.m[k] = e
	}
	return e
}

// refilled returns account's entry, refilled (with the ledger's flaw) if
// it is of a past period. l.mu is held.
func (l *ledger) refilled(account string, a credits.Allowance, index int64) *entry {
	e := l.entry(account, a, index)
	if e.index == index || e.index > index && l.flaw != backwards {
		return e
	}
	switch l.flaw {
	case addAtRefill:
		e.remaining += a.Credits
	case grantsCarryOver:
		e.remaining = a.Credits + e.granted
	default:
		e.remaining, e.granted = a.Credits, 0
	}
	e.index = index
	return e
}

func (l *ledger) balance(e *entry, a credits.Allowance) credits.Balance {
	return credits.Balance{Remaining: e.remaining, Allowance: a, ResetAt: a.Period.EndOf(e.index)}
}
