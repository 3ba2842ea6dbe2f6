package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/examples/server/service"
	"github.com/gatekey/gatekey/internal/testserver"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testserver.CloseShared()
	os.Exit(code)
}

var schemas atomic.Int64

// fleet is two replicas of the fleet's service on shared stores: a fresh
// schema of the shared PostgreSQL, and a Redis of the test's own, which
// the test may kill.
type fleet struct {
	dsn      string // the replicas' database
	redis    *testserver.Redis
	replicas []*httptest.Server
	admin    string
}

// newFleet starts two replicas whose admin account is limited to
// 5/minute; edit, if set, changes each replica's Config after
// useSharedStores.
func newFleet(t *testing.T, edit func(*service.Config)) *fleet {
	t.Helper()
	return newFleetWith(t, 0, edit)
}

// newFleetWith is newFleet with Redis calls bounded by redisTimeout (0:
// the stores' default, 100ms).
func newFleetWith(t *testing.T, redisTimeout time.Duration, edit func(*service.Config)) *fleet {
	t.Helper()
	pg := testserver.SharedPostgres(t)
	rd := testserver.StartRedis(t)
	schema := fmt.Sprintf("fleet%d", schemas.Add(1))
	admin, err := sql.Open("pgx", pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// An identifier made by the test, never a value.
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	tok, err := apikey.Format{}.Generate(rand.Reader, apikey.SecretKey, apikey.Test)
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{dsn: pg.DSN("search_path=" + schema), redis: rd, admin: tok.Reveal()}
	for range 2 {
		subscribed := &lineSignal{want: "key change feed subscribed", seen: make(chan struct{})}
		cfg := service.Config{
			Rate:     ratelimit.MustParsePolicy("5/minute"),
			AdminKey: f.admin,
			Logger:   slog.New(slog.NewTextHandler(subscribed, nil)),
		}
		closeStores, err := useSharedStores(context.Background(), &cfg, f.dsn, rd.Addr(), redisTimeout)
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(&cfg)
		}
		s, err := service.New(cfg)
		if err != nil {
			closeStores()
			t.Fatal(err)
		}
		srv := httptest.NewServer(s.Handler())
		t.Cleanup(func() {
			srv.Close()
			s.Close()
			closeStores()
		})
		f.replicas = append(f.replicas, srv)
		// The feed's first subscription drops the replica's cache: wait
		// for it, so that what the test caches stays cached.
		select {
		case <-subscribed.seen:
		case <-time.After(20 * time.Second):
			t.Fatal("the replica's key change feed did not subscribe within 20s")
		}
	}
	return f
}

// lineSignal is a log output that closes seen at the first line holding
// want.
type lineSignal struct {
	want string
	once sync.Once
	seen chan struct{}
}

func (l *lineSignal) Write(p []byte) (int, error) {
	if strings.Contains(string(p), l.want) {
		l.once.Do(func() { close(l.seen) })
	}
	return len(p), nil
}

// me asks replica i for /v1/me with the admin key, and returns the status
// and whether the answer had the RateLimit headers.
func (f *fleet) me(t *testing.T, i int) (int, bool) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.replicas[i].URL+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+f.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	return resp.StatusCode, resp.Header.Get("RateLimit") != "" && resp.Header.Get("RateLimit-Policy") != ""
}

// TestRedisDownFailsClosed: the fleet's choice. A key that has spent its
// 5/minute across both replicas stays refused when Redis dies: every
// request is 503, on both replicas, never a free pass.
func TestRedisDownFailsClosed(t *testing.T) {
	f := newFleet(t, nil)
	var codes []int
	for i := range 6 {
		c, _ := f.me(t, i%2)
		codes = append(codes, c)
	}
	if want := []int{200, 200, 200, 200, 200, 429}; !slices.Equal(codes, want) {
		t.Fatalf("5/minute across two replicas: %v, want %v", codes, want)
	}
	f.redis.Kill()
	for i := range 10 {
		if c, _ := f.me(t, i%2); c != http.StatusServiceUnavailable {
			t.Errorf("replica %d with Redis down: %d, want 503", i%2, c)
		}
	}
}

