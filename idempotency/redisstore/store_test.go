package redisstore_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/idempotency/idempotencystoretest"
	"github.com/gatekey/gatekey/idempotency/redisstore"
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
	idempotencystoretest.Run(t, func(t *testing.T, now func() time.Time) idempotency.Store {
		return newStore(t, c, redisstore.Config{Prefix: uniquePrefix(), Timeout: 5 * time.Second, Now: now})
	})
}

// clock is a fake clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func fingerprint(s string) idempotency.Fingerprint {
	var f idempotency.Fingerprint
	copy(f[:], s)
	f[31] = byte(len(s))
	return f
}

var created = &idempotency.Answer{
	Status: http.StatusCreated,
	Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/v1/monitors/mon_1"}},
	Body:   []byte(`{"id":"mon_1"}`),
}

// answerOfSize returns an answer whose encoding is n bytes long.
func answerOfSize(t *testing.T, n int) *idempotency.Answer {
	t.Helper()
	for body := n; body >= 0; body-- {
		a := &idempotency.Answer{Status: 200, Body: make([]byte, body)}
		if enc, err := a.MarshalBinary(); err == nil && len(enc) == n {
			return a
		}
	}
	t.Fatalf("no answer encodes in %d bytes", n)
	return nil
}

func sameAnswer(a, b *idempotency.Answer) bool {
	ea, err1 := a.MarshalBinary()
	eb, err2 := b.MarshalBinary()
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}

// TestKeyEncoding checks the documented key names, and that the
// encoding keeps every pair apart with the whole pair as the hash tag.
func TestKeyEncoding(t *testing.T) {
	s := newStore(t, newClient(t, "127.0.0.1:1"), redisstore.Config{Prefix: "p:"})
	for _, tc := range []struct{ account, key, want string }{
		{"acct_1", "k1", "p:{acct_1:k1}"},
		{"a:b", "c", "p:{a%3Ab:c}"},
		{"a", "b:c", "p:{a:b:c}"},
		{"a}", "{b}", "p:{a%7D:{b%7D}"},
		{"50%", "%7D", "p:{50%25:%257D}"},
		{"", "", "p:{:}"},
	} {
		if got := redisstore.Key(s, tc.account, tc.key); got != tc.want {
			t.Errorf("Key(%q, %q) = %q, want %q", tc.account, tc.key, got, tc.want)
		}
	}
	// Every pair of a set built to collide under a careless encoding
	// gets a key of its own, whose hash tag is everything in the braces.
	parts := []string{"", "a", ":", "a:", ":a", "}", "{", "%", "%3A", "%7D", "%25", "a}:b", "{a}", "ü"}
	seen := make(map[string][2]string)
	for _, a := range parts {
		for _, k := range parts {
			key := redisstore.Key(s, a, k)
			if prev, dup := seen[key]; dup {
				t.Errorf("pairs %q and %q share the key %q", prev, [2]string{a, k}, key)
			}
			seen[key] = [2]string{a, k}
			open := strings.IndexByte(key, '{')
			if open != len("p:") || strings.IndexByte(key[open:], '}') != len(key)-open-1 {
				t.Errorf("Key(%q, %q) = %q: the hash tag is not the whole pair", a, k, key)
			}
		}
	}
}

