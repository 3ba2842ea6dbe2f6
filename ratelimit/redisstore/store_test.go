package redisstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/internal/testserver"
	"github.com/gatekey/gatekey/ratelimit"
	"github.com/gatekey/gatekey/ratelimit/limitstoretest"
	"github.com/gatekey/gatekey/ratelimit/redisstore"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
)

func TestMain(m *testing.M) {
	// go-redis logs failed dials, which the fault tests cause on purpose.
	redis.SetLogger(&logging.VoidLogger{})
	code := m.Run()
	testserver.CloseShared()
	os.Exit(code)
}

const day = 24 * time.Hour

// newClient returns a client for addr configured as the package requires,
// closed when the test ends.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 64})
	t.Cleanup(func() { c.Close() })
	return c
}

func newStore(t testing.TB, c redis.Scripter, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// uniquePrefix keeps the keys of each test apart on a shared server.
func uniquePrefix() string { return "test:" + rand.Text()[:12] + ":" }

func TestConformance(t *testing.T) {
	c := newClient(t, testserver.SharedRedis(t).Addr())
	limitstoretest.Run(t, func(t *testing.T) ratelimit.Store {
		return newStore(t, c, redisstore.Config{Prefix: uniquePrefix(), Timeout: 5 * time.Second})
	})
}

// TestReplicasExact runs several Stores, each with its own client and
// connection pool as separate replicas would have, against one Redis:
// under concurrent load they let through exactly what the policy allows.
func TestReplicasExact(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	const replicas, goroutines, perG = 3, 48, 6
	stores := make([]*redisstore.Store, replicas)
	prefix := uniquePrefix()
	for i := range stores {
		stores[i] = newStore(t, newClient(t, addr), redisstore.Config{Prefix: prefix, Timeout: 5 * time.Second})
	}
	for _, tc := range []struct {
		name string
		p    ratelimit.Policy
		cost int
		want int
	}{
		{"burst", ratelimit.Policy{ratelimit.PerDay(1).WithBurst(100)}, 1, 100},
		{"cost", ratelimit.Policy{ratelimit.PerDay(1).WithBurst(100)}, 3, 33},
		{"two limits", ratelimit.Policy{ratelimit.PerDay(1).WithBurst(60), {Requests: 1, Window: 7 * day, Burst: 45}}, 1, 45},
		{"three limits", ratelimit.Policy{ratelimit.PerDay(80), ratelimit.PerHour(1).WithBurst(70), ratelimit.PerMinute(1).WithBurst(90)}, 2, 35},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var allowed atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := range goroutines {
				s := stores[g%replicas]
				wg.Go(func() {
					<-start
					for range perG {
						d, err := s.Take(t.Context(), tc.name, tc.p, tc.cost)
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
			if got := allowed.Load(); got != int64(tc.want) {
				t.Errorf("%d replicas, %d goroutines: %d requests allowed, want exactly %d", replicas, goroutines, got, tc.want)
			}
		})
	}
}

// clock is a fake clock for the script (whole microseconds, as the Redis
// clock reads).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t.Truncate(time.Microsecond)
}

// fakeClockStore returns a Store whose script uses c instead of TIME.
// The limits used with it must refill slowly: Redis still expires keys in
// real time.
func fakeClockStore(t *testing.T, c *clock) *redisstore.Store {
	s := newStore(t, newClient(t, testserver.SharedRedis(t).Addr()), redisstore.Config{Prefix: uniquePrefix(), Timeout: 5 * time.Second})
	redisstore.SetClock(s, c.Now)
	return s
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.UTC)

// TestRetryAfterExact checks that RetryAfter is exact to the microsecond:
// a retry one microsecond early is rejected, one at RetryAfter passes.
func TestRetryAfterExact(t *testing.T) {
	c := &clock{}
	s := fakeClockStore(t, c)
	for _, tc := range []struct {
		name string
		p    ratelimit.Policy
		pre  int // cost of a first request, if any
		n    int // cost of the requests made until one is rejected
	}{
		{"10/hour", ratelimit.Policy{ratelimit.PerHour(10)}, 0, 1},
		{"7/day fractional", ratelimit.Policy{ratelimit.PerDay(7)}, 0, 1},
		{"3/7m burst 5 cost 2", ratelimit.Policy{{Requests: 3, Window: 7 * time.Minute, Burst: 5}}, 0, 2},
		{"two limits", ratelimit.Policy{ratelimit.PerHour(13).WithBurst(4), ratelimit.PerDay(11)}, 0, 1},
		{"huge rate", ratelimit.Policy{{Requests: ratelimit.MaxTokens, Window: day, Burst: 3}}, 0, 1},
		// 2^40 tokens and one per hour: a microsecond of refill is far
		// below the float's resolution, so refill moves in steps of
		// about half a second; RetryAfter must still be exact.
		{"huge bucket, slow rate", ratelimit.Policy{ratelimit.PerHour(1).WithBurst(ratelimit.MaxTokens)}, 1, ratelimit.MaxTokens},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			c.Set(now)
			if tc.pre > 0 {
				if d, err := s.Take(t.Context(), tc.name, tc.p, tc.pre); err != nil || !d.Allowed {
					t.Fatalf("first Take = %+v, %v", d, err)
				}
			}
			var d ratelimit.Decision
			for i := 0; ; i++ {
				var err error
				if d, err = s.Take(t.Context(), tc.name, tc.p, tc.n); err != nil {
					t.Fatal(err)
				}
				if !d.Allowed {
					break
				}
				if i > 100 {
					t.Fatal("never rejected")
				}
			}
			r := d.RetryAfter
			if r <= 0 || r%time.Microsecond != 0 {
				t.Fatalf("RetryAfter = %v, want a positive whole number of microseconds", r)
			}
			c.Set(now.Add(r - time.Microsecond))
			early, err := s.Take(t.Context(), tc.name, tc.p, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if early.Allowed || early.RetryAfter != time.Microsecond {
				t.Fatalf("1µs before RetryAfter %v: Allowed=%v RetryAfter=%v, want rejected with 1µs", r, early.Allowed, early.RetryAfter)
			}
			c.Set(now.Add(r))
			if d, err := s.Take(t.Context(), tc.name, tc.p, tc.n); err != nil || !d.Allowed {
				t.Fatalf("at RetryAfter %v: %+v, %v; want allowed", r, d, err)
			}
		})
	}
}

// TestSameAsMemoryStore replays random request sequences through the
// Store (on a fake clock) and through ratelimit.MemoryStore.TakeAt: the
// decisions agree, the durations to the microsecond.
func TestSameAsMemoryStore(t *testing.T) {
	c := &clock{}
	s := fakeClockStore(t, c)
	policies := []ratelimit.Policy{
		{ratelimit.PerHour(10)},
		{ratelimit.PerDay(7).WithBurst(3)},
		{{Requests: 17, Window: 3 * time.Hour, Burst: 9}, ratelimit.PerDay(40)},
		{ratelimit.PerHour(100).WithBurst(5), {Requests: 7, Window: 90 * time.Minute}, ratelimit.PerDay(50)},
	}
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	for pi, p := range policies {
		mem := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
		key := fmt.Sprint("k", pi)
		now := t0
		maxStep := p[0].Window / time.Duration(p[0].Requests) // about one token
		for i := range 300 {
			now = now.Add(time.Duration(rng.Int64N(int64(maxStep/time.Microsecond))) * time.Microsecond)
			n := 1 + rng.IntN(3)
			c.Set(now)
			got, err := s.Take(t.Context(), key, p, n)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := mem.TakeAt(now, key, p, n)
			if !sameDecision(got, want) {
				t.Fatalf("policy %v, request %d (n=%d):\n redis  %+v\n memory %+v", p, i, n, got, want)
			}
		}
	}
}

// sameDecision compares decisions, durations rounded up to microseconds
// (the Redis clock's resolution) with one microsecond of slack for the
// different floating-point expressions.
func sameDecision(a, b ratelimit.Decision) bool {
	near := func(x, y time.Duration) bool {
		if x == ratelimit.Never || y == ratelimit.Never {
			return x == y
		}
		y = (y + time.Microsecond - 1).Truncate(time.Microsecond)
		return x-y <= time.Microsecond && y-x <= time.Microsecond
	}
	if a.Allowed != b.Allowed || a.Limit != b.Limit || a.Remaining != b.Remaining ||
		!near(a.RetryAfter, b.RetryAfter) || !near(a.ResetAfter, b.ResetAfter) || len(a.States) != len(b.States) {
		return false
	}
	for i := range a.States {
		x, y := a.States[i], b.States[i]
		if x.Limit != y.Limit || x.Remaining != y.Remaining || !near(x.RetryAfter, y.RetryAfter) || !near(x.ResetAfter, y.ResetAfter) {
			return false
		}
	}
	return true
}

// TestClockBack checks that a server clock stepping back never refills a
// bucket: time counts from the bucket's last update again once the clock
// has passed it.
func TestClockBack(t *testing.T) {
	c := &clock{}
	s := fakeClockStore(t, c)
	p := ratelimit.Policy{ratelimit.PerHour(10)} // a token every 6 minutes
	for _, step := range []struct {
		at        time.Duration // from t0
		allowed   bool
		remaining int
	}{
		{0, true, 9},
		{-time.Hour, true, 8},      // stepped back an hour: no refill
		{-2 * time.Hour, true, 7},  // further back: still none
		{5 * time.Minute, true, 6}, // not a token since t0 yet
		{6 * time.Minute, true, 6}, // one token since t0
	} {
		c.Set(t0.Add(step.at))
		d, err := s.Take(t.Context(), "k", p, 1)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != step.allowed || d.Remaining != step.remaining {
			t.Fatalf("at t0%+v: Allowed=%v Remaining=%d, want %v %d", step.at, d.Allowed, d.Remaining, step.allowed, step.remaining)
		}
	}
}

// TestExpiry checks that buckets are Redis keys named as documented that
// expire when they would be full again.
func TestExpiry(t *testing.T) {
	c := &clock{}
	c.Set(t0)
	client := newClient(t, testserver.SharedRedis(t).Addr())
	prefix := uniquePrefix()
	s := newStore(t, client, redisstore.Config{Prefix: prefix, Timeout: 5 * time.Second})
	redisstore.SetClock(s, c.Now)
	for _, tc := range []struct {
		name   string
		l      ratelimit.Limit
		n      int
		wantPX time.Duration // time to full after the take
	}{
		{"one of 10/hour", ratelimit.PerHour(10), 1, 6 * time.Minute},
		{"four of 10/hour", ratelimit.PerHour(10), 4, 24 * time.Minute},
		{"one of 7/day", ratelimit.PerDay(7), 1, day / 7},
		{"ms rounding", ratelimit.Limit{Requests: 3, Window: 10 * time.Millisecond}, 1, 4 * time.Millisecond}, // 3.334ms, rounded up
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ratelimit.Policy{tc.l}
			d, err := s.Take(t.Context(), tc.name, p, tc.n)
			if err != nil || !d.Allowed {
				t.Fatalf("Take = %+v, %v", d, err)
			}
			key := prefix + "{" + tc.name + "}:0:" + fmt.Sprintf("%d:%d:%d", tc.l.Requests, tc.l.Window, tc.l.Capacity())
			if got := redisstore.BucketKey(s, tc.name, 0, tc.l); got != key {
				t.Fatalf("bucket key %q, want %q", got, key)
			}
			pttl, err := client.PTTL(t.Context(), key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantPX < 10*time.Millisecond {
				// Short expiries may already have passed: the key is
				// gone or within its expiry.
				if pttl > tc.wantPX {
					t.Errorf("PTTL = %v, want at most %v", pttl, tc.wantPX)
				}
				return
			}
			if pttl > tc.wantPX.Round(time.Millisecond)+time.Millisecond || pttl < tc.wantPX-5*time.Second {
				t.Errorf("PTTL = %v, want about %v (ResetAfter %v)", pttl, tc.wantPX, d.ResetAfter)
			}
		})
	}
}