// TestRedisDownFailOpen: the other choice, the service's default. With
// Redis down each replica applies the policy on its own, with the
// RateLimit headers: 5 a minute per replica, then 429.
//
// Credits and idempotency keys, in Redis too, fail closed whatever the
// rate limit does: a metered request and a write with an Idempotency-Key
// get 503 and change nothing.
func TestRedisDownFailOpen(t *testing.T) {
	f := newFleet(t, func(cfg *service.Config) { cfg.RateLimitFailClosed = false })
	if c, _ := f.me(t, 0); c != 200 {
		t.Fatalf("before the outage: %d", c)
	}
	free := f.createKeyWith(t, 0, `{"name":"free","tier":"free"}`)
	f.redis.Kill()
	if c := f.get(t, 1, "/v1/monitors", free); c != http.StatusServiceUnavailable {
		t.Errorf("a metered request with the credits store down: %d, want 503", c)
	}
	if c := f.post(t, 1, free, "/v1/monitors", `{"name":"m","url":"https://example.com/"}`, "retry-1"); c != http.StatusServiceUnavailable {
		t.Errorf("a write with an Idempotency-Key, its store down: %d, want 503", c)
	}
	for i := range 2 {
		var codes []int
		for range 6 {
			c, headers := f.me(t, i)
			codes = append(codes, c)
			if !headers {
				t.Errorf("replica %d with Redis down: %d without the RateLimit headers", i, c)
			}
		}
		if want := []int{200, 200, 200, 200, 200, 429}; !slices.Equal(codes, want) {
			t.Errorf("replica %d with Redis down, 5/minute on its own: %v, want %v", i, codes, want)
		}
	}
}

