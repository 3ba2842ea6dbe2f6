package redisstore_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/credits/creditstoretest"
	"github.com/gatekey/gatekey/credits/redisstore"
	"github.com/gatekey/gatekey/internal/testserver"
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

// newClient returns a client for addr configured as the package requires,
// closed when the test ends.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 32})
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
	creditstoretest.Run(t, func(t *testing.T, now func() time.Time) credits.Store {
		return newStore(t, c, redisstore.Config{Prefix: uniquePrefix(), Timeout: 5 * time.Second, Now: now})
	})
}

// clock is a fake clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// fakeClockStore returns a Store on the shared server whose script uses c
// instead of TIME.
func fakeClockStore(t *testing.T, c *clock) *redisstore.Store {
	return newStore(t, newClient(t, testserver.SharedRedis(t).Addr()),
		redisstore.Config{Prefix: uniquePrefix(), Timeout: 5 * time.Second, Now: c.Now})
}

// periodTimes returns times around which the script's calendar arithmetic
// must agree with package credits': every month boundary from 1965 to 2105
// (a microsecond before it and on it), leap days, century years, and
// random times from 1900 to 2500.
func periodTimes() []time.Time {
	var ts []time.Time
	for m := time.Date(1965, 1, 1, 0, 0, 0, 0, time.UTC); m.Year() < 2105; m = m.AddDate(0, 1, 0) {
		ts = append(ts, m.Add(-time.Microsecond), m)
	}
	for _, s := range []string{"1900-02-28T23:59:59Z", "1900-03-01T00:00:00Z", "1969-12-31T23:59:59.999999Z",
		"1970-01-01T00:00:00Z", "2000-02-29T12:00:00Z", "2024-02-29T23:59:59.999999Z", "2100-02-28T23:59:59Z",
		"2100-03-01T00:00:00Z", "2400-02-29T00:00:00Z", "2400-12-31T23:59:59.999999Z"} {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		ts = append(ts, t)
	}
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	lo, hi := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for range 1000 {
		ts = append(ts, time.UnixMicro(lo+rng.Int64N(hi-lo)).UTC())
	}
	return ts
}

// TestPeriodArithmetic checks the script's days and months (computed in
// Lua from the time) against credits.Period, through ResetAt.
func TestPeriodArithmetic(t *testing.T) {
	c := &clock{}
	s := fakeClockStore(t, c)
	for _, p := range []credits.Period{credits.Day, credits.Month} {
		a := credits.Allowance{Credits: 10, Period: p}
		for i, at := range periodTimes() {
			c.Set(at)
			b, ok, err := s.Spend(t.Context(), fmt.Sprint(p, i), a, 0)
			if err != nil || !ok {
				t.Fatalf("Spend at %v: %v %v", at, ok, err)
			}
			if want := p.End(at); !b.ResetAt.Equal(want) || b.Remaining != 10 {
				t.Fatalf("%v at %v: ResetAt %v Remaining %d, want %v and 10", p, at, b.ResetAt, b.Remaining, want)
			}
		}
	}
}

