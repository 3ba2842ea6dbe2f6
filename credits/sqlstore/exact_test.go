package sqlstore_test

import (
	"database/sql"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/credits/sqlstore"
	"github.com/gatekey/gatekey/internal/testserver"
)

// Exactness under contention, across connection pools: the figures the
// issue asks for.
const (
	goroutines = 1000
	allowance  = 250
)

// replicaDatabases are the databases with two pools of their own on one
// database, as two replicas would have.
var replicaDatabases = []struct {
	name    string
	d       sqlstore.Dialect
	open    func(testing.TB) [2]*sql.DB
	require func(testing.TB)
}{
	{"sqlite", sqlstore.SQLite, func(t testing.TB) [2]*sql.DB {
		dsn := sqliteDSN(filepath.Join(t.TempDir(), "credits.db"))
		return [2]*sql.DB{openSQLite(t, dsn), openSQLite(t, dsn)}
	}, func(testing.TB) {}},
	{"sqlite-memory", sqlstore.SQLite, func(t testing.TB) [2]*sql.DB {
		dsn := memoryDSN()
		return [2]*sql.DB{openSQLite(t, dsn), openSQLite(t, dsn)}
	}, func(testing.TB) {}},
	{"postgres", sqlstore.Postgres, func(t testing.TB) [2]*sql.DB {
		pools := postgresPools(t, 2)
		return [2]*sql.DB{pools[0], pools[1]}
	}, testserver.RequirePostgres},
}

// eachReplicaDatabase runs f as a subtest per database, with a new, empty
// one and a function that returns a Store on each of its two pools,
// reading the clocks given.
func eachReplicaDatabase(t *testing.T, f func(t *testing.T, replicas func(now0, now1 func() time.Time) [2]*sqlstore.Store)) {
	for _, dc := range replicaDatabases {
		t.Run(dc.name, func(t *testing.T) {
			dc.require(t)
			dbs := dc.open(t)
			if err := sqlstore.ApplySchema(t.Context(), dbs[0], dc.d); err != nil {
				t.Fatal(err)
			}
			f(t, func(now0, now1 func() time.Time) [2]*sqlstore.Store {
				var rs [2]*sqlstore.Store
				for i, now := range []func() time.Time{now0, now1} {
					s, err := sqlstore.New(dbs[i], dc.d, sqlstore.Config{Now: now, Timeout: 60 * time.Second})
					if err != nil {
						t.Fatal(err)
					}
					rs[i] = s
				}
				return rs
			})
		})
	}
}

// spendAll spends 1 from account n times at once, from n goroutines
// released together that take turns between the replicas, and returns
// the Balances of the spends that succeeded.
func spendAll(t *testing.T, rs [2]*sqlstore.Store, account string, a credits.Allowance, n int) []credits.Balance {
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

// TestReplicasExact: 1000 goroutines on two pools spend 1 from an
// allowance of 250: exactly 250 succeed.
func TestReplicasExact(t *testing.T) {
	mid := &clock{t: time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)}
	eachReplicaDatabase(t, func(t *testing.T, replicas func(now0, now1 func() time.Time) [2]*sqlstore.Store) {
		rs := replicas(mid.Now, mid.Now)
		a := credits.PerMonth(allowance)
		won := spendAll(t, rs, "acct", a, goroutines)
		if len(won) != allowance {
			t.Errorf("%d spends of 1 from %d on 2 pools: %d succeeded, want exactly %d", goroutines, allowance, len(won), allowance)
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
				t.Errorf("pool %d afterwards: Remaining %d, %v; want 0", i, b.Remaining, err)
			}
		}
		t.Logf("%d goroutines, 2 pools, allowance %d: %d succeeded", goroutines, allowance, len(won))
	})
}

// TestReplicasRefillOnce crosses the end of January under load, on fake
// clocks: the balance is refilled exactly once, whatever the concurrency
// and whichever pool gets there first.
func TestReplicasRefillOnce(t *testing.T) {
	jan := time.Date(2030, 1, 31, 23, 59, 59, 999999999, time.UTC) // the last nanosecond
	feb := jan.Add(time.Nanosecond)
	a := credits.PerMonth(allowance)
	eachReplicaDatabase(t, func(t *testing.T, replicas func(now0, now1 func() time.Time) [2]*sqlstore.Store) {
		t.Run("after the boundary", func(t *testing.T) {
			c := &clock{t: jan}
			rs := replicas(c.Now, c.Now)
			if won := spendAll(t, rs, "after", a, goroutines); len(won) != allowance {
				t.Fatalf("January: %d succeeded, want %d", len(won), allowance)
			}
			c.Set(feb)
			if won := spendAll(t, rs, "after", a, goroutines); len(won) != allowance {
				t.Errorf("February, %d goroutines at once: %d succeeded, want exactly %d (one refill)", goroutines, len(won), allowance)
			}
		})

		// One pool's clock is still in January, the other's in February:
		// the first spend on the February clock refills, and the January
		// clock then spends from February too, never refilling it again.
		t.Run("replicas either side", func(t *testing.T) {
			behind, ahead := &clock{t: jan}, &clock{t: feb}
			if won := spendAll(t, replicas(behind.Now, behind.Now), "either", a, allowance); len(won) != allowance {
				t.Fatalf("January: %d succeeded, want %d", len(won), allowance)
			}
			won := spendAll(t, replicas(behind.Now, ahead.Now), "either", a, goroutines)
			if len(won) != allowance {
				t.Errorf("%d goroutines on pools either side of the boundary: %d succeeded, want exactly %d", goroutines, len(won), allowance)
			}
			for _, b := range won {
				if want := credits.Month.End(feb); !b.ResetAt.Equal(want) {
					t.Fatalf("a successful spend with ResetAt %v, want %v: it spent from January", b.ResetAt, want)
				}
			}
		})

		// The clock crosses the boundary while the spends are under way:
		// the spends decided in January take at most its allowance, and
		// those in February exactly one allowance.
		t.Run("during the load", func(t *testing.T) {
			now := flipAfter(goroutines, jan, feb)
			won := spendAll(t, replicas(now, now), "during", a, 2*goroutines)
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