// TestHungKeyStore: PostgreSQL answers nothing (the key table is locked
// by another session): a key no replica has cached gets 503 with
// Retry-After after the Verifier's LookupTimeout (1 s by default), not a
// hung request nor a 401, while cached keys keep working; when the
// database answers again, so does the key.
func TestHungKeyStore(t *testing.T) {
	f := newFleet(t, nil)
	if c, _ := f.me(t, 1); c != 200 { // the admin key, now cached on B
		t.Fatalf("admin on B: %d", c)
	}
	key := f.createKey(t, 0)

	db, err := sql.Open("pgx", f.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(t.Context(), "LOCK TABLE gatekey_api_keys IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if c := f.get(t, 1, "/v1/me", key); c != http.StatusServiceUnavailable {
		t.Errorf("an uncached key with the key store hung: %d, want 503", c)
	}
	t.Logf("answered 503 after %v (LookupTimeout 1s)", time.Since(start).Round(10*time.Millisecond))
	if c, _ := f.me(t, 1); c != 200 {
		t.Errorf("a cached key with the key store hung: %d, want 200", c)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if c := f.get(t, 1, "/v1/me", key); c != 200 {
		t.Errorf("the key once the store answers again: %d, want 200", c)
	}
}

// createKey creates a read-write key on replica i with the admin key.
func (f *fleet) createKey(t *testing.T, i int) string {
	t.Helper()
	return f.createKeyWith(t, i, `{"name":"k"}`)
}

// post sends a POST with an Idempotency-Key to replica i, and returns the
// status.
func (f *fleet) post(t *testing.T, i int, key, path, body, idemKey string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", f.replicas[i].URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idemKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// createKeyWith creates a key on replica i with the admin key.
func (f *fleet) createKeyWith(t *testing.T, i int, body string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", f.replicas[i].URL+"/v1/keys", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var k struct{ Key string }
	if err := json.NewDecoder(resp.Body).Decode(&k); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create a key: %d %v", resp.StatusCode, err)
	}
	return k.Key
}

// get returns the status of GET path on replica i with key.
func (f *fleet) get(t *testing.T, i int, path, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", f.replicas[i].URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestAuthFailuresShared: failed authentications are counted across the
// fleet: 3 a minute per address means 3 guesses on either replica, then
// 429 on both, valid keys included.
func TestAuthFailuresShared(t *testing.T) {
	f := newFleet(t, func(cfg *service.Config) { cfg.AuthFailureRate = ratelimit.PerMinute(3) })
	guess, err := apikey.Format{}.Generate(rand.Reader, apikey.SecretKey, apikey.Test)
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	for i := range 4 {
		codes = append(codes, f.get(t, i%2, "/v1/me", guess.Reveal()))
	}
	if want := []int{401, 401, 401, 429}; !slices.Equal(codes, want) {
		t.Errorf("guesses alternating between replicas: %v, want %v", codes, want)
	}
	for i := range 2 {
		if c := f.get(t, i, "/v1/me", f.admin); c != http.StatusTooManyRequests {
			t.Errorf("a valid key from the blocked address on replica %d: %d, want 429", i, c)
		}
	}
}

// TestFloodOfMadeUpKeys: 200 clients send well-formed keys that exist
// nowhere (valid checksums, random ids: every one a store look-up) from
// 250 addresses, while genuine keys are used from another address: the
// cached ones, and 40 that the replica has never seen, each needing a
// look-up of its own. Every genuine request succeeds: the bounded pool
// makes look-ups queue instead of exhausting PostgreSQL's connections,
// and the throttle soon refuses the flooding addresses before their
// look-ups. Redis calls get 2s here, not 100ms: what is tested is the key
// store's bounds, and on a busy 2-core machine under the race detector a
// Redis round trip amid 200 flooding clients can take longer than 100ms
// (the fleet then answers 503, failing closed, as it should).
func TestFloodOfMadeUpKeys(t *testing.T) {
	proxies, err := middleware.ParseTrustedProxies("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	f := newFleetWith(t, 2*time.Second, func(cfg *service.Config) {
		cfg.TrustedProxies = proxies
		cfg.AuthFailureRate = ratelimit.PerMinute(5)
		cfg.Rate = ratelimit.MustParsePolicy("100000/minute")
	})
	const genuine = 40
	keys := make([]string, genuine)
	for i := range keys {
		keys[i] = f.createKey(t, 0) // made on A: B has never seen them
	}
	var why sync.Map // what the 5xx said, by message
	from := func(key, addr string) int {
		req, _ := http.NewRequest("GET", f.replicas[1].URL+"/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("X-Forwarded-For", addr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			why.Store(string(body), true)
		}
		return resp.StatusCode
	}
	defer why.Range(func(k, _ any) bool { t.Logf("a 5xx said: %.200s", k); return true })
	if c := from(f.admin, "192.0.2.1"); c != 200 { // cached on B from now on
		t.Fatalf("admin on B: %d", c)
	}

	const clients, perClient = 200, 10
	var sent, refused atomic.Int64
	started := make(chan struct{})
	var flood sync.WaitGroup
	for c := range clients {
		flood.Go(func() {
			for i := range perClient {
				tok, err := apikey.Format{}.Generate(rand.Reader, apikey.SecretKey, apikey.Test)
				if err != nil {
					t.Error(err)
					return
				}
				n := c*perClient + i
				code := from(tok.Reveal(), fmt.Sprintf("10.0.0.%d", n%250+1))
				if code != 401 && code != 429 {
					refused.Add(1)
				}
				if sent.Add(1) == clients {
					close(started)
				}
			}
		})
	}
	<-started // the flood is under way
	var failed []int
	var mu sync.Mutex
	var users sync.WaitGroup
	for i := range genuine {
		users.Go(func() {
			for _, k := range []string{keys[i], f.admin} {
				if c := from(k, "192.0.2.1"); c != 200 {
					mu.Lock()
					failed = append(failed, c)
					mu.Unlock()
				}
			}
		})
	}
	users.Wait()
	flood.Wait()
	if len(failed) > 0 {
		t.Errorf("%d of %d genuine requests during the flood failed: %v", len(failed), 2*genuine, failed)
	}
	t.Logf("flood: %d made-up keys, %d answered other than 401 or 429", sent.Load(), refused.Load())
}
