package limitstoretest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
)

// rules are the parts of the Store contract, in the order they are checked.
var rules = []rule{
	{"Burst", "a new key is allowed its burst at once, then rejected", checkBurst},
	{"Cost", "a request takes n tokens, and a rejected one takes none", checkCost},
	{"CostAboveCapacity", "a cost above the capacity is rejected with RetryAfter Never and takes nothing", checkCostAboveCapacity},
	{"KeysIndependent", "each key has buckets of its own", checkKeysIndependent},
	{"AllLimitsOrNone", "a request passes only if every limit has room, and a rejected one takes from none", checkAllOrNone},
	{"TightestLimit", "the Decision describes the tightest limit, by the rule of ratelimit.NewDecision", checkTightest},
	{"LimitAsPassed", "Decision.Limit and States[i].Limit are the policy's limits as passed, Name included", checkLimitAsPassed},
	{"PolicyChange", "a key is held to the policy passed now, whatever it was passed before", checkPolicyChange},
	{"InvalidArguments", "an invalid policy or cost is an error wrapping ratelimit.ErrInvalidLimit or ErrInvalidCost", checkInvalid},
	{"ConcurrentExact", "concurrent requests for one key together get exactly the burst", checkConcurrent},
	{"ConcurrentMultiLimitExact", "concurrent requests under two limits together get exactly the smaller burst", checkConcurrentMulti},
}

const (
	day  = 24 * time.Hour
	week = 7 * day
)

func checkBurst(c *checker) {
	p := ratelimit.Policy{ratelimit.PerDay(5)}
	per := day / 5
	for i := range 5 {
		d := c.take("k", p, 1)
		c.want(d, true, 4-i)
		c.near(fmt.Sprintf("request %d: ResetAfter", i+1), d.ResetAfter, time.Duration(i+1)*per)
	}
	d := c.take("k", p, 1)
	c.want(d, false, 0)
	c.near("request 6: RetryAfter", d.RetryAfter, per)
	c.near("request 6: ResetAfter", d.ResetAfter, day)
}

func checkCost(c *checker) {
	p := ratelimit.Policy{ratelimit.PerDay(10)}
	per := day / 10
	d := c.take("k", p, 4)
	c.want(d, true, 6)
	c.near("cost 4 of 10: ResetAfter", d.ResetAfter, 4*per)
	c.want(c.take("k", p, 4), true, 2)
	d = c.take("k", p, 3)
	c.want(d, false, 2)
	c.near("cost 3 with 2 left: RetryAfter", d.RetryAfter, per)
	c.near("cost 3 with 2 left: ResetAfter", d.ResetAfter, 8*per)
	d = c.take("k", p, 2) // the rejected request took nothing
	c.want(d, true, 0)
	c.near("cost 2 with 2 left: ResetAfter", d.ResetAfter, day)
	d = c.take("k", p, 1)
	c.want(d, false, 0)
	c.near("cost 1 with none left: RetryAfter", d.RetryAfter, per)
}

func checkCostAboveCapacity(c *checker) {
	p := ratelimit.Policy{ratelimit.PerDay(10).WithBurst(3)}
	d := c.take("k", p, 4)
	c.want(d, false, 3)
	c.near("cost 4 of capacity 3: RetryAfter", d.RetryAfter, ratelimit.Never)
	c.near("cost 4 of a full bucket: ResetAfter", d.ResetAfter, 0)
	c.want(c.take("k", p, 3), true, 0) // nothing was taken
	d = c.take("k", p, 4)
	c.want(d, false, 0)
	c.near("cost 4 of capacity 3, empty: RetryAfter", d.RetryAfter, ratelimit.Never)
}

func checkKeysIndependent(c *checker) {
	p := ratelimit.Policy{ratelimit.PerDay(2)}
	c.want(c.take("a", p, 2), true, 0)
	c.want(c.take("a", p, 1), false, 0)
	c.want(c.take("b", p, 1), true, 1)
	c.want(c.take("b", p, 1), true, 0)
	c.want(c.take("c", p, 2), true, 0)
	c.want(c.take("a", p, 1), false, 0)
}

