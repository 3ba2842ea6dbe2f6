package creditstoretest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gatekey/gatekey/credits"
)

func checkFresh(c *checker) {
	a := credits.PerMonth(100)
	b, ok := c.spend("a", a, 0)
	c.want("reading a new account", b, ok, true, 100)
	if want := credits.Month.End(c.now()); !b.ResetAt.Equal(want) {
		c.errorf("ResetAt = %v, want the end of the month, %v", b.ResetAt, want)
	}
	b, ok = c.spend("a", a, 0)
	c.want("reading it again", b, ok, true, 100)
	d := credits.PerDay(7)
	b, ok = c.spend("d", d, 0)
	c.want("reading a new account with a daily allowance", b, ok, true, 7)
	if want := credits.Day.End(c.now()); !b.ResetAt.Equal(want) {
		c.errorf("ResetAt of a daily allowance = %v, want the end of the day, %v", b.ResetAt, want)
	}
}

func checkSpend(c *checker) {
	a := credits.PerMonth(10)
	for i, step := range []struct {
		cost      int64
		ok        bool
		remaining int64
	}{
		{1, true, 9}, {3, true, 6}, {7, false, 6}, {6, true, 0}, {1, false, 0}, {0, true, 0},
	} {
		b, ok := c.spend("a", a, step.cost)
		c.want(fmt.Sprintf("spend %d (step %d)", step.cost, i), b, ok, step.ok, step.remaining)
	}
	b, ok := c.spend("big", a, 11) // more than the allowance: refused, nothing kept
	c.want("a cost above the allowance", b, ok, false, 10)
	b, ok = c.spend("big", a, 10)
	c.want("the whole allowance, after a refused spend", b, ok, true, 0)
}

func checkAccounts(c *checker) {
	a := credits.PerDay(5)
	long := strings.Repeat("long", 256)
	names := []string{"acct", "ACCT", "Acct", "acct ", "äcct", long, "ac/ct:{x}", long + "er"}
	for i, n := range names {
		b, ok := c.spend(n, a, int64(i%5)+1)
		c.want(fmt.Sprintf("first spend of account %.12q", n), b, ok, true, 5-(int64(i%5)+1))
	}
	for i, n := range names {
		b, ok := c.spend(n, a, 0)
		c.want(fmt.Sprintf("account %.12q afterwards (another account's spend leaked into it?)", n), b, ok, true, 5-(int64(i%5)+1))
	}
}

func checkRefill(c *checker) {
	m := credits.PerMonth(10)
	d := credits.PerDay(3)
	c.spend("m", m, 8)
	c.spend("d", d, 3)
	c.advance(59*time.Second + 999*time.Millisecond) // the last moment of January
	b, _ := c.spend("m", m, 0)
	c.want("the month's last moment", b, true, true, 2)
	c.advance(time.Millisecond) // February 1st, 00:00 UTC
	b, ok := c.spend("m", m, 0)
	c.want("the first moment of the next month (the balance is replaced, not added to)", b, ok, true, 10)
	if want := time.Date(2030, time.March, 1, 0, 0, 0, 0, time.UTC); !b.ResetAt.Equal(want) {
		c.errorf("ResetAt after the refill = %v, want %v", b.ResetAt, want)
	}
	b, ok = c.spend("d", d, 1)
	c.want("a daily allowance on the next day", b, ok, true, 2)
	if want := time.Date(2030, time.February, 2, 0, 0, 0, 0, time.UTC); !b.ResetAt.Equal(want) {
		c.errorf("ResetAt of a daily allowance on February 1st = %v, want %v", b.ResetAt, want)
	}
	c.advance(12 * time.Hour)
	b, ok = c.spend("d", d, 0)
	c.want("the same day, later", b, ok, true, 2)
	c.advance(12 * time.Hour)
	b, ok = c.spend("d", d, 0)
	c.want("the day after", b, ok, true, 3)
	c.set(time.Date(2030, time.April, 15, 0, 0, 0, 0, time.UTC)) // months without a call
	b, ok = c.spend("m", m, 4)
	c.want("two months later", b, ok, true, 6)
}

func checkGrant(c *checker) {
	a := credits.PerMonth(10)
	c.spend("a", a, 10)
	b := c.grant("a", a, 5)
	if b.Remaining != 5 {
		c.errorf("a grant of 5 to an empty balance: Remaining %d, want 5", b.Remaining)
	}
	b, ok := c.spend("a", a, 5)
	c.want("spending the grant", b, ok, true, 0)
	b = c.grant("new", a, 3) // a grant to an account not seen yet: on top of the allowance
	if b.Remaining != 13 {
		c.errorf("a grant of 3 to a new account: Remaining %d, want 13", b.Remaining)
	}
	c.advance(time.Minute) // the next month
	b, ok = c.spend("new", a, 0)
	c.want("a granted balance after the period ends (grants do not carry over)", b, ok, true, 10)
}

func checkPlanChange(c *checker) {
	free, pro := credits.PerMonth(10), credits.PerMonth(100)
	c.spend("a", free, 4)
	b, ok := c.spend("a", pro, 1)
	c.want("a spend under another allowance mid-period (the balance stays)", b, ok, true, 5)

	// An account's daily and monthly balances are apart: moved to the
	// other kind of allowance and back, it finds its balance as it was.
	month, day := credits.PerMonth(10), credits.PerDay(3)
	c.spend("b", month, 6)
	b, ok = c.spend("b", day, 1)
	c.want("a daily allowance for an account with a monthly balance", b, ok, true, 2)
	b, ok = c.spend("b", month, 0)
	c.want("the monthly allowance again (its balance as it was)", b, ok, true, 4)

	c.advance(time.Minute)
	b, ok = c.spend("a", pro, 1)
	c.want("the next period, under the new allowance", b, ok, true, 99)
}

