package redisstore_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/credits/redisstore"
	"github.com/gatekey/gatekey/internal/testserver"
)

// Exactness under contention, across replicas: the figures the issue
// asks for.
const (
	goroutines = 1000
	allowance  = 250
)

// replicas returns two Stores with the given prefix, each with its own
// client and connection pool as separate replicas would have, on one
// Redis, reading the clocks given (nil: the Redis clock).
func replicas(t *testing.T, prefix string, now ...func() time.Time) [2]*redisstore.Store {
	addr := testserver.SharedRedis(t).Addr()
	var rs [2]*redisstore.Store
	for i := range rs {
		rs[i] = newStore(t, newClient(t, addr), redisstore.Config{Prefix: prefix, Timeout: 10 * time.Second, Now: now[i]})
	}
	return rs
}

// spendAll spends cost from account n times at once, from n goroutines
// released together that take turns between the replicas, and returns
// the Balances of the spends that succeeded.
func spendAll(t *testing.T, rs [2]*redisstore.Store, account string, a credits.Allowance, n int) []credits.Balance {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		won  []credits.Balance
		gate = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-gate
			b, ok, err := rs[i%2].Spend(t.Context(), account, a, 1)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				won = append(won, b)
				mu.Unlock()
			}
		})
	}
	close(gate)
	wg.Wait()
	return won
}

// TestReplicasExact: 1000 goroutines on two replicas spend 1 from an
// allowance of 250: exactly 250 succeed, on the Redis clock and on a fake
// one.
func TestReplicasExact(t *testing.T) {
	mid := &clock{t: time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)}
	for _, tc := range []struct {
		name string
		now  func() time.Time
	}{{"redis clock", nil}, {"fake clock", mid.Now}} {
		t.Run(tc.name, func(t *testing.T) {
			rs := replicas(t, uniquePrefix(), tc.now, tc.now)
			a := credits.PerMonth(allowance)
			before := time.Now()
			won := spendAll(t, rs, "acct", a, goroutines)
			if tc.now == nil && credits.Month.Index(before) != credits.Month.Index(time.Now()) {
				t.Skip("the month changed during the test; the figures span two periods")
			}
			if len(won) != allowance {
				t.Errorf("%d spends of 1 from %d on 2 replicas: %d succeeded, want exactly %d", goroutines, allowance, len(won), allowance)
			}
			seen := make(map[int64]bool)
			for _, b := range won {
				if seen[b.Remaining] {
					t.Errorf("two successful spends both left %d: one balance spent twice", b.Remaining)
				}
				seen[b.Remaining] = true
			}
			for i, s := range rs {
				if b, _, err := s.Spend(t.Context(), "acct", a, 0); err != nil || b.Remaining != 0 {
					t.Errorf("replica %d afterwards: Remaining %d, %v; want 0", i, b.Remaining, err)
				}
			}
			t.Logf("%d goroutines, 2 replicas, allowance %d: %d succeeded", goroutines, allowance, len(won))
		})
	}
}

// TestReplicasRefillOnce crosses the end of January under load, on fake
// clocks: the balance is refilled exactly once, whatever the concurrency
// and whichever replica gets there first.
func TestReplicasRefillOnce(t *testing.T) {
	jan := time.Date(2030, 1, 31, 23, 59, 59, 999999000, time.UTC) // the last microsecond
	feb := jan.Add(time.Microsecond)
	a := credits.PerMonth(allowance)

	t.Run("after the boundary", func(t *testing.T) {
		c := &clock{t: jan}
		rs := replicas(t, uniquePrefix(), c.Now, c.Now)
		if won := spendAll(t, rs, "acct", a, goroutines); len(won) != allowance {
			t.Fatalf("January: %d succeeded, want %d", len(won), allowance)
		}
		c.Set(feb)
		if won := spendAll(t, rs, "acct", a, goroutines); len(won) != allowance {
			t.Errorf("February, %d goroutines at once: %d succeeded, want exactly %d (one refill)", goroutines, len(won), allowance)
		}
	})

	// One replica's clock is still in January, the other's in February:
	// the first spend on the February clock refills, and the January
	// clock then spends from February too, never refilling it again.
	t.Run("replicas either side", func(t *testing.T) {
		behind, ahead := &clock{t: jan}, &clock{t: feb}
		prefix := uniquePrefix()
		if won := spendAll(t, replicas(t, prefix, behind.Now, behind.Now), "acct", a, allowance); len(won) != allowance {
			t.Fatalf("January: %d succeeded, want %d", len(won), allowance)
		}
		rs := replicas(t, prefix, behind.Now, ahead.Now)
		won := spendAll(t, rs, "acct", a, goroutines)
		if len(won) != allowance {
			t.Errorf("%d goroutines on replicas either side of the boundary: %d succeeded, want exactly %d", goroutines, len(won), allowance)
		}
		for _, b := range won {
			if want := credits.Month.End(feb); !b.ResetAt.Equal(want) {
				t.Fatalf("a successful spend with ResetAt %v, want %v: it spent from January", b.ResetAt, want)
			}
		}
	})

	// The clock crosses the boundary while the spends are under way: the
	// spends decided in January take at most its allowance, and those in
	// February exactly one allowance.
	t.Run("during the load", func(t *testing.T) {
		now := flipAfter(goroutines, jan, feb)
		rs := replicas(t, uniquePrefix(), now, now)
		won := spendAll(t, rs, "acct", a, 2*goroutines)
		var inJan, inFeb int
		for _, b := range won {
			switch {
			case b.ResetAt.Equal(credits.Month.End(jan)):
				inJan++
			case b.ResetAt.Equal(credits.Month.End(feb)):
				inFeb++
			default:
				t.Fatalf("ResetAt %v", b.ResetAt)
			}
		}
		if inJan > allowance || inFeb != allowance {
			t.Errorf("%d spends across the boundary: %d in January (want at most %d), %d in February (want exactly %d)",
				2*goroutines, inJan, allowance, inFeb, allowance)
		}
		t.Logf("%d in January, %d in February", inJan, inFeb)
	})
}

// flipAfter returns a clock that reads before for its first n calls and
// after from then on.
func flipAfter(n int64, before, after time.Time) func() time.Time {
	var calls atomic.Int64
	return func() time.Time {
		if calls.Add(1) <= n {
			return before
		}
		return after
	}
}
