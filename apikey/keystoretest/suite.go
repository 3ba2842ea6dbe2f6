package keystoretest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// TestStore checks every rule of the suite against stores made by
// newStore, one new, empty store per rule, and reports the rules they
// break. It needs no testing.T, so a program can check a deployed store.
//
// It returns nil if no rule is broken. Otherwise the error joins (see
// errors.Join) one error per broken rule, whose message has the form
// "keystoretest: Rule: problem; problem…", so that each line of
// err.Error() names one rule. A store that panics breaks the rule that
// was running, and TestStore goes on with the next one.
//
// ctx bounds the whole run: every store call is made with ctx or a context
// derived from it. If ctx is done, or newStore fails or returns nil,
// TestStore stops and the error says so, after the rules already found
// broken. TestStore does not release the stores: a caller whose stores
// hold resources (a database, a schema) keeps track of them and releases
// them when TestStore returns.
func TestStore(ctx context.Context, newStore func() (apikey.ManagedStore, error)) error {
	var errs []error
	stop := func(err error) error { return errors.Join(append(errs, err)...) }
	for _, r := range rules {
		if err := ctx.Err(); err != nil {
			return stop(fmt.Errorf("keystoretest: stopped before %s: %w", r.name, err))
		}
		s, err := callNewStore(newStore)
		if err != nil {
			return stop(fmt.Errorf("keystoretest: stopped before %s: newStore: %w", r.name, err))
		}
		problems := r.run(ctx, s)
		if err := ctx.Err(); err != nil { // the rule's findings mean nothing then
			return stop(fmt.Errorf("keystoretest: stopped during %s: %w", r.name, err))
		}
		if len(problems) > 0 {
			msg := strings.ReplaceAll(strings.Join(problems, "; "), "\n", " ") // one line per rule
			errs = append(errs, fmt.Errorf("keystoretest: %s: %s", r.name, msg))
		}
	}
	return errors.Join(errs...)
}

// callNewStore calls newStore, turning a panic or a nil store into an error.
func callNewStore(newStore func() (apikey.ManagedStore, error)) (s apikey.ManagedStore, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panicked%s: %v", panicSite(), p)
		}
	}()
	s, err = newStore()
	if err == nil && s == nil {
		err = errors.New("returned a nil store and no error")
	}
	return s, err
}

// Run checks every rule of the suite as a subtest of t named after the
// rule, so that one rule can be run alone with go test -run
// 'TestName/Rule'. newStore is called once per rule, in the subtest, and
// must return a new, empty store; it may register cleanups with the
// subtest's t, and fail or skip it. A store that panics fails the subtest
// of the rule that was running, not the test binary.
func Run(t *testing.T, newStore func(*testing.T) apikey.ManagedStore) {
	t.Helper()
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned a nil store")
			}
			for _, p := range r.run(t.Context(), s) {
				t.Error(p)
			}
		})
	}
}

// A rule is one requirement of the contract, checked on a new, empty store.
type rule struct {
	name  string // the subtest name and the prefix of its error; listed in the package doc
	check func(c *checker)
}

// run checks r on s and returns the problems found, never panicking.
func (r rule) run(ctx context.Context, s apikey.ManagedStore) []string {
	c := &checker{ctx: ctx}
	c.s = guarded{s: s, c: c}
	c.protect(func() {
		if n := c.count(s); n > 0 {
			c.fatalf("newStore returned a store holding records (ListKeys returned %d), want an empty store", n)
		}
		r.check(c)
	})
	return c.result()
}

// checker collects the problems a rule finds. Its methods are safe for
// concurrent use, except fatalf and the helpers that call it, which stop
// the rule and so belong to the goroutine running it.
type checker struct {
	ctx context.Context
	s   apikey.ManagedStore // the store under test, guarded

	mu       sync.Mutex
	problems []string        // distinct, at most maxProblems
	seen     map[string]bool // every problem found
}

// maxProblems bounds the problems reported per rule: a store broken
// everywhere would otherwise repeat one flaw in every check.
const maxProblems = 8

// errStop is the panic value with which fatalf ends a rule.
var errStop = errors.New("keystoretest: rule stopped")

// errorf records a problem, unless it was recorded already.
func (c *checker) errorf(format string, args ...any) {
	p := fmt.Sprintf(format, args...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[p] {
		return
	}
	if c.seen == nil {
		c.seen = make(map[string]bool)
	}
	c.seen[p] = true
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, p)
	}
}

// result returns the problems found.
func (c *checker) result() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if more := len(c.seen) - len(c.problems); more > 0 {
		return append(c.problems, fmt.Sprintf("and %d more problems", more))
	}
	return c.problems
}

// fatalf records a problem and ends the rule.
func (c *checker) fatalf(format string, args ...any) {
	c.errorf(format, args...)
	panic(errStop)
}

// protect runs f, recording any panic but the one of fatalf as a problem.
// Goroutines that a rule starts run their body with it.
func (c *checker) protect(f func()) {
	defer func() {
		if p := recover(); p != nil && p != errStop {
			c.errorf("the suite panicked%s (a bug in keystoretest): %v", panicSite(), p)
		}
	}()
	f()
}

// count returns the number of records in s, or 0 if it cannot tell.
func (c *checker) count(s apikey.ManagedStore) (n int) {
	defer func() { _ = recover() }() // the rules will report it
	ks, err := s.ListKeys(c.ctx, apikey.ListFilter{})
	if err != nil {
		return 0
	}
	return len(ks)
}

// panicSite returns " at file:line (function)" for the function that
// panicked, when called from a deferred function during the panic, or "".
func panicSite() string {
	pc := make([]uintptr, 32)
	frames := runtime.CallersFrames(pc[:runtime.Callers(2, pc)])
	seenPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			seenPanic = true
		case seenPanic && !strings.HasPrefix(f.Function, "runtime."):
			file := f.File
			if i := strings.LastIndexByte(file, '/'); i >= 0 {
				file = file[i+1:]
			}
			return fmt.Sprintf(" at %s:%d (%s)", file, f.Line, f.Function)
		}
		if !more {
			return ""
		}
	}
}

// guarded is the store under test as the rules see it: a panic in one of
// its methods ends the rule with a problem naming the method.
type guarded struct {
	s apikey.ManagedStore
	c *checker
}

// recoverStore is deferred by every method of guarded.
func (g guarded) recoverStore(method string) {
	if p := recover(); p != nil {
		g.c.errorf("%s panicked%s: %v", method, panicSite(), p)
		panic(errStop)
	}
}

func (g guarded) LookupKey(ctx context.Context, id string) (*apikey.Key, error) {
	defer g.recoverStore("LookupKey")
	return g.s.LookupKey(ctx, id)
}

func (g guarded) CreateKey(ctx context.Context, k *apikey.Key) error {
	defer g.recoverStore("CreateKey")
	return g.s.CreateKey(ctx, k)
}

func (g guarded) UpdateKey(ctx context.Context, k *apikey.Key) error {
	defer g.recoverStore("UpdateKey")
	return g.s.UpdateKey(ctx, k)
}

func (g guarded) ListKeys(ctx context.Context, f apikey.ListFilter) ([]*apikey.Key, error) {
	defer g.recoverStore("ListKeys")
	return g.s.ListKeys(ctx, f)
}

func (g guarded) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	defer g.recoverStore("TouchKeys")
	return g.s.TouchKeys(ctx, lastUsed)
}
