package redisstore_test

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/idempotency/redisstore"
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

// TestOneRoundTrip checks, from both ends, that every Begin, Finish and
// Release is one round trip: one command sent by the client (the hook),
// one EVALSHA run by the server (INFO commandstats), and nothing else:
// TIME, HMGET, HSET, PEXPIRE and DEL are the script's own. A server that
// lost the script costs one more round trip (EVAL), once.
func TestOneRoundTrip(t *testing.T) {
	srv := testserver.StartRedis(t) // of its own, so that its command counts are ours
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	hook := &roundTrips{}
	client.AddHook(hook)
	admin := newClient(t, srv.Addr())
	s := newStore(t, client, redisstore.Config{Timeout: 5 * time.Second})
	ctx := t.Context()
	fp := fingerprint("POST /v1/monitors")
	if _, _, err := s.Begin(ctx, "acct", "warm-up", fp, 1, time.Minute); err != nil { // loads the script
		t.Fatal(err)
	}
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	hook.n.Store(0)

	const n = 50
	tok := uint64(100)
	for i := range n {
		key := "k" + strconv.Itoa(i)
		steps := []func() error{
			func() error { _, _, err := s.Begin(ctx, "acct", key, fp, tok, time.Minute); return err },    // claims
			func() error { _, _, err := s.Begin(ctx, "acct", key, fp, tok+1, time.Minute); return err },  // in flight
			func() error { _, err := s.Finish(ctx, "acct", key, tok+1, created, time.Hour); return err }, // another token
			func() error { _, err := s.Finish(ctx, "acct", key, tok, created, time.Hour); return err },   // keeps
			func() error { _, _, err := s.Begin(ctx, "acct", key, fp, tok+2, time.Minute); return err },  // replay
			func() error { return s.Release(ctx, "acct", key, tok) },                                     // nothing
			func() error { _, _, err := s.Begin(ctx, "acct", key+"r", fp, tok+3, time.Minute); return err },
			func() error { return s.Release(ctx, "acct", key+"r", tok+3) }, // frees
		}
		for _, step := range steps {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		tok += 4
	}
	const perKey = 8
	calls := commandCalls(t, admin)
	if got := hook.n.Load(); got != perKey*n {
		t.Errorf("client: %d round trips for %d calls, want %d", got, perKey*n, perKey*n)
	}
	if calls["evalsha"] != perKey*n {
		t.Errorf("server: %d EVALSHA for %d calls, want %d (commandstats %v)", calls["evalsha"], perKey*n, perKey*n, calls)
	}
	for name, c := range calls {
		switch name {
		case "evalsha", "time", "hmget", "hset", "pexpire", "del", "config|resetstat", "info":
		default:
			t.Errorf("server: %d calls of %s, want none", c, name)
		}
	}

	if err := admin.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	hook.n.Store(0)
	for i := range 3 {
		if _, _, err := s.Begin(ctx, "acct", "after-flush", fp, uint64(1000+i), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if got := hook.n.Load(); got != 4 {
		t.Errorf("3 Begins after SCRIPT FLUSH: %d round trips, want 4 (EVALSHA, EVAL, then EVALSHA only)", got)
	}
}

// benchAnswer is a typical kept answer: a JSON body of 1 KiB.
var benchAnswer = &idempotency.Answer{
	Status: http.StatusCreated,
	Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/v1/monitors/mon_1"}},
	Body:   []byte(`{"id":"mon_1","name":"` + strings.Repeat("x", 1000) + `"}`),
}

// benchStore returns a Store on the shared server, with a hook counting
// its round trips, and a prefix of its own.
func benchStore(b *testing.B) (*redisstore.Store, *roundTrips) {
	c := redis.NewClient(&redis.Options{Addr: testserver.SharedRedis(b).Addr(), ContextTimeoutEnabled: true, PoolSize: 64})
	b.Cleanup(func() { c.Close() })
	hook := &roundTrips{}
	c.AddHook(hook)
	s, err := redisstore.New(c, redisstore.Config{Prefix: uniquePrefix(), Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	// Load the script.
	if _, _, err := s.Begin(context.Background(), "acct", "warm-up", fingerprint("x"), 1, time.Minute); err != nil {
		b.Fatal(err)
	}
	hook.n.Store(0)
	return s, hook
}

// benchRun runs op, numbered from 0, on the Redis clock, reporting
// allocations and roundtrips/op (the commands go-redis sends for op).
// prepare, if not nil, runs once before the timer starts. setup, if not
// nil, runs with the timer stopped before each batch of 1024 ops, with
// the number of the batch's first op; then op runs serially only,
// otherwise serially and in parallel.
func benchRun(b *testing.B, prepare func(s *redisstore.Store) error, setup func(s *redisstore.Store, first uint64) error, op func(s *redisstore.Store, i uint64) error) {
	modes := []bool{false, true}
	if setup != nil {
		modes = modes[:1]
	}
	for _, par := range modes {
		name := "serial"
		if par {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			s, hook := benchStore(b)
			if prepare != nil {
				if err := prepare(s); err != nil {
					b.Fatal(err)
				}
				hook.n.Store(0)
			}
			const batch = 1024
			b.ReportAllocs()
			if par {
				var next atomic.Uint64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := op(s, next.Add(1)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				var i uint64
				for b.Loop() {
					if setup != nil && i%batch == 0 {
						b.StopTimer()
						before := hook.n.Load()
						if err := setup(s, i); err != nil {
							b.Fatal(err)
						}
						hook.n.Add(before - hook.n.Load()) // not op's
						b.StartTimer()
					}
					if err := op(s, i); err != nil {
						b.Fatal(err)
					}
					i++
				}
			}
			b.ReportMetric(float64(hook.n.Load())/float64(b.N), "roundtrips/op")
		})
	}
}

func benchKey(i uint64) string { return "key-" + strconv.FormatUint(i, 10) }

// BenchmarkBegin measures a Begin that claims a new key: a first request.
func BenchmarkBegin(b *testing.B) {
	fp := fingerprint("POST /v1/monitors")
	benchRun(b, nil, nil, func(s *redisstore.Store, i uint64) error {
		_, ok, err := s.Begin(context.Background(), "acct", benchKey(i), fp, i+1, time.Minute)
		if err == nil && !ok {
			b.Error("Begin of a new key did not claim it")
		}
		return err
	})
}

// BenchmarkFinish measures a Finish that keeps a 1 KiB answer, for keys
// claimed beforehand with the timer stopped.
func BenchmarkFinish(b *testing.B) {
	fp := fingerprint("POST /v1/monitors")
	benchRun(b, nil, func(s *redisstore.Store, first uint64) error {
		for i := first; i < first+1024; i++ {
			if _, _, err := s.Begin(context.Background(), "acct", benchKey(i), fp, i+1, time.Minute); err != nil {
				return err
			}
		}
		return nil
	}, func(s *redisstore.Store, i uint64) error {
		ok, err := s.Finish(context.Background(), "acct", benchKey(i), i+1, benchAnswer, time.Hour)
		if err == nil && !ok {
			b.Error("Finish of a claimed key did not keep the answer")
		}
		return err
	})
}

// BenchmarkReplay measures a Begin that finds a 1 KiB answer kept: a
// retry.
func BenchmarkReplay(b *testing.B) {
	fp := fingerprint("POST /v1/monitors")
	const keys = 256
	benchRun(b, func(s *redisstore.Store) error {
		for i := range uint64(keys) {
			if _, _, err := s.Begin(context.Background(), "acct", benchKey(i), fp, i+1, time.Minute); err != nil {
				return err
			}
			if _, err := s.Finish(context.Background(), "acct", benchKey(i), i+1, benchAnswer, time.Hour); err != nil {
				return err
			}
		}
		return nil
	}, nil, func(s *redisstore.Store, i uint64) error {
		rec, ok, err := s.Begin(context.Background(), "acct", benchKey(i%keys), fp, 1<<32+i, time.Minute)
		if err == nil && (ok || rec.Answer == nil) {
			b.Error("Begin of an answered key did not replay it")
		}
		return err
	})
}
