package redisstore_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/internal/testserver"
	"github.com/gatekey/gatekey/ratelimit"
	"github.com/gatekey/gatekey/ratelimit/redisstore"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// roundTrips is a go-redis hook counting commands and pipelines sent: the
// round trips to Redis.
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

// benchKeys spreads requests over many keys, with limits of a realistic
// size that no key reaches during a run, so both limiters do the same work
// on every request and their buckets stay in Redis.
const benchKeys = 4096

var benchKeyNames = func() []string {
	ks := make([]string, benchKeys)
	for i := range ks {
		ks[i] = "bench-" + strconv.Itoa(i)
	}
	return ks
}()

// BenchmarkTake compares Store.Take with github.com/go-redis/redis_rate/v10
// on the same Redis, for a policy of one limit and of two limits (which
// redis_rate checks with one call per limit, not atomically together).
// roundtrips/op counts the commands go-redis sends.
func BenchmarkTake(b *testing.B) {
	addr := testserver.SharedRedis(b).Addr()
	one := ratelimit.Policy{ratelimit.PerMinute(1000)}
	two := ratelimit.Policy{ratelimit.PerMinute(1000), ratelimit.PerHour(10000)}
	rrOne := []redis_rate.Limit{redis_rate.PerMinute(1000)}
	rrTwo := []redis_rate.Limit{redis_rate.PerMinute(1000), redis_rate.PerHour(10000)}

	for _, tc := range []struct {
		name string
		take func(b *testing.B, c *redis.Client) func(ctx context.Context, key string) error
	}{
		{"gatekey/1-limit", gatekeyTake(one)},
		{"redis_rate/1-limit", redisRateTake(rrOne)},
		{"gatekey/2-limits", gatekeyTake(two)},
		{"redis_rate/2-limits", redisRateTake(rrTwo)},
	} {
		for _, par := range []bool{false, true} {
			name := tc.name
			if par {
				name += "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 64})
				defer c.Close()
				hook := &roundTrips{}
				c.AddHook(hook)
				take := tc.take(b, c)
				ctx := context.Background()
				if err := take(ctx, "warm-up"); err != nil { // loads the script
					b.Fatal(err)
				}
				hook.n.Store(0)
				b.ReportAllocs()
				b.ResetTimer()
				if par {
					var next atomic.Int64
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := take(ctx, benchKeyNames[next.Add(1)%benchKeys]); err != nil {
								b.Error(err)
								return
							}
						}
					})
				} else {
					i := 0
					for b.Loop() {
						if err := take(ctx, benchKeyNames[i%benchKeys]); err != nil {
							b.Fatal(err)
						}
						i++
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(hook.n.Load())/float64(b.N), "roundtrips/op")
			})
		}
	}
}

func gatekeyTake(p ratelimit.Policy) func(*testing.B, *redis.Client) func(context.Context, string) error {
	return func(b *testing.B, c *redis.Client) func(context.Context, string) error {
		s, err := redisstore.New(c, redisstore.Config{Prefix: "bench:gatekey:", Timeout: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		return func(ctx context.Context, key string) error {
			d, err := s.Take(ctx, key, p, 1)
			if err == nil && !d.Allowed {
				b.Fatal("rejected")
			}
			return err
		}
	}
}

func redisRateTake(limits []redis_rate.Limit) func(*testing.B, *redis.Client) func(context.Context, string) error {
	return func(b *testing.B, c *redis.Client) func(context.Context, string) error {
		l := redis_rate.NewLimiter(c)
		return func(ctx context.Context, key string) error {
			for i, lim := range limits {
				r, err := l.Allow(ctx, "bench:redis_rate:"+key+":"+strconv.Itoa(i), lim)
				if err != nil {
					return err
				}
				if r.Allowed == 0 {
					b.Fatal("rejected")
				}
			}
			return nil
		}
	}
}
