package redisstore_test

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/credits/redisstore"
	"github.com/gatekey/gatekey/internal/testserver"
	"github.com/redis/go-redis/v9"
)

// roundTrips is a go-redis hook counting the commands and pipelines sent:
// the round trips to Redis.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// commandCalls returns the calls per command of Redis's INFO commandstats
// ("evalsha": 12, ...).
func commandCalls(t *testing.T, c *redis.Client) map[string]int {
	t.Helper()
	info, err := c.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls := make(map[string]int)
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		// cmdstat_evalsha:calls=12,usec=340,...
		name, stats, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "cmdstat_"), ":")
		if !ok || !strings.HasPrefix(stats, "calls=") {
			continue
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(strings.Split(stats, ",")[0], "calls="))
		calls[name] = n
	}
	return calls
}

// TestOneRoundTrip checks, from both ends, that every Spend and Grant is
// one round trip: one command sent by the client (the hook), one EVALSHA
// run by the server (INFO commandstats), and nothing else: TIME, GET and SET
// are the script's own. A server that lost the script costs one more
// round trip (EVAL), once.
func TestOneRoundTrip(t *testing.T) {
	srv := testserver.StartRedis(t) // of its own, so that its command counts are ours
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	hook := &roundTrips{}
	client.AddHook(hook)
	admin := newClient(t, srv.Addr())
	s := newStore(t, client, redisstore.Config{Timeout: 5 * time.Second})
	a := credits.PerDay(10)
	ctx := t.Context()
	if _, _, err := s.Spend(ctx, "warm-up", a, 1); err != nil { // loads the script
		t.Fatal(err)
	}
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	hook.n.Store(0)

	const n = 50
	for i := range n {
		account := "acct" + strconv.Itoa(i%5)
		for _, cost := range []int64{0, 1, 11} { // a read, a spend, a refusal
			if _, _, err := s.Spend(ctx, account, a, cost); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Grant(ctx, account, a, 2); err != nil {
			t.Fatal(err)
		}
	}
	calls := commandCalls(t, admin)
	if got := hook.n.Load(); got != 4*n {
		t.Errorf("client: %d round trips for %d calls, want %d", got, 4*n, 4*n)
	}
	if calls["evalsha"] != 4*n {
		t.Errorf("server: %d EVALSHA for %d calls, want %d (commandstats %v)", calls["evalsha"], 4*n, 4*n, calls)
	}
	for name, c := range calls {
		if name != "evalsha" && name != "time" && name != "get" && name != "set" && name != "config|resetstat" && name != "info" {
			t.Errorf("server: %d calls of %s, want none", c, name)
		}
	}

	if err := admin.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	hook.n.Store(0)
	for range 3 {
		if _, _, err := s.Spend(ctx, "after-flush", a, 1); err != nil {
			t.Fatal(err)
		}
	}
	if got := hook.n.Load(); got != 4 {
		t.Errorf("3 Spends after SCRIPT FLUSH: %d round trips, want 4 (EVALSHA, EVAL, then EVALSHA only)", got)
	}
}

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

// BenchmarkSpend measures a Spend of 1 that succeeds, on the Redis clock.
// roundtrips/op counts the commands go-redis sends.
func BenchmarkSpend(b *testing.B) {
	addr := testserver.SharedRedis(b).Addr()
	a := credits.PerMonth(credits.MaxCredits)
	for _, par := range []bool{false, true} {
		name := "serial"
		if par {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 64})
			defer c.Close()
			hook := &roundTrips{}
			c.AddHook(hook)
			s, err := redisstore.New(c, redisstore.Config{Prefix: "bench:credits:", Timeout: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			spend := func(account string) bool {
				_, ok, err := s.Spend(ctx, account, a, 1)
				if err != nil || !ok {
					b.Error(ok, err)
					return false
				}
				return true
			}
			if !spend("warm-up") { // loads the script
				return
			}
			hook.n.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			if par {
				var next atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if !spend(benchAccountNames[next.Add(1)%benchAccounts]) {
							return
						}
					}
				})
			} else {
				i := 0
				for b.Loop() {
					if !spend(benchAccountNames[i%benchAccounts]) {
						return
					}
					i++
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(hook.n.Load())/float64(b.N), "roundtrips/op")
		})
	}
}
