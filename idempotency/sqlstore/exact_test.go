package sqlstore_test

import (
	"database/sql"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/idempotency/sqlstore"
	"github.com/gatekey/gatekey/internal/testserver"
)

// Exactness under contention, across connection pools.
const (
	goroutines = 50
	rounds     = 3
)

// replicaDatabases are the databases of the replica tests: open returns
// two connection pools of their own (as two replicas would have) on one
// new, empty database.
var replicaDatabases = []struct {
	name    string
	d       sqlstore.Dialect
	open    func(testing.TB) [2]*sql.DB
	require func(testing.TB)
}{
	{"sqlite", sqlstore.SQLite, func(t testing.TB) [2]*sql.DB {
		dsn := sqliteDSN(filepath.Join(t.TempDir(), "idem.db"))
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
// reading the clock given (nil: the default, the database's clock on
// PostgreSQL).
func eachReplicaDatabase(t *testing.T, f func(t *testing.T, replicas func(now func() time.Time) [2]*sqlstore.Store)) {
	for _, dc := range replicaDatabases {
		t.Run(dc.name, func(t *testing.T) {
			dc.require(t)
			dbs := dc.open(t)
			f(t, func(now func() time.Time) [2]*sqlstore.Store {
				var rs [2]*sqlstore.Store
				for i := range rs {
					rs[i] = newStore(t, dbs[i], dc.d, sqlstore.Config{Now: now, Timeout: 60 * time.Second})
				}
				return rs
			})
		})
	}
}

// beginAll calls Begin for one key n times at once, from n goroutines
// released together that take turns between the replicas, and returns
// the tokens that claimed it, with the replica of each, and how many saw
// it held by fp.
func beginAll(t *testing.T, rs [2]*sqlstore.Store, key string, fp idempotency.Fingerprint, n int, tokens *atomic.Uint64) (winners map[uint64]int, held int) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		gate = make(chan struct{})
	)
	winners = make(map[uint64]int)
	for i := range n {
		wg.Go(func() {
			<-gate
			tok := tokens.Add(1)
			rec, ok, err := rs[i%2].Begin(t.Context(), "acct", key, fp, tok, time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case ok:
				winners[tok] = i % 2
			case rec.Fingerprint == fp && rec.Answer == nil:
				held++
			default:
				t.Errorf("Begin saw %+v, want the claim in flight", rec)
			}
		})
	}
	close(gate)
	wg.Wait()
	return winners, held
}

// TestReplicasExact: two replicas on one database behave as one. In each
// of three rounds, 50 concurrent Begins for a new key across both pools
// claim it exactly once; the winner's Finish, on its replica, is replayed
// by the other; and a claim released on one is free on the other.
func TestReplicasExact(t *testing.T) {
	fake := newClock()
	eachReplicaDatabase(t, func(t *testing.T, replicas func(now func() time.Time) [2]*sqlstore.Store) {
		for _, clk := range []struct {
			name string
			now  func() time.Time
		}{{"default clock", nil}, {"fake clock", fake.Now}} {
			t.Run(clk.name, func(t *testing.T) {
				rs := replicas(clk.now)
				var tokens atomic.Uint64
				ctx := t.Context()
				for round := range rounds {
					key := clk.name + strconv.Itoa(round)
					fp := fingerprint("POST /v1/monitors " + key)
					winners, held := beginAll(t, rs, key, fp, goroutines, &tokens)
					if len(winners) != 1 || held != goroutines-1 {
						t.Fatalf("round %d: %d Begins on 2 pools: %d claimed and %d saw the key held, want 1 and %d",
							round, goroutines, len(winners), held, goroutines-1)
					}
					for tok, replica := range winners {
						if ok, err := rs[replica].Finish(ctx, "acct", key, tok, created, time.Hour); err != nil || !ok {
							t.Fatalf("round %d: Finish on pool %d = %v, %v", round, replica, ok, err)
						}
						rec, ok, err := rs[1-replica].Begin(ctx, "acct", key, fp, tokens.Add(1), time.Minute)
						if err != nil || ok || rec.Fingerprint != fp || rec.Answer == nil || !sameAnswer(rec.Answer, created) {
							t.Errorf("round %d: Begin on the other pool = %+v, %v, %v; want the answer replayed", round, rec, ok, err)
						}
					}
					rkey := "released-" + key
					tok := tokens.Add(1)
					if _, ok, err := rs[round%2].Begin(ctx, "acct", rkey, fp, tok, time.Minute); err != nil || !ok {
						t.Fatalf("Begin = %v, %v", ok, err)
					}
					if err := rs[round%2].Release(ctx, "acct", rkey, tok); err != nil {
						t.Fatal(err)
					}
					if _, ok, err := rs[1-round%2].Begin(ctx, "acct", rkey, fp, tokens.Add(1), time.Minute); err != nil || !ok {
						t.Errorf("round %d: Begin on the other pool after a Release = %v, %v; want a claim", round, ok, err)
					}
				}
				t.Logf("%d rounds of %d Begins on 2 pools: 1 claim each", rounds, goroutines)
			})
		}
	})
}

// TestReplicasLockEnds: a claim whose lock ended on the fake clock is
// claimed by exactly one of 50 Begins across both pools (all racing to
// take over the same ended row), and the late request can then neither
// finish nor release the new claim.
func TestReplicasLockEnds(t *testing.T) {
	eachReplicaDatabase(t, func(t *testing.T, replicas func(now func() time.Time) [2]*sqlstore.Store) {
		c := newClock()
		rs := replicas(c.Now)
		ctx := t.Context()
		fp := fingerprint("POST /v1/monitors")
		var tokens atomic.Uint64
		late := tokens.Add(1)
		if _, ok, err := rs[0].Begin(ctx, "acct", "k", fp, late, time.Minute); err != nil || !ok {
			t.Fatalf("Begin = %v, %v", ok, err)
		}
		for round := range rounds {
			c.Advance(time.Minute)
			winners, held := beginAll(t, rs, "k", fp, goroutines, &tokens)
			if len(winners) != 1 || held != goroutines-1 {
				t.Fatalf("round %d: %d Begins after the lock ended: %d claimed and %d saw the key held, want 1 and %d",
					round, goroutines, len(winners), held, goroutines-1)
			}
			if ok, err := rs[1].Finish(ctx, "acct", "k", late, created, time.Hour); err != nil || ok {
				t.Errorf("round %d: the late request's Finish = %v, %v; want false", round, ok, err)
			}
			if err := rs[1].Release(ctx, "acct", "k", late); err != nil {
				t.Fatal(err)
			}
			if rec, ok, err := rs[0].Begin(ctx, "acct", "k", fp, tokens.Add(1), time.Minute); err != nil || ok || rec.Fingerprint != fp {
				t.Errorf("round %d: Begin after the late request's Finish and Release = %+v, %v, %v; want the new claim held", round, rec, ok, err)
			}
			for tok := range winners {
				late = tok // the next round's late request
			}
		}
	})
}