func checkClockBehind(c *checker) {
	a := credits.PerMonth(10)
	c.spend("a", a, 7)
	c.advance(time.Minute) // February: refilled
	b, ok := c.spend("a", a, 2)
	c.want("after the refill", b, ok, true, 8)
	c.set(start) // another replica, its clock a minute behind: still January there
	b, ok = c.spend("a", a, 1)
	if ok && b.Remaining == 2 {
		c.fatalf("a clock behind the period took the balance back to January's (Remaining 2)")
	}
	c.want("a clock a minute behind (spends from the newer period, never refills it again)", b, ok, true, 7)
	c.advance(time.Minute)
	b, ok = c.spend("a", a, 0)
	c.want("the clock caught up", b, ok, true, 7)
}

// concurrently runs f n times, from n goroutines released together.
func concurrently(n int, f func(i int)) {
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			f(i)
		})
	}
	close(gate)
	wg.Wait()
}

// spendMany spends cost from name n times at once and counts successes.
func (c *checker) spendMany(name string, a credits.Allowance, cost int64, n int) int {
	var mu sync.Mutex
	ok := 0
	concurrently(n, func(int) {
		var allowed bool
		err := recovered(func() (err error) {
			_, allowed, err = c.s.Spend(c.ctx, c.account(name), a, cost)
			return err
		})
		if err != nil {
			c.errorf("concurrent Spend(%q, %v, %d): %v", name, a, cost, err)
			return
		}
		if allowed {
			mu.Lock()
			ok++
			mu.Unlock()
		}
	})
	return ok
}

// recovered runs f, turning a panic into an error, for the goroutines of
// the concurrent rules (where a panic would end the whole test binary).
func recovered(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panicked: %v", v)
		}
	}()
	return f()
}

func checkExact(c *checker) {
	for _, tc := range []struct {
		credits, cost int64
		n             int
	}{{100, 1, 300}, {100, 3, 200}, {7, 7, 50}} {
		name := fmt.Sprintf("exact-%d-%d", tc.credits, tc.cost)
		a := credits.PerMonth(tc.credits)
		if got, want := c.spendMany(name, a, tc.cost, tc.n), int(tc.credits/tc.cost); got != want {
			c.errorf("%d concurrent spends of %d from %d: %d succeeded, want exactly %d", tc.n, tc.cost, tc.credits, got, want)
		}
		b, _ := c.spend(name, a, 0)
		if want := tc.credits % tc.cost; b.Remaining != want {
			c.errorf("after the concurrent spends of %d from %d: Remaining %d, want %d", tc.cost, tc.credits, b.Remaining, want)
		}
	}

	// No grant is lost under contention either.
	a := credits.PerMonth(10)
	concurrently(100, func(int) {
		err := recovered(func() error {
			_, err := c.s.Grant(c.ctx, c.account("exact-grants"), a, 3)
			return err
		})
		if err != nil {
			c.errorf("concurrent Grant(%q, %v, 3): %v", "exact-grants", a, err)
		}
	})
	if b, _ := c.spend("exact-grants", a, 0); b.Remaining != 310 {
		c.errorf("after 100 concurrent grants of 3 to an allowance of 10: Remaining %d, want 310", b.Remaining)
	}
}

func checkRefillOnce(c *checker) {
	a := credits.PerMonth(50)
	c.spend("a", a, 50) // January: empty
	c.advance(time.Minute)
	if got := c.spendMany("a", a, 1, 200); got != 50 {
		c.errorf("200 concurrent spends just after the boundary: %d succeeded, want 50 (one refill)", got)
	}
}

func checkInvalid(c *checker) {
	valid := credits.PerMonth(10)
	for _, tc := range []struct {
		what  string
		a     credits.Allowance
		n     int64
		grant bool
		want  error
	}{
		{"the zero allowance", credits.Allowance{}, 1, false, credits.ErrInvalidAllowance},
		{"0 credits a month", credits.PerMonth(0), 1, false, credits.ErrInvalidAllowance},
		{"a weekly period", credits.Allowance{Credits: 5, Period: 9}, 1, false, credits.ErrInvalidAllowance},
		{"a negative cost", valid, -1, false, credits.ErrInvalidCost},
		{"a cost above MaxCredits", valid, credits.MaxCredits + 1, false, credits.ErrInvalidCost},
		{"a grant of 0", valid, 0, true, credits.ErrInvalidCost},
		{"a negative grant", valid, -5, true, credits.ErrInvalidCost},
	} {
		var err error
		c.try(tc.what, func() {
			if tc.grant {
				_, err = c.s.Grant(c.ctx, c.account("x"), tc.a, tc.n)
			} else {
				_, _, err = c.s.Spend(c.ctx, c.account("x"), tc.a, tc.n)
			}
		})
		if !errors.Is(err, tc.want) {
			c.errorf("%s: error %v, want one wrapping %v", tc.what, err, tc.want)
		}
	}
	b, ok := c.spend("x", valid, 0)
	c.want("the account after the invalid calls", b, ok, true, 10)
}
