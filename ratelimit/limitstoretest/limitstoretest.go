package limitstoretest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
)

// TestStore checks the stores made by newStore against every rule and
// returns nil if they follow them all. Otherwise it returns an error joining
// (as errors.Join does) one error per broken rule, each of the form
// "limitstoretest: <rule> (<what the rule says>): <what was wrong>".
// newStore is called once per rule; an error from it fails that rule. ctx
// is given to every Take; once it is done, TestStore stops and returns its
// error with what it found so far.
//
// TestStore does not need a testing.T, so it can check a store outside go
// test; within a test, Run reports the same failures as subtests. Its
// signature is that of keystoretest.TestStore, apikey's suite.
func TestStore(ctx context.Context, newStore func() (ratelimit.Store, error)) error {
	prefix := newPrefix()
	var errs []error
	for _, r := range rules {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("limitstoretest: stopped before %s: %w", r.name, err))
			break
		}
		if msgs := r.run(ctx, newStore, prefix); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("limitstoretest: %s (%s): %s", r.name, r.doc, strings.Join(msgs, "; ")))
		}
	}
	return errors.Join(errs...)
}

// Run checks the stores made by newStore against every rule, each in a
// subtest of t named after the rule. newStore is called once per rule with
// the subtest's T, so it may call t.Cleanup or t.Fatal.
func Run(t *testing.T, newStore func(*testing.T) ratelimit.Store) {
	prefix := newPrefix()
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			s := newStore(t)
			msgs := r.run(t.Context(), func() (ratelimit.Store, error) { return s, nil }, prefix)
			if len(msgs) > 0 {
				t.Errorf("broken rule: %s", r.doc)
			}
			for _, m := range msgs {
				t.Error(m)
			}
		})
	}
}

// newPrefix returns the start of every key of one run: fresh, so that a
// shared backend need not be emptied between runs.
func newPrefix() string { return "limitstoretest-" + rand.Text()[:10] + "-" }

// A rule is one part of the Store contract and the check of it.
type rule struct {
	name  string // CamelCase, for subtests and keys
	doc   string // the rule, in a few words
	check func(*checker)
}

// maxMessages bounds the failures reported for one rule.
const maxMessages = 5

// run checks r against a store from newStore and returns the failures.
// It recovers from any panic: a store's (see checker.try) or, should a
// Decision surprise the checks, theirs.
func (r rule) run(ctx context.Context, newStore func() (ratelimit.Store, error), prefix string) (msgs []string) {
	c := &checker{ctx: ctx, prefix: prefix + r.name + "-", start: time.Now()}
	defer func() {
		switch v := recover().(type) {
		case nil, stop:
		default:
			c.errorf("the check panicked: %v", v)
		}
		msgs = c.msgs
	}()
	c.s = c.newStore(newStore)
	r.check(c)
	return c.msgs
}

// stop is the panic with which checker.fatalf ends a rule's check.
type stop struct{}

// A checker runs one rule's check against a store and collects failures.
type checker struct {
	ctx    context.Context // of every Take
	s      ratelimit.Store
	prefix string    // of every key the rule uses
	start  time.Time // when the rule began, for the tolerance of durations
	msgs   []string
}

// newStore calls newStore, reporting an error, a panic or a nil store.
func (c *checker) newStore(newStore func() (ratelimit.Store, error)) ratelimit.Store {
	var s ratelimit.Store
	var err error
	c.try("newStore", func() { s, err = newStore() })
	switch {
	case err != nil:
		c.fatalf("newStore: %v", err)
	case s == nil:
		c.fatalf("newStore returned nil")
	}
	return s
}

// errorf reports a failure; the check goes on.
func (c *checker) errorf(format string, args ...any) {
	switch {
	case len(c.msgs) < maxMessages:
		c.msgs = append(c.msgs, fmt.Sprintf(format, args...))
	case len(c.msgs) == maxMessages:
		c.msgs = append(c.msgs, "(further failures not shown)")
	}
}

