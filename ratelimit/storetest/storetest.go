// Package storetest checks that a ratelimit.Store implementation behaves as
// the ratelimit package documents, in the manner of testing/slogtest.
//
// The checks use only behaviour observable without controlling time: they
// use windows of a day or more, so that no bucket refills noticeably while
// they run, and they use a fresh, random key prefix on each run so that a
// shared backend (Redis) does not need to be emptied first.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
)

// TestStore runs the conformance checks as subtests of t. newStore is
// called once per subtest and returns the store to check; stores may be
// shared between calls, since every subtest uses keys of its own.
func TestStore(t *testing.T, newStore func(t *testing.T) ratelimit.Store) {
	prefix := "storetest-" + rand.Text()[:10] + "-"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, &tester{t: t, s: newStore(t), prefix: prefix + c.name + "-"})
		})
	}
}

var cases = []struct {
	name string
	run  func(*testing.T, *tester)
}{
	{"Burst", testBurst},
	{"Costs", testCosts},
	{"CostAboveCapacity", testCostAboveCapacity},
	{"KeysIndependent", testKeysIndependent},
	{"MultiLimitRejectConsumesNone", testRejectConsumesNone},
	{"TightestLimit", testTightest},
	{"PolicyChange", testPolicyChange},
	{"InvalidArguments", testInvalid},
	{"ConcurrentExact", testConcurrent},
	{"ConcurrentMultiLimitExact", testConcurrentMulti},
}

const day = 24 * time.Hour

type tester struct {
	t      *testing.T
	s      ratelimit.Store
	prefix string
}

func (x *tester) key(name string) string { return x.prefix + name }

func (x *tester) take(key string, p ratelimit.Policy, n int) ratelimit.Decision {
	x.t.Helper()
	d, err := x.s.Take(context.Background(), x.key(key), p, n)
	if err != nil {
		x.t.Fatalf("Take(%q, %v, %d): unexpected error: %v", key, p, n, err)
	}
	return d
}

// want checks a decision's Allowed and Remaining and the invariants every
// decision satisfies.
func (x *tester) want(d ratelimit.Decision, p ratelimit.Policy, allowed bool, remaining int) {
	x.t.Helper()
	if d.Allowed != allowed || d.Remaining != remaining {
		x.t.Fatalf("got Allowed=%v Remaining=%d, want Allowed=%v Remaining=%d (decision %+v)",
			d.Allowed, d.Remaining, allowed, remaining, d)
	}
	x.sane(d, p)
}

func (x *tester) sane(d ratelimit.Decision, p ratelimit.Policy) {
	x.t.Helper()
	found := false
	for _, l := range p {
		found = found || l == d.Limit
	}
	if !found {
		x.t.Errorf("Decision.Limit %+v is not a limit of the policy %v", d.Limit, p)
	}
	if d.Remaining < 0 || d.Remaining > d.Limit.Capacity() {
		x.t.Errorf("Remaining %d outside [0, %d]", d.Remaining, d.Limit.Capacity())
	}
	if d.Allowed && d.RetryAfter != 0 {
		x.t.Errorf("allowed with RetryAfter %v, want 0", d.RetryAfter)
	}
	if !d.Allowed && d.RetryAfter <= 0 {
		x.t.Errorf("rejected with RetryAfter %v, want > 0", d.RetryAfter)
	}
	if d.ResetAfter < 0 || d.ResetAfter > d.Limit.Window*time.Duration(d.Limit.Capacity())/time.Duration(d.Limit.Requests)+time.Second {
		x.t.Errorf("ResetAfter %v outside [0, time to fill %v]", d.ResetAfter, d.Limit)
	}
	if len(p) > 1 && len(d.States) != 0 && len(d.States) != len(p) {
		x.t.Errorf("len(States) = %d, want 0 or %d", len(d.States), len(p))
	}
}

func testBurst(t *testing.T, x *tester) {
	p := ratelimit.Policy{ratelimit.PerDay(5)}
	for i := range 5 {
		d := x.take("k", p, 1)
		x.want(d, p, true, 4-i)
	}
	d := x.take("k", p, 1)
	x.want(d, p, false, 0)
	// 5/day: one token every 4.8h.
	if per := day / 5; d.RetryAfter > per || d.RetryAfter < per-time.Minute {
		t.Errorf("RetryAfter = %v, want about %v", d.RetryAfter, per)
	}
	if d.ResetAfter > day || d.ResetAfter < day-time.Minute {
		t.Errorf("ResetAfter = %v, want about %v", d.ResetAfter, day)
	}
}

func testCosts(t *testing.T, x *tester) {
	p := ratelimit.Policy{ratelimit.PerDay(10)}
	x.want(x.take("k", p, 4), p, true, 6)
	x.want(x.take("k", p, 4), p, true, 2)
	d := x.take("k", p, 3)
	x.want(d, p, false, 2)
	if per := day / 10; d.RetryAfter > per || d.RetryAfter < per-time.Minute {
		t.Errorf("RetryAfter for 1 missing token = %v, want about %v", d.RetryAfter, per)
	}
	x.want(x.take("k", p, 2), p, true, 0)
	x.want(x.take("k", p, 1), p, false, 0)
}

func testCostAboveCapacity(t *testing.T, x *tester) {
	p := ratelimit.Policy{ratelimit.PerDay(10).WithBurst(3)}
	d := x.take("k", p, 4)
	x.want(d, p, false, 3)
	if d.RetryAfter != ratelimit.Never {
		t.Errorf("RetryAfter = %v, want Never", d.RetryAfter)
	}
	// Nothing was consumed.
	x.want(x.take("k", p, 3), p, true, 0)
}