// TestRealClock checks decisions made with the Redis server's clock.
func TestRealClock(t *testing.T) {
	s := newStore(t, newClient(t, testserver.SharedRedis(t).Addr()), redisstore.Config{Prefix: uniquePrefix()})
	p := ratelimit.Policy{ratelimit.PerHour(2)}
	for i, want := range []bool{true, true, false} {
		d, err := s.Take(t.Context(), "k", p, 1)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != want {
			t.Fatalf("Take #%d: Allowed = %v, want %v", i, d.Allowed, want)
		}
		if !want && (d.RetryAfter > 30*time.Minute || d.RetryAfter < 29*time.Minute) {
			t.Errorf("RetryAfter = %v, want about 30m", d.RetryAfter)
		}
	}
}

func TestNew(t *testing.T) {
	good := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer good.Close()
	noCtx := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer noCtx.Close()
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cluster.Close()
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}, ContextTimeoutEnabled: true})
	defer ring.Close()
	for _, tc := range []struct {
		name   string
		client redis.Scripter
		cfg    redisstore.Config
		ok     bool
	}{
		{"defaults", good, redisstore.Config{}, true},
		{"ring", ring, redisstore.Config{}, true},
		{"nil client", nil, redisstore.Config{}, false},
		{"client ignoring deadlines", noCtx, redisstore.Config{}, false},
		{"cluster ignoring deadlines", cluster, redisstore.Config{}, false},
		{"brace in prefix", good, redisstore.Config{Prefix: "a{b"}, false},
	} {
		_, err := redisstore.New(tc.client, tc.cfg)
		if (err == nil) != tc.ok {
			t.Errorf("%s: New error = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "redisstore: ") {
			t.Errorf("%s: error %q lacks the package prefix", tc.name, err)
		}
	}
}