// TestKeys checks that balances are Redis keys named as documented that
// expire a Margin after the end of their period.
func TestKeys(t *testing.T) {
	c := &clock{}
	client := newClient(t, testserver.SharedRedis(t).Addr())
	prefix := uniquePrefix()
	s := newStore(t, client, redisstore.Config{Prefix: prefix, Timeout: 5 * time.Second, Now: c.Now})
	for _, tc := range []struct {
		account string
		a       credits.Allowance
		at      time.Time
		value   string
	}{
		{"acct_1", credits.PerMonth(500), time.Date(2030, 2, 10, 6, 0, 0, 0, time.UTC), "721 499"},
		{"acct_1", credits.PerDay(100), time.Date(2030, 2, 10, 6, 0, 0, 0, time.UTC), "21955 99"},
		{"a}b{c", credits.PerDay(100), time.Date(2030, 2, 10, 23, 59, 59, 999000000, time.UTC), "21955 99"},
	} {
		c.Set(tc.at)
		if _, ok, err := s.Spend(t.Context(), tc.account, tc.a, 1); err != nil || !ok {
			t.Fatalf("Spend = %v, %v", ok, err)
		}
		key := prefix + "{" + tc.account + "}:" + tc.a.Period.String()
		if got := redisstore.Key(s, tc.account, tc.a.Period); got != key {
			t.Errorf("key %q, want %q", got, key)
		}
		v, err := client.Get(t.Context(), key).Result()
		if err != nil || v != tc.value {
			t.Errorf("GET %s = %q, %v; want %q", key, v, err, tc.value)
		}
		pttl, err := client.PTTL(t.Context(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		// Redis counts the expiry down in real time, from the write.
		want := tc.a.Period.End(tc.at).Sub(tc.at) + redisstore.Margin
		if pttl > want || pttl < want-5*time.Second {
			t.Errorf("%s: PTTL = %v, want %v (the end of the period plus the margin)", key, pttl, want)
		}
	}
	// Reads and refused spends write nothing.
	for _, cost := range []int64{0, 11} {
		if _, _, err := s.Spend(t.Context(), "reader", credits.PerMonth(10), cost); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := client.Exists(t.Context(), redisstore.Key(s, "reader", credits.Month)).Result(); err != nil || n != 0 {
		t.Errorf("a read and a refused spend of a new account left a key (EXISTS = %d, %v)", n, err)
	}
}

// TestRedisClock checks that without Config.Now the period is the Redis
// server's (here the same machine's) current one.
func TestRedisClock(t *testing.T) {
	s := newStore(t, newClient(t, testserver.SharedRedis(t).Addr()), redisstore.Config{Prefix: uniquePrefix()})
	for _, a := range []credits.Allowance{credits.PerDay(3), credits.PerMonth(3)} {
		before := time.Now()
		b, ok, err := s.Spend(t.Context(), "k", a, 1)
		after := time.Now()
		if err != nil || !ok || b.Remaining != 2 {
			t.Fatalf("Spend(%v) = %+v, %v, %v", a, b, ok, err)
		}
		if !b.ResetAt.Equal(a.Period.End(before)) && !b.ResetAt.Equal(a.Period.End(after)) {
			t.Errorf("%v: ResetAt %v, want %v, the end of the current period", a, b.ResetAt, a.Period.End(before))
		}
	}
}

// TestSameAsMemoryStore replays random spends and grants, on a clock that
// mostly moves forwards and sometimes back, through the Store and through
// credits.MemoryStore: the results are the same.
func TestSameAsMemoryStore(t *testing.T) {
	c := &clock{}
	s := fakeClockStore(t, c)
	mem := credits.NewMemoryStore(credits.MemoryConfig{})
	rng := mathrand.New(mathrand.NewPCG(3, 4))
	allowances := []credits.Allowance{credits.PerDay(5), credits.PerMonth(20), credits.PerMonth(3)}
	now := time.Date(2030, 1, 30, 0, 0, 0, 0, time.UTC)
	for i := range 3000 {
		switch r := rng.IntN(100); {
		case r < 3:
			now = now.Add(-time.Duration(rng.Int64N(int64(48 * time.Hour))))
		case r < 50:
			now = now.Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
		}
		c.Set(now)
		a := allowances[rng.IntN(len(allowances))]
		account := fmt.Sprint("k", rng.IntN(4), a.Period) // one kind of period per account, as in MemoryStore
		n := rng.Int64N(8)
		var got, want credits.Balance
		var gotOK, wantOK bool
		var gotErr, wantErr error
		if rng.IntN(10) == 0 {
			n++
			got, gotErr = s.Grant(t.Context(), account, a, n)
			want, wantErr = mem.GrantAt(now, account, a, n)
		} else {
			got, gotOK, gotErr = s.Spend(t.Context(), account, a, n)
			want, wantOK, wantErr = mem.SpendAt(now, account, a, n)
		}
		if gotErr != nil || wantErr != nil {
			t.Fatalf("step %d: errors %v, %v", i, gotErr, wantErr)
		}
		if got != want || gotOK != wantOK {
			t.Fatalf("step %d at %v, %v %v n=%d:\n redis  %+v %v\n memory %+v %v", i, now, account, a, n, got, gotOK, want, wantOK)
		}
	}
}

// TestGrantCap checks that grants stop at twice MaxCredits, as in
// credits.MemoryStore, so that balances never overflow.
func TestGrantCap(t *testing.T) {
	s := fakeClockStore(t, &clock{t: time.Date(2030, 5, 1, 0, 0, 0, 0, time.UTC)})
	a := credits.PerMonth(credits.MaxCredits)
	var b credits.Balance
	var err error
	for range 3 {
		if b, err = s.Grant(t.Context(), "k", a, credits.MaxCredits); err != nil {
			t.Fatal(err)
		}
	}
	if b.Remaining != 2*credits.MaxCredits {
		t.Errorf("Remaining after three grants of MaxCredits = %d, want %d", b.Remaining, int64(2*credits.MaxCredits))
	}
	b, ok, err := s.Spend(t.Context(), "k", a, credits.MaxCredits)
	if err != nil || !ok || b.Remaining != credits.MaxCredits {
		t.Errorf("Spend(MaxCredits) = %+v, %v, %v; want Remaining %d", b, ok, err, int64(credits.MaxCredits))
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
		{"closing brace in prefix", good, redisstore.Config{Prefix: "a}b"}, false},
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

// TestInvalidArguments checks that bad arguments are errors of their own,
// never ErrUnavailable, and do not reach Redis (here, a dead one).
func TestInvalidArguments(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true, MaxRetries: -1})
	defer dead.Close()
	s := newStore(t, dead, redisstore.Config{})
	good := credits.PerDay(5)
	for _, tc := range []struct {
		name  string
		a     credits.Allowance
		n     int64
		grant bool
		want  error
	}{
		{"zero allowance", credits.Allowance{}, 1, false, credits.ErrInvalidAllowance},
		{"negative cost", good, -1, false, credits.ErrInvalidCost},
		{"cost above MaxCredits", good, credits.MaxCredits + 1, false, credits.ErrInvalidCost},
		{"grant of 0", good, 0, true, credits.ErrInvalidCost},
		{"grant with an invalid period", credits.Allowance{Credits: 1, Period: 7}, 1, true, credits.ErrInvalidAllowance},
	} {
		var err error
		if tc.grant {
			_, err = s.Grant(t.Context(), "k", tc.a, tc.n)
		} else {
			_, _, err = s.Spend(t.Context(), "k", tc.a, tc.n)
		}
		if !errors.Is(err, tc.want) || errors.Is(err, credits.ErrUnavailable) || !strings.HasPrefix(err.Error(), "redisstore: ") {
			t.Errorf("%s: %v, want a redisstore: error wrapping %v (and not ErrUnavailable)", tc.name, err, tc.want)
		}
	}
	// A valid call to the dead Redis, for contrast.
	if _, ok, err := s.Spend(t.Context(), "k", good, 1); ok || !errors.Is(err, credits.ErrUnavailable) {
		t.Errorf("Spend on a dead Redis = %v, %v; want ErrUnavailable", ok, err)
	}
}

// TestForeignValue checks that a value the Store did not write under a
// balance's key is an error, not a guess.
func TestForeignValue(t *testing.T) {
	client := newClient(t, testserver.SharedRedis(t).Addr())
	s := newStore(t, client, redisstore.Config{Prefix: uniquePrefix(), Timeout: 5 * time.Second})
	a := credits.PerDay(3)
	if err := client.Set(t.Context(), redisstore.Key(s, "garbage", a.Period), "12 x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.HSet(t.Context(), redisstore.Key(s, "hash", a.Period), "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ account, want string }{{"garbage", "malformed balance"}, {"hash", "WRONGTYPE"}} {
		_, ok, err := s.Spend(t.Context(), tc.account, a, 1)
		if ok || !errors.Is(err, credits.ErrUnavailable) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Spend on %s = %v, %v; want ErrUnavailable (%s)", tc.account, ok, err, tc.want)
		}
	}
}