func testKeysIndependent(t *testing.T, x *tester) {
	p := ratelimit.Policy{ratelimit.PerDay(2)}
	x.want(x.take("a", p, 2), p, true, 0)
	x.want(x.take("a", p, 1), p, false, 0)
	x.want(x.take("b", p, 1), p, true, 1)
	x.want(x.take("b", p, 1), p, true, 0)
	x.want(x.take("c", p, 2), p, true, 0)
}

func testRejectConsumesNone(t *testing.T, x *tester) {
	week := ratelimit.Limit{Requests: 10, Window: 7 * day}
	dayL := ratelimit.PerDay(5)
	p := ratelimit.Policy{week, dayL}

	x.want(x.take("k", p, 4), p, true, 1) // week 6, day 1
	d := x.take("k", p, 3)                // day lacks 2: rejected, nothing taken
	x.want(d, p, false, 1)
	if d.Limit != dayL {
		t.Errorf("rejected by %v, want %v", d.Limit, dayL)
	}
	if len(d.States) == 2 && (d.States[0].Remaining != 6 || d.States[1].Remaining != 1) {
		t.Errorf("States remaining = %d, %d, want 6, 1", d.States[0].Remaining, d.States[1].Remaining)
	}
	d = x.take("k", p, 1) // week 5, day 0
	x.want(d, p, true, 0)
	if len(d.States) == 2 && d.States[0].Remaining != 5 {
		t.Errorf("week remaining = %d, want 5: a rejected request consumed tokens", d.States[0].Remaining)
	}
	x.want(x.take("k", p, 1), p, false, 0)
}

func testTightest(t *testing.T, x *tester) {
	a := ratelimit.Limit{Requests: 100, Window: 7 * day, Name: "week"}
	b := ratelimit.Limit{Requests: 3, Window: day, Name: "day"}
	p := ratelimit.Policy{a, b}
	d := x.take("k", p, 1)
	x.want(d, p, true, 2)
	if d.Limit != b {
		t.Errorf("tightest limit = %+v, want %+v", d.Limit, b)
	}
	if len(d.States) == 2 {
		if d.States[0].Limit != a || d.States[0].Remaining != 99 || d.States[1].Limit != b || d.States[1].Remaining != 2 {
			t.Errorf("States = %+v, want week 99, day 2", d.States)
		}
	}
}

func testPolicyChange(t *testing.T, x *tester) {
	pro := ratelimit.Policy{ratelimit.PerDay(100)}
	free := ratelimit.Policy{ratelimit.PerDay(5)}
	x.want(x.take("k", pro, 10), pro, true, 90)
	// A downgraded key is held to the new, smaller limit at once.
	for i := range 5 {
		x.want(x.take("k", free, 1), free, true, 4-i)
	}
	x.want(x.take("k", free, 1), free, false, 0)
}

func testInvalid(t *testing.T, x *tester) {
	ctx := context.Background()
	good := ratelimit.Policy{ratelimit.PerDay(5)}
	for _, c := range []struct {
		p ratelimit.Policy
		n int
	}{
		{good, 0},
		{good, -1},
		{nil, 1},
		{ratelimit.Policy{{}}, 1},
		{ratelimit.Policy{{Requests: 5, Window: -time.Second}}, 1},
		{ratelimit.Policy{{Requests: -5, Window: time.Second}}, 1},
	} {
		if d, err := x.s.Take(ctx, x.key("k"), c.p, c.n); err == nil {
			t.Errorf("Take(%v, n=%d) = %+v, nil; want an error", c.p, c.n, d)
		} else if !errors.Is(err, ratelimit.ErrInvalidLimit) && !errors.Is(err, ratelimit.ErrInvalidCost) {
			t.Errorf("Take(%v, n=%d) error %v does not wrap ErrInvalidLimit or ErrInvalidCost", c.p, c.n, err)
		}
	}
}

// hammer makes goroutines*perG concurrent Takes of one key and returns how
// many were allowed.
func hammer(t *testing.T, s ratelimit.Store, key string, p ratelimit.Policy, goroutines, perG int) int {
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range goroutines {
		wg.Go(func() {
			<-start
			for range perG {
				d, err := s.Take(context.Background(), key, p, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	return int(allowed.Load())
}

func testConcurrent(t *testing.T, x *tester) {
	const burst, goroutines, rounds = 50, 64, 20
	p := ratelimit.Policy{{Requests: 1, Window: day, Burst: burst}}
	for r := range rounds {
		if got := hammer(t, x.s, x.key(fmt.Sprint(r)), p, goroutines, 2); got != burst {
			t.Fatalf("round %d: %d goroutines allowed %d requests, want exactly %d", r, goroutines, got, burst)
		}
	}
}

func testConcurrentMulti(t *testing.T, x *tester) {
	const goroutines, rounds = 32, 10
	p := ratelimit.Policy{{Requests: 1, Window: day, Burst: 40}, {Requests: 1, Window: 7 * day, Burst: 25}}
	for r := range rounds {
		if got := hammer(t, x.s, x.key(fmt.Sprint(r)), p, goroutines, 2); got != 25 {
			t.Fatalf("round %d: allowed %d requests, want exactly 25", r, got)
		}
	}
}
