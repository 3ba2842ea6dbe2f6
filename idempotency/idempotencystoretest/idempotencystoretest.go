package idempotencystoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/idempotency"
)

// TestStore checks the stores made by newStore against every rule, and
// returns nil if they follow them all. Otherwise it returns an error
// joining one error per broken rule, "idempotencystoretest: Rule: what
// was wrong". newStore is called once per rule, with the clock the store
// must read; an error from it fails that rule. ctx is given to every
// call, and once it is done TestStore stops and says so.
func TestStore(ctx context.Context, newStore func(now func() time.Time) (idempotency.Store, error)) error {
	prefix := newPrefix()
	var errs []error
	for _, r := range rules {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("idempotencystoretest: stopped before %s: %w", r.name, err))
			break
		}
		if msgs := r.run(ctx, newStore, prefix); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("idempotencystoretest: %s: %s", r.name, strings.Join(msgs, "; ")))
		}
	}
	return errors.Join(errs...)
}

// Run checks the stores made by newStore against every rule, each in a
// subtest of t named after the rule. newStore is called once per rule
// with the subtest's T and the clock the store must read.
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) idempotency.Store) {
	prefix := newPrefix()
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			msgs := r.run(t.Context(), func(now func() time.Time) (idempotency.Store, error) { return newStore(t, now), nil }, prefix)
			for _, m := range msgs {
				t.Error(m)
			}
		})
	}
}

func newPrefix() string { return "idemstoretest-" + rand.Text()[:10] + "-" }

type rule struct {
	name  string
	check func(*checker)
}

var rules = []rule{
	{"Claim", checkClaim},
	{"Replay", checkReplay},
	{"Answers", checkAnswers},
	{"Scope", checkScope},
	{"Release", checkRelease},
	{"Tokens", checkTokens},
	{"Lock", checkLock},
	{"Retention", checkRetention},
	{"Exact", checkExact},
}

// start is where the clock starts.
var start = time.Date(2030, time.March, 1, 12, 0, 0, 0, time.UTC)

const maxMessages = 5

// A checker runs one rule against one store and collects failures.
type checker struct {
	ctx    context.Context
	s      idempotency.Store
	prefix string
	clock  atomic.Int64 // UnixNano
	token  atomic.Uint64
	mu     sync.Mutex
	msgs   []string
}

type stop struct{}

func (r rule) run(ctx context.Context, newStore func(now func() time.Time) (idempotency.Store, error), prefix string) (msgs []string) {
	c := &checker{ctx: ctx, prefix: prefix + r.name + "-"}
	c.clock.Store(start.UnixNano())
	c.token.Store(uint64(start.UnixNano())) // distinct from other runs' tokens
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
func (c *checker) advance(d time.Duration) { c.clock.Add(int64(d)) }
func (c *checker) account(n string) string { return c.prefix + n }
func (c *checker) newToken() uint64        { return c.token.Add(1) }

func (c *checker) errorf(f string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m := fmt.Sprintf(f, a...); {
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

// begin calls Begin, which must not fail.
func (c *checker) begin(account, key string, fp idempotency.Fingerprint, token uint64, lock time.Duration) (idempotency.Record, bool) {
	var rec idempotency.Record
	var ok bool
	var err error
	what := fmt.Sprintf("Begin(%q, %q, token %d, lock %v)", account, key, token, lock)
	c.try(what, func() { rec, ok, err = c.s.Begin(c.ctx, c.account(account), key, fp, token, lock) })
	if err != nil {
		c.fatalf("%s: unexpected error: %v", what, err)
	}
	if ok && (rec.Answer != nil || rec.Fingerprint != (idempotency.Fingerprint{})) {
		c.errorf("%s claimed the key but returned a Record %+v, want the zero Record", what, rec)
	}
	return rec, ok
}

func (c *checker) finish(account, key string, token uint64, a *idempotency.Answer, retain time.Duration) bool {
	var ok bool
	var err error
	what := fmt.Sprintf("Finish(%q, %q, token %d)", account, key, token)
	c.try(what, func() { ok, err = c.s.Finish(c.ctx, c.account(account), key, token, a, retain) })
	if err != nil {
		c.fatalf("%s: unexpected error: %v", what, err)
	}
	return ok
}

func (c *checker) release(account, key string, token uint64) {
	var err error
	what := fmt.Sprintf("Release(%q, %q, token %d)", account, key, token)
	c.try(what, func() { err = c.s.Release(c.ctx, c.account(account), key, token) })
	if err != nil {
		c.fatalf("%s: unexpected error: %v", what, err)
	}
}

// claim claims a fresh key, which must succeed, and returns its token.
func (c *checker) claim(account, key string, fp idempotency.Fingerprint, lock time.Duration) uint64 {
	tok := c.newToken()
	if _, ok := c.begin(account, key, fp, tok, lock); !ok {
		c.fatalf("Begin(%q, %q) of a key never used did not claim it", account, key)
	}
	return tok
}

// wantHeld checks that key is held, with fingerprint fp and, if a is not
// nil, answer a; nil a means in flight.
func (c *checker) wantHeld(what, account, key string, fp idempotency.Fingerprint, a *idempotency.Answer) {
	other := fingerprint("another request")
	for _, try := range []idempotency.Fingerprint{fp, other} {
		rec, ok := c.begin(account, key, try, c.newToken(), time.Minute)
		switch {
		case ok:
			c.fatalf("%s: Begin(%q, %q) claimed a key that is held", what, account, key)
		case rec.Fingerprint != fp:
			c.errorf("%s: Begin(%q, %q): Record.Fingerprint = %v, want the claiming request's %v", what, account, key, rec.Fingerprint, fp)
		case a == nil && rec.Answer != nil:
			c.errorf("%s: Begin(%q, %q): Record.Answer = %+v, want nil (in flight)", what, account, key, rec.Answer)
		case a != nil && rec.Answer == nil:
			c.errorf("%s: Begin(%q, %q): Record.Answer = nil, want the kept answer", what, account, key)
		case a != nil:
			if diff := diffAnswer(rec.Answer, a); diff != "" {
				c.errorf("%s: Begin(%q, %q): the kept answer differs: %s", what, account, key, diff)
			}
		}
	}
}

// wantFree checks that key can be claimed, and claims it.
func (c *checker) wantFree(what, account, key string) uint64 {
	tok := c.newToken()
	if rec, ok := c.begin(account, key, fingerprint("a new request"), tok, time.Minute); !ok {
		c.fatalf("%s: Begin(%q, %q) did not claim the key (Record %+v), want it free", what, account, key, rec)
	}
	return tok
}

func fingerprint(s string) idempotency.Fingerprint {
	var f idempotency.Fingerprint
	copy(f[:], s)
	f[31] = byte(len(s))
	return f
}

func diffAnswer(got, want *idempotency.Answer) string {
	var d []string
	if got.Status != want.Status {
		d = append(d, fmt.Sprintf("Status %d, want %d", got.Status, want.Status))
	}
	if !bytes.Equal(got.Body, want.Body) {
		d = append(d, fmt.Sprintf("Body of %d bytes (%.40q), want %d bytes (%.40q)", len(got.Body), got.Body, len(want.Body), want.Body))
	}
	if !headersEqual(got.Header, want.Header) {
		d = append(d, fmt.Sprintf("Header %v, want %v", got.Header, want.Header))
	}
	return strings.Join(d, ", ")
}

func headersEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || len(va) != len(vb) {
			return false
		}
		for i := range va {
			if va[i] != vb[i] {
				return false
			}
		}
	}
	return true
}