// TestRecords checks that records are Redis hashes named and laid out as
// documented, that expire when their lock or retention ends.
func TestRecords(t *testing.T) {
	c := &clock{t: time.Date(2030, 2, 10, 6, 0, 0, 0, time.UTC)}
	client := newClient(t, testserver.SharedRedis(t).Addr())
	s := newStore(t, client, redisstore.Config{Prefix: uniquePrefix(), Timeout: 5 * time.Second, Now: c.Now})
	ctx := t.Context()
	fp := fingerprint("POST /v1/monitors")
	const token = 1<<64 - 1 // the largest: tokens are whole uint64s
	key := redisstore.Key(s, "acct_1", "k1")

	wantRecord := func(what string, until time.Time, ttl time.Duration, answer *idempotency.Answer) {
		t.Helper()
		h, err := client.HGetAll(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"until": strconv.FormatInt(until.UnixMicro(), 10), "token": "18446744073709551615", "fp": string(fp[:])}
		if answer != nil {
			enc, _ := answer.MarshalBinary()
			want["answer"] = string(enc)
		}
		if len(h) != len(want) {
			t.Errorf("%s: HGETALL %s has fields %d, want %d", what, key, len(h), len(want))
		}
		for f, v := range want {
			if h[f] != v {
				t.Errorf("%s: field %s = %.40q, want %.40q", what, f, h[f], v)
			}
		}
		// Redis counts the expiry down in real time, from the write.
		pttl, err := client.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if pttl > ttl || pttl < ttl-5*time.Second {
			t.Errorf("%s: PTTL = %v, want %v", what, pttl, ttl)
		}
	}

	if _, ok, err := s.Begin(ctx, "acct_1", "k1", fp, token, 90*time.Second); err != nil || !ok {
		t.Fatalf("Begin = %v, %v", ok, err)
	}
	wantRecord("claimed", c.Now().Add(90*time.Second), 90*time.Second, nil)
	c.Advance(time.Second)
	if ok, err := s.Finish(ctx, "acct_1", "k1", token, created, 24*time.Hour); err != nil || !ok {
		t.Fatalf("Finish = %v, %v", ok, err)
	}
	wantRecord("finished", c.Now().Add(24*time.Hour), 24*time.Hour, created)

	// A lock under a millisecond still expires, a millisecond later.
	if _, ok, err := s.Begin(ctx, "acct_1", "short", fp, 1, time.Microsecond); err != nil || !ok {
		t.Fatalf("Begin = %v, %v", ok, err)
	}
	if pttl, err := client.PTTL(ctx, redisstore.Key(s, "acct_1", "short")).Result(); err != nil || pttl > time.Millisecond {
		t.Errorf("PTTL of a claim locked for 1µs = %v, %v; want at most 1ms", pttl, err)
	}
	// Release removes the key.
	if _, ok, err := s.Begin(ctx, "acct_1", "released", fp, 1, time.Minute); err != nil || !ok {
		t.Fatalf("Begin = %v, %v", ok, err)
	}
	if err := s.Release(ctx, "acct_1", "released", 1); err != nil {
		t.Fatal(err)
	}
	if n, err := client.Exists(ctx, redisstore.Key(s, "acct_1", "released")).Result(); err != nil || n != 0 {
		t.Errorf("a released claim left its key (EXISTS = %d, %v)", n, err)
	}
}

// TestRedisClock checks that without Config.Now locks and retentions are
// measured from the Redis server's (here the same machine's) clock.
func TestRedisClock(t *testing.T) {
	client := newClient(t, testserver.SharedRedis(t).Addr())
	s := newStore(t, client, redisstore.Config{Prefix: uniquePrefix()})
	ctx := t.Context()
	fp := fingerprint("POST /v1/monitors")
	before := time.Now()
	if _, ok, err := s.Begin(ctx, "acct", "k", fp, 7, time.Hour); err != nil || !ok {
		t.Fatalf("Begin = %v, %v", ok, err)
	}
	after := time.Now()
	v, err := client.HGet(ctx, redisstore.Key(s, "acct", "k"), "until").Int64()
	if err != nil {
		t.Fatal(err)
	}
	if until := time.UnixMicro(v); until.Before(before.Add(time.Hour).Add(-time.Second)) || until.After(after.Add(time.Hour).Add(time.Second)) {
		t.Errorf("until = %v, want about an hour from now (%v)", until, before.Add(time.Hour))
	}
	if rec, ok, err := s.Begin(ctx, "acct", "k", fp, 8, time.Hour); err != nil || ok || rec.Fingerprint != fp {
		t.Errorf("second Begin = %+v, %v, %v; want the claim held", rec, ok, err)
	}
	// A lock of 0 ends as it starts, by the server's clock: the key is
	// free for the next Begin.
	for tok := range uint64(3) {
		if _, ok, err := s.Begin(ctx, "acct", "zero", fp, 100+tok, 0); err != nil || !ok {
			t.Errorf("Begin #%d of a key locked for 0 = %v, %v; want it claimed", tok, ok, err)
		}
	}
	// And an answer is replayed.
	if ok, err := s.Finish(ctx, "acct", "k", 7, created, time.Hour); err != nil || !ok {
		t.Fatalf("Finish = %v, %v", ok, err)
	}
	if rec, ok, err := s.Begin(ctx, "acct", "k", fp, 9, time.Hour); err != nil || ok || rec.Answer == nil || !sameAnswer(rec.Answer, created) {
		t.Errorf("Begin after Finish = %+v, %v, %v; want the answer", rec, ok, err)
	}
}