// states checks the Remaining of each of d's States.
func (c *checker) states(what string, d ratelimit.Decision, remaining ...int) {
	if len(d.States) != len(remaining) {
		c.fatalf("%s: len(States) = %d, want %d (decision %+v)", what, len(d.States), len(remaining), d)
	}
	for i, r := range remaining {
		if d.States[i].Remaining != r {
			c.errorf("%s: States[%d].Remaining = %d, want %d (States %+v)", what, i, d.States[i].Remaining, r, d.States)
		}
	}
}

func checkAllOrNone(c *checker) {
	weekly := ratelimit.Limit{Requests: 10, Window: week}
	daily := ratelimit.PerDay(5)
	p := ratelimit.Policy{weekly, daily}
	d := c.take("k", p, 4)
	c.want(d, true, 1)
	c.states("cost 4", d, 6, 1)
	d = c.take("k", p, 3) // the daily limit lacks 2: rejected, nothing taken
	c.want(d, false, 1)
	c.states("cost 3, rejected by the second limit", d, 6, 1)
	c.near("cost 3 with 1 left: RetryAfter", d.RetryAfter, 2*day/5)
	d = c.take("k", p, 1)
	c.want(d, true, 0)
	c.states("cost 1 after a rejection", d, 5, 0)
	c.want(c.take("k", p, 1), false, 0)

	// The first limit rejects: a cost above its capacity, which the
	// second has room for; then the second limit alone rejects.
	small := ratelimit.Limit{Requests: 1, Window: week, Burst: 5}
	tiny := ratelimit.Limit{Requests: 1, Window: day, Burst: 3}
	p = ratelimit.Policy{small, tiny}
	d = c.take("k2", p, 4)
	c.want(d, false, 3)
	c.states("cost 4 above the second limit's capacity", d, 5, 3)
	c.want(c.take("k2", p, 2), true, 1)
	d = c.take("k2", p, 2)
	c.want(d, false, 1)
	c.states("cost 2, rejected by the second limit", d, 3, 1)
	d = c.take("k2", p, 1) // the first limit still has 3, so 2 after this
	c.want(d, true, 0)
	c.states("cost 1 after two rejections", d, 2, 0)
}

func checkTightest(c *checker) {
	for i, tc := range []struct {
		name      string
		p         ratelimit.Policy
		costs     []int // earlier requests, allowed
		n         int
		allowed   bool
		tightest  int // index in p
		remaining int
	}{
		{"allowed: fewest remaining", ratelimit.Policy{{Requests: 100, Window: week}, ratelimit.PerDay(3)},
			nil, 1, true, 1, 2},
		{"allowed: tie on remaining, longest ResetAfter", ratelimit.Policy{ratelimit.PerDay(5), {Requests: 5, Window: week}},
			nil, 1, true, 1, 4},
		{"rejected: longest RetryAfter, not fewest remaining",
			ratelimit.Policy{{Requests: 1, Window: day, Burst: 4}, {Requests: 24, Window: day, Burst: 3}},
			[]int{3}, 2, false, 0, 1},
		{"rejected: tie on RetryAfter (Never), fewest remaining",
			ratelimit.Policy{{Requests: 1, Window: week, Burst: 4}, {Requests: 1, Window: day, Burst: 3}},
			nil, 5, false, 1, 3},
	} {
		key := fmt.Sprint("case", i)
		for _, n := range tc.costs {
			if d := c.take(key, tc.p, n); !d.Allowed {
				c.fatalf("%s: setting up with cost %d: rejected (%+v)", tc.name, n, d)
			}
		}
		d := c.take(key, tc.p, tc.n)
		if d.Allowed != tc.allowed || d.Limit != tc.p[tc.tightest] || d.Remaining != tc.remaining {
			c.errorf("%s: got Allowed=%v Limit=%v Remaining=%d, want %v %v %d (decision %+v)",
				tc.name, d.Allowed, d.Limit, d.Remaining, tc.allowed, tc.p[tc.tightest], tc.remaining, d)
		}
	}
}

func checkLimitAsPassed(c *checker) {
	first := ratelimit.PerDay(5).WithName("first")
	second := first.WithName("second")
	for _, l := range []ratelimit.Limit{first, second, first.WithName("")} {
		// take checks that Limit is l itself; the name is no part of the
		// bucket's identity that the contract fixes, so Remaining is not
		// checked.
		c.take("k", ratelimit.Policy{l}, 1)
	}
	p := ratelimit.Policy{ratelimit.PerDay(5).WithName("daily"), ratelimit.Limit{Requests: 10, Window: week, Name: "weekly"}}
	if d := c.take("k2", p, 1); d.Limit != p[0] {
		c.errorf("Decision.Limit = %s, want %s", describe(d.Limit), describe(p[0]))
	}
}