// fatalf reports a failure and ends the rule's check.
func (c *checker) fatalf(format string, args ...any) {
	c.errorf(format, args...)
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

// key returns the full key for the rule's key name.
func (c *checker) key(name string) string { return c.prefix + name }

// tryTake calls Take, turning a panic into a failure that ends the check.
func (c *checker) tryTake(key string, p ratelimit.Policy, n int) (d ratelimit.Decision, err error) {
	c.try(fmt.Sprintf("Take(%q, %q, %d)", key, p, n), func() {
		d, err = c.s.Take(c.ctx, c.key(key), p, n)
	})
	return d, err
}

// take calls Take for a valid request, which must not fail, and checks the
// Decision against the invariants every Decision satisfies.
func (c *checker) take(key string, p ratelimit.Policy, n int) ratelimit.Decision {
	d, err := c.tryTake(key, p, n)
	if err != nil {
		c.fatalf("Take(%q, %q, %d): unexpected error: %v", key, p, n, err)
	}
	c.invariants(d, p, n)
	return d
}

// want checks a decision's Allowed and Remaining, and ends the check if
// they are wrong, since what follows would only repeat the failure.
func (c *checker) want(d ratelimit.Decision, allowed bool, remaining int) {
	if d.Allowed != allowed || d.Remaining != remaining {
		c.fatalf("got Allowed=%v Remaining=%d, want Allowed=%v Remaining=%d (decision %+v)",
			d.Allowed, d.Remaining, allowed, remaining, d)
	}
}

// slack is the rounding allowed in durations, on top of the time the rule
// has taken so far.
const slack = time.Second

// near checks a duration that would be want if no time had passed since
// the rule began: it may be shorter by the time that has passed since, and
// either way by slack for rounding.
func (c *checker) near(what string, got, want time.Duration) {
	if want == ratelimit.Never || got == ratelimit.Never {
		if got != want {
			c.errorf("%s = %v, want %v", what, got, want)
		}
		return
	}
	if lo := want - time.Since(c.start) - slack; got < lo || got > want+slack {
		c.errorf("%s = %v, want %v (at least %v, given the time the check has taken)", what, got, want, max(lo, 0))
	}
}

// invariants checks what every Decision for a Take of n tokens under p
// satisfies, whatever the buckets hold.
func (c *checker) invariants(d ratelimit.Decision, p ratelimit.Policy, n int) {
	if !d.Allowed && d.RetryAfter <= 0 {
		c.errorf("rejected with RetryAfter %v, want more than 0", d.RetryAfter)
	}
	if len(p) == 1 {
		if d.States != nil {
			c.errorf("a single-limit policy's Decision has States %+v, want nil", d.States)
		}
		if d.Limit != p[0] {
			c.errorf("Decision.Limit = %s, want the policy's limit as passed, %s", describe(d.Limit), describe(p[0]))
		}
		c.state("Decision", p[0], ratelimit.LimitState{Remaining: d.Remaining,
			RetryAfter: d.RetryAfter, ResetAfter: d.ResetAfter}, d.Allowed, n)
		return
	}
	if len(d.States) != len(p) {
		c.errorf("policy of %d limits: len(States) = %d, want one state per limit (%+v)", len(p), len(d.States), d)
		return
	}
	for i, st := range d.States {
		if st.Limit != p[i] {
			c.errorf("States[%d].Limit = %s, want the policy's limit %d as passed, %s", i, describe(st.Limit), i, describe(p[i]))
		}
		c.state(fmt.Sprintf("States[%d]", i), p[i], st, d.Allowed, n)
	}
	want := ratelimit.NewDecision(d.Allowed, d.States)
	if d.Limit != want.Limit || d.Remaining != want.Remaining || d.RetryAfter != want.RetryAfter || d.ResetAfter != want.ResetAfter {
		c.errorf("Decision Limit=%v Remaining=%d RetryAfter=%v ResetAfter=%v; from its States, ratelimit.NewDecision says %v, %d, %v, %v",
			d.Limit, d.Remaining, d.RetryAfter, d.ResetAfter, want.Limit, want.Remaining, want.RetryAfter, want.ResetAfter)
	}
}

// state checks the state of limit l after a Take of n tokens.
func (c *checker) state(what string, l ratelimit.Limit, st ratelimit.LimitState, allowed bool, n int) {
	size := l.Capacity()
	if st.Remaining < 0 || st.Remaining > size {
		c.errorf("%s: Remaining %d outside [0, %d]", what, st.Remaining, size)
	}
	full := fillTime(l, size)
	if st.ResetAfter < 0 || st.ResetAfter > full+slack {
		c.errorf("%s: ResetAfter %v outside [0, %v], the time %v takes to fill", what, st.ResetAfter, full, l)
	}
	switch {
	case allowed && st.RetryAfter != 0:
		c.errorf("%s: allowed with RetryAfter %v, want 0", what, st.RetryAfter)
	case allowed && st.Remaining > size-n:
		c.errorf("%s: allowed a cost of %d with %d of %d tokens remaining", what, n, st.Remaining, size)
	case allowed:
	case n > size:
		if st.RetryAfter != ratelimit.Never {
			c.errorf("%s: cost %d above capacity %d: RetryAfter %v, want ratelimit.Never", what, n, size, st.RetryAfter)
		}
	case st.RetryAfter == ratelimit.Never:
		c.errorf("%s: cost %d within capacity %d: RetryAfter Never", what, n, size)
	case st.RetryAfter < 0 || st.RetryAfter > fillTime(l, n)+slack:
		c.errorf("%s: RetryAfter %v outside [0, %v], the time %v takes to refill %d", what, st.RetryAfter, fillTime(l, n), l, n)
	case st.RetryAfter == 0 && st.Remaining < n:
		c.errorf("%s: rejected with %d tokens for a cost of %d, but RetryAfter 0", what, st.Remaining, n)
	case st.RetryAfter > 0 && st.Remaining >= n:
		c.errorf("%s: has room for the cost (%d of %d), but RetryAfter %v, want 0", what, n, st.Remaining, st.RetryAfter)
	}
}

// describe formats l with its Name, which Limit.String leaves out.
func describe(l ratelimit.Limit) string {
	if l.Name == "" {
		return l.String() + " (no Name)"
	}
	return fmt.Sprintf("%v (Name %q)", l, l.Name)
}

// fillTime returns the time l takes to refill k tokens.
func fillTime(l ratelimit.Limit, k int) time.Duration {
	return l.Window * time.Duration(k) / time.Duration(l.Requests)
}
