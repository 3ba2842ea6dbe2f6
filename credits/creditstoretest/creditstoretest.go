package creditstoretest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/credits"
)

// TestStore checks the stores made by newStore against every rule, and
// returns nil if they follow them all. Otherwise it returns an error
// joining one error per broken rule, "creditstoretest: Rule: what was
// wrong". newStore is called once per rule, with the clock the store must
// read; an error from it fails that rule. ctx is given to every call, and
// once it is done TestStore stops and says so.
func TestStore(ctx context.Context, newStore func(now func() time.Time) (credits.Store, error)) error {
	prefix := newPrefix()
	var errs []error
	for _, r := range rules {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("creditstoretest: stopped before %s: %w", r.name, err))
			break
		}
		if msgs := r.run(ctx, newStore, prefix); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("creditstoretest: %s: %s", r.name, strings.Join(msgs, "; ")))
		}
	}
	return errors.Join(errs...)
}

// Run checks the stores made by newStore against every rule, each in a
// subtest of t named after the rule. newStore is called once per rule
// with the subtest's T and the clock the store must read.
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) credits.Store) {
	prefix := newPrefix()
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			msgs := r.run(t.Context(), func(now func() time.Time) (credits.Store, error) { return newStore(t, now), nil }, prefix)
			for _, m := range msgs {
				t.Error(m)
			}
		})
	}
}

func newPrefix() string { return "creditstoretest-" + rand.Text()[:10] + "-" }

type rule struct {
	name  string
	check func(*checker)
}

var rules = []rule{
	{"Fresh", checkFresh},
	{"Spend", checkSpend},
	{"Accounts", checkAccounts},
	{"Refill", checkRefill},
	{"Grant", checkGrant},
	{"PlanChange", checkPlanChange},
	{"ClockBehind", checkClockBehind},
	{"Exact", checkExact},
	{"RefillOnce", checkRefillOnce},
	{"InvalidArguments", checkInvalid},
}

// start is where the clock starts: the last minute of a month.
var start = time.Date(2030, time.January, 31, 23, 59, 0, 0, time.UTC)

const maxMessages = 5

// A checker runs one rule against one store and collects failures.
type checker struct {
	ctx    context.Context
	s      credits.Store
	prefix string
	clock  atomic.Int64 // UnixNano
	mu     sync.Mutex
	msgs   []string
}

type stop struct{}

func (r rule) run(ctx context.Context, newStore func(now func() time.Time) (credits.Store, error), prefix string) (msgs []string) {
	c := &checker{ctx: ctx, prefix: prefix + r.name + "-"}
	c.clock.Store(start.UnixNano())
	defer func() {
		switch v := recover().(type) {
		case nil, stop:
		default:
			c.errorf("the check panicked: %v", v)
		}
		msgs = c.msgs
	}()
	var err error
	c.try("newStore", func() { c.s, err = newStore(c.now) })
	switch {
	case err != nil:
		c.fatalf("newStore: %v", err)
	case c.s == nil:
		c.fatalf("newStore returned nil")
	}
	r.check(c)
	return c.msgs
}

func (c *checker) now() time.Time          { return time.Unix(0, c.clock.Load()).UTC() }
func (c *checker) set(t time.Time)         { c.clock.Store(t.UnixNano()) }
func (c *checker) advance(d time.Duration) { c.clock.Add(int64(d)) }
func (c *checker) account(n string) string { return c.prefix + n }
func (c *checker) errorf(f string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(fmt.Sprintf(f, a...))
}

func (c *checker) add(m string) {
	switch {
	case len(c.msgs) < maxMessages:
		c.msgs = append(c.msgs, m)
	case len(c.msgs) == maxMessages:
		c.msgs = append(c.msgs, "(further failures not shown)")
	}
}

func (c *checker) fatalf(f string, a ...any) {
	c.errorf(f, a...)
	panic(stop{})
}

// try calls f, turning a panic into a failure that ends the check.
func (c *checker) try(what string, f func()) {
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(stop); ok {
				panic(v)
			}
			c.fatalf("%s panicked: %v", what, v)
		}
	}()
	f()
}

// spend calls Spend for a valid request, which must not fail.
func (c *checker) spend(name string, a credits.Allowance, cost int64) (credits.Balance, bool) {
	var b credits.Balance
	var ok bool
	var err error
	c.try(fmt.Sprintf("Spend(%q, %v, %d)", name, a, cost), func() { b, ok, err = c.s.Spend(c.ctx, c.account(name), a, cost) })
	if err != nil {
		c.fatalf("Spend(%q, %v, %d): unexpected error: %v", name, a, cost, err)
	}
	c.checkBalance("Spend", b, a)
	return b, ok
}

func (c *checker) grant(name string, a credits.Allowance, n int64) credits.Balance {
	var b credits.Balance
	var err error
	c.try(fmt.Sprintf("Grant(%q, %v, %d)", name, a, n), func() { b, err = c.s.Grant(c.ctx, c.account(name), a, n) })
	if err != nil {
		c.fatalf("Grant(%q, %v, %d): unexpected error: %v", name, a, n, err)
	}
	c.checkBalance("Grant", b, a)
	return b
}

// checkBalance checks what every Balance satisfies.
func (c *checker) checkBalance(what string, b credits.Balance, a credits.Allowance) {
	if b.Allowance != a {
		c.errorf("%s: Balance.Allowance = %v, want the allowance passed, %v", what, b.Allowance, a)
	}
	if b.Remaining < 0 {
		c.errorf("%s: Balance.Remaining = %d, below 0", what, b.Remaining)
	}
	// The clock may be behind the balance's period (ClockBehind), never ahead of it.
	if now := c.now(); !b.ResetAt.After(now) {
		c.errorf("%s: Balance.ResetAt = %v, not after the current time %v", what, b.ResetAt, now)
	}
}

// want checks a spend's outcome and the balance after it.
func (c *checker) want(what string, b credits.Balance, ok, wantOK bool, remaining int64) {
	if ok != wantOK || b.Remaining != remaining {
		c.fatalf("%s: ok=%v Remaining=%d, want ok=%v Remaining=%d", what, ok, b.Remaining, wantOK, remaining)
	}
}