func checkPolicyChange(c *checker) {
	pro := ratelimit.Policy{ratelimit.PerDay(100)}
	free := ratelimit.Policy{ratelimit.PerDay(5)}
	c.want(c.take("k", pro, 10), true, 90)
	// A downgraded key is held to the new, smaller limit at once.
	for i := range 5 {
		c.want(c.take("k", free, 1), true, 4-i)
	}
	c.want(c.take("k", free, 1), false, 0)
	// An upgraded key gets the larger limit at once.
	c.want(c.take("k2", free, 5), true, 0)
	c.want(c.take("k2", pro, 1), true, 99)
}

func checkInvalid(c *checker) {
	good := ratelimit.Policy{ratelimit.PerDay(5)}
	for _, tc := range []struct {
		p    ratelimit.Policy
		n    int
		want error
	}{
		{good, 0, ratelimit.ErrInvalidCost},
		{good, -1, ratelimit.ErrInvalidCost},
		{nil, 1, ratelimit.ErrInvalidLimit},
		{ratelimit.Policy{}, 1, ratelimit.ErrInvalidLimit},
		{ratelimit.Policy{{}}, 1, ratelimit.ErrInvalidLimit},
		{ratelimit.Policy{{Requests: 5, Window: -time.Second}}, 1, ratelimit.ErrInvalidLimit},
		{ratelimit.Policy{{Requests: -5, Window: time.Second}}, 1, ratelimit.ErrInvalidLimit},
		{ratelimit.Policy{{Requests: 5, Window: day, Burst: -1}}, 1, ratelimit.ErrInvalidLimit},
		{ratelimit.Policy{good[0], {}}, 1, ratelimit.ErrInvalidLimit},
	} {
		d, err := c.tryTake("k", tc.p, tc.n)
		switch {
		case err == nil:
			c.errorf("Take(%q, %d) = %+v, nil; want an error wrapping %v", tc.p, tc.n, d, tc.want)
		case !errors.Is(err, tc.want):
			c.errorf("Take(%q, %d) error %q does not wrap %v", tc.p, tc.n, err, tc.want)
		}
	}
}

// hammer makes goroutines*perG concurrent Takes of cost 1 for key and
// returns how many were allowed. It ends the check if a Take fails or
// panics.
func (c *checker) hammer(key string, p ratelimit.Policy, goroutines, perG int) int {
	var allowed atomic.Int64
	var (
		mu      sync.Mutex
		problem string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if problem == "" {
			problem = fmt.Sprintf(format, args...)
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range goroutines {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					fail("concurrent Take(%q, %q, 1) panicked: %v", key, p, v)
				}
			}()
			<-start
			for range perG {
				d, err := c.s.Take(c.ctx, c.key(key), p, 1)
				if err != nil {
					fail("concurrent Take(%q, %q, 1): unexpected error: %v", key, p, err)
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
	if problem != "" {
		c.fatalf("%s", problem)
	}
	return int(allowed.Load())
}

func checkConcurrent(c *checker) {
	const burst, goroutines, rounds = 50, 64, 20
	p := ratelimit.Policy{{Requests: 1, Window: day, Burst: burst}}
	for r := range rounds {
		if got := c.hammer(fmt.Sprint(r), p, goroutines, 2); got != burst {
			c.fatalf("round %d: %d goroutines, 2 requests each, allowed %d requests, want exactly %d", r, goroutines, got, burst)
		}
	}
}

func checkConcurrentMulti(c *checker) {
	const goroutines, rounds = 64, 10
	p := ratelimit.Policy{{Requests: 1, Window: day, Burst: 40}, {Requests: 1, Window: week, Burst: 25}}
	for r := range rounds {
		if got := c.hammer(fmt.Sprint(r), p, goroutines, 1); got != 25 {
			c.fatalf("round %d: %d goroutines allowed %d requests, want exactly 25", r, goroutines, got)
		}
	}
}