// TestBeginRetry checks that a Begin with the token holding the claim (a
// retry of the Begin that claimed, whose reply was lost) claims again,
// and that once the answer is kept it does not.
func TestBeginRetry(t *testing.T) {
	c := &clock{t: time.Date(2030, 2, 10, 6, 0, 0, 0, time.UTC)}
	s := newStore(t, newClient(t, testserver.SharedRedis(t).Addr()), redisstore.Config{Prefix: uniquePrefix(), Now: c.Now})
	ctx := t.Context()
	fp := fingerprint("POST /v1/monitors")
	for i := range 2 {
		if _, ok, err := s.Begin(ctx, "acct", "k", fp, 42, time.Minute); err != nil || !ok {
			t.Fatalf("Begin #%d with token 42 = %v, %v; want a claim", i, ok, err)
		}
	}
	if _, ok, err := s.Begin(ctx, "acct", "k", fp, 43, time.Minute); err != nil || ok {
		t.Fatalf("Begin with another token = %v, %v; want the key held", ok, err)
	}
	if ok, err := s.Finish(ctx, "acct", "k", 42, created, time.Hour); err != nil || !ok {
		t.Fatalf("Finish = %v, %v", ok, err)
	}
	if rec, ok, err := s.Begin(ctx, "acct", "k", fp, 42, time.Minute); err != nil || ok || rec.Answer == nil {
		t.Errorf("Begin with the token of a finished claim = %+v, %v, %v; want the answer", rec, ok, err)
	}
}

// TestMaxAnswerBytes checks that an answer too big to keep is not kept
// and frees its key, and that one of the limit is kept.
func TestMaxAnswerBytes(t *testing.T) {
	const limit = 4096
	c := &clock{t: time.Date(2030, 2, 10, 6, 0, 0, 0, time.UTC)}
	client := newClient(t, testserver.SharedRedis(t).Addr())
	s := newStore(t, client, redisstore.Config{Prefix: uniquePrefix(), Now: c.Now, MaxAnswerBytes: limit})
	ctx := t.Context()
	fp := fingerprint("GET /export")
	fits, big := answerOfSize(t, limit), answerOfSize(t, limit+1)
	for _, tc := range []struct {
		name string
		a    *idempotency.Answer
		kept bool
	}{{"at the limit", fits, true}, {"a byte over", big, false}} {
		if _, ok, err := s.Begin(ctx, "acct", tc.name, fp, 1, time.Minute); err != nil || !ok {
			t.Fatalf("Begin = %v, %v", ok, err)
		}
		if ok, err := s.Finish(ctx, "acct", tc.name, 1, tc.a, time.Hour); err != nil || ok != tc.kept {
			t.Errorf("%s: Finish = %v, %v; want %v", tc.name, ok, err, tc.kept)
		}
		_, free, err := s.Begin(ctx, "acct", tc.name, fp, 2, time.Minute)
		if err != nil || free == tc.kept {
			t.Errorf("%s: Begin after Finish claimed = %v, %v; want %v", tc.name, free, err, !tc.kept)
		}
	}
}

// TestBadAnswer checks that an answer that cannot be encoded is an error
// of its own, not ErrUnavailable, and frees the key.
func TestBadAnswer(t *testing.T) {
	s := newStore(t, newClient(t, testserver.SharedRedis(t).Addr()), redisstore.Config{Prefix: uniquePrefix()})
	ctx := t.Context()
	fp := fingerprint("POST /v1/monitors")
	if _, ok, err := s.Begin(ctx, "acct", "k", fp, 1, time.Minute); err != nil || !ok {
		t.Fatalf("Begin = %v, %v", ok, err)
	}
	ok, err := s.Finish(ctx, "acct", "k", 1, &idempotency.Answer{Status: 42}, time.Hour)
	if ok || err == nil || errors.Is(err, idempotency.ErrUnavailable) || !strings.HasPrefix(err.Error(), "redisstore: ") {
		t.Errorf("Finish of status 42 = %v, %v; want a redisstore: error, not ErrUnavailable", ok, err)
	}
	if _, ok, err := s.Begin(ctx, "acct", "k", fp, 2, time.Minute); err != nil || !ok {
		t.Errorf("Begin after the failed Finish = %v, %v; want the key free", ok, err)
	}
}