// TestInvalidArgumentsNeverFallBack checks that bad arguments are errors
// even when failing open, and do not reach Redis.
func TestInvalidArgumentsNeverFallBack(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer dead.Close()
	var calls atomic.Int64
	s := newStore(t, dead, redisstore.Config{FailOpen: true, OnError: func(error) { calls.Add(1) }})
	good := ratelimit.Policy{ratelimit.PerDay(5)}
	for _, tc := range []struct {
		p    ratelimit.Policy
		n    int
		want error
	}{
		{good, 0, ratelimit.ErrInvalidCost},
		{nil, 1, ratelimit.ErrInvalidLimit},
		{ratelimit.Policy{{Requests: 1}}, 1, ratelimit.ErrInvalidLimit},
	} {
		_, err := s.Take(t.Context(), "k", tc.p, tc.n)
		if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "redisstore: ") {
			t.Errorf("Take(%v, %d) = %v, want a redisstore: error wrapping %v", tc.p, tc.n, err, tc.want)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("invalid arguments reached Redis (%d errors)", calls.Load())
	}
}

// TestMalformedBucket checks that a foreign value under a bucket's key is
// an error, not a guess.
func TestMalformedBucket(t *testing.T) {
	client := newClient(t, testserver.SharedRedis(t).Addr())
	s := newStore(t, client, redisstore.Config{Prefix: uniquePrefix(), Timeout: 5 * time.Second})
	l := ratelimit.PerDay(3)
	if err := client.Set(t.Context(), redisstore.BucketKey(s, "k", 0, l), "garbage", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Take(context.Background(), "k", ratelimit.Policy{l}, 1)
	if !errors.Is(err, ratelimit.ErrUnavailable) || !strings.Contains(err.Error(), "malformed bucket") {
		t.Errorf("Take on a malformed bucket = %v, want ErrUnavailable (malformed bucket)", err)
	}
}
