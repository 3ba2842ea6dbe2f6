package sqlstore_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/credits/sqlstore"
)

// benchAccounts spreads spends over many accounts, with an allowance no
// account runs out of, so that every spend succeeds and writes.
const benchAccounts = 4096

var benchAccountNames = func() []string {
	names := make([]string, benchAccounts)
	for i := range names {
		names[i] = "bench-" + strconv.Itoa(i)
	}
	return names
}()

// BenchmarkSpend measures a Spend of 1 that succeeds (one upsert), and a
// read (cost 0, one SELECT), on each database: SQLite in a file (WAL, one
// connection) and in memory, and PostgreSQL as the tests run it (on
// loopback, with fsync off: the figure is the statement's, not a disk's).
func BenchmarkSpend(b *testing.B) {
	a := credits.PerMonth(credits.MaxCredits)
	for _, dc := range databases {
		b.Run(dc.name, func(b *testing.B) {
			dc.require(b)
			s := newStore(b, dc.open(b), dc.d, sqlstore.Config{Timeout: 10 * time.Second})
			ctx := context.Background()
			for _, i := range benchAccountNames { // every account has a row
				if _, _, err := s.Spend(ctx, i, a, 1); err != nil {
					b.Fatal(err)
				}
			}
			for _, bc := range []struct {
				name     string
				cost     int64
				parallel bool
			}{{"spend", 1, false}, {"spend/parallel", 1, true}, {"read", 0, false}} {
				b.Run(bc.name, func(b *testing.B) {
					spend := func(account string) bool {
						_, ok, err := s.Spend(ctx, account, a, bc.cost)
						if err != nil || !ok {
							b.Error(ok, err)
							return false
						}
						return true
					}
					b.ReportAllocs()
					if bc.parallel {
						var next atomic.Int64
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								if !spend(benchAccountNames[next.Add(1)%benchAccounts]) {
									return
								}
							}
						})
						return
					}
					i := 0
					for b.Loop() {
						if !spend(benchAccountNames[i%benchAccounts]) {
							return
						}
						i++
					}
				})
			}
		})
	}
}