// TestDurations checks that negative durations count as 0 and that very
// long ones are cut to MaxDuration.
func TestDurations(t *testing.T) {
	c := &clock{t: time.Date(2030, 2, 10, 6, 0, 0, 0, time.UTC)}
	client := newClient(t, testserver.SharedRedis(t).Addr())
	s := newStore(t, client, redisstore.Config{Prefix: uniquePrefix(), Now: c.Now})
	ctx := t.Context()
	fp := fingerprint("POST /v1/monitors")
	if _, ok, err := s.Begin(ctx, "acct", "neg", fp, 1, -time.Hour); err != nil || !ok {
		t.Fatalf("Begin = %v, %v", ok, err)
	}
	if _, ok, err := s.Begin(ctx, "acct", "neg", fp, 2, time.Minute); err != nil || !ok {
		t.Errorf("Begin after a claim locked for -1h = %v, %v; want the key free", ok, err)
	}
	if _, ok, err := s.Begin(ctx, "acct", "long", fp, 1, time.Minute); err != nil || !ok {
		t.Fatalf("Begin = %v, %v", ok, err)
	}
	if ok, err := s.Finish(ctx, "acct", "long", 1, created, 1<<62); err != nil || !ok {
		t.Fatalf("Finish = %v, %v", ok, err)
	}
	until, err := client.HGet(ctx, redisstore.Key(s, "acct", "long"), "until").Int64()
	if want := c.Now().Add(redisstore.MaxDuration).UnixMicro(); err != nil || until != want {
		t.Errorf("until of an answer kept for 146 years = %d, %v; want %d (MaxDuration)", until, err, want)
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
	s := newStore(t, good, redisstore.Config{})
	if got, want := redisstore.Key(s, "a", "k"), redisstore.DefaultPrefix+"{a:k}"; got != want {
		t.Errorf("default key %q, want %q", got, want)
	}
}

// TestForeignValue checks that a value the Store did not write under a
// record's key is an error wrapping ErrUnavailable, not a guess.
func TestForeignValue(t *testing.T) {
	client := newClient(t, testserver.SharedRedis(t).Addr())
	s := newStore(t, client, redisstore.Config{Prefix: uniquePrefix(), Timeout: 5 * time.Second})
	ctx := t.Context()
	far := strconv.FormatInt(time.Now().Add(time.Hour).UnixMicro(), 10)
	fp := fingerprint("x")
	for _, tc := range []struct {
		name  string
		write func(key string) error
		want  string
	}{
		{"string", func(k string) error { return client.Set(ctx, k, "x", time.Minute).Err() }, "WRONGTYPE"},
		{"bad until", func(k string) error { return client.HSet(ctx, k, "until", "soon", "token", "1").Err() }, "malformed record"},
		{"no fingerprint", func(k string) error { return client.HSet(ctx, k, "until", far, "token", "1").Err() }, "malformed fingerprint"},
		{"bad answer", func(k string) error {
			return client.HSet(ctx, k, "until", far, "token", "1", "fp", string(fp[:]), "answer", "\x09junk").Err()
		}, "malformed encoded answer"},
	} {
		key := redisstore.Key(s, "acct", tc.name)
		if err := tc.write(key); err != nil {
			t.Fatal(err)
		}
		rec, ok, err := s.Begin(ctx, "acct", tc.name, fp, 2, time.Minute)
		if ok || rec != (idempotency.Record{}) || !errors.Is(err, idempotency.ErrUnavailable) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Begin = %+v, %v, %v; want ErrUnavailable (%s)", tc.name, rec, ok, err, tc.want)
		}
	}
	if err := client.HSet(ctx, redisstore.Key(s, "acct", "finish"), "until", "soon", "token", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Finish(ctx, "acct", "finish", 1, created, time.Hour); ok || !errors.Is(err, idempotency.ErrUnavailable) {
		t.Errorf("Finish on a malformed record = %v, %v; want ErrUnavailable", ok, err)
	}
}

// TestUnavailable checks every method against a Redis that is not there:
// errors wrapping ErrUnavailable, with the package prefix, and no claim.
func TestUnavailable(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true, MaxRetries: -1})
	defer dead.Close()
	s := newStore(t, dead, redisstore.Config{})
	ctx := t.Context()
	rec, ok, err := s.Begin(ctx, "acct", "k", fingerprint("x"), 1, time.Minute)
	if ok || rec != (idempotency.Record{}) || !errors.Is(err, idempotency.ErrUnavailable) || !strings.HasPrefix(err.Error(), "redisstore: begin: ") {
		t.Errorf("Begin = %+v, %v, %v; want a redisstore: begin: error wrapping ErrUnavailable", rec, ok, err)
	}
	if ok, err := s.Finish(ctx, "acct", "k", 1, created, time.Hour); ok || !errors.Is(err, idempotency.ErrUnavailable) {
		t.Errorf("Finish = %v, %v; want ErrUnavailable", ok, err)
	}
	if err := s.Release(ctx, "acct", "k", 1); !errors.Is(err, idempotency.ErrUnavailable) {
		t.Errorf("Release = %v; want ErrUnavailable", err)
	}
}
