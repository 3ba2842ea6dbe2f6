package middleware_test

// Adversarial tests of the credits part of the middleware (Credits, Cost,
// RequireTier) behind the Gate, written from the documented contract (the
// Gate's order of checks, the Credits docs, the README's error table):
// refused requests must spend nothing, spending must be exact under
// contention, the 402 must say what the contract says and no more, and a
// failing store must fail closed.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/apikeytest"
	"github.com/gatekey/gatekey/credits"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

// advStart is the worlds' clock at the start: 2026-11-30 12:00 UTC, so
// that the month ends 12 hours later.
var advStart = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

var (
	advDecember = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	advJanuary  = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
)

// advCountingStore wraps a credits.Store and counts what reaches it.
type advCountingStore struct {
	inner      credits.Store
	spends     atomic.Int64 // Spend calls with a cost above 0
	reads      atomic.Int64 // Spend calls with a cost of 0
	grants     atomic.Int64
	mu         sync.Mutex
	accounts   map[string]int
	failWith   error // when set, every call fails with it
	panicValue any   // when set, every call panics with it
}

func (s *advCountingStore) Spend(ctx context.Context, account string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
	if cost > 0 {
		s.spends.Add(1)
	} else {
		s.reads.Add(1)
	}
	s.mu.Lock()
	if s.accounts == nil {
		s.accounts = map[string]int{}
	}
	s.accounts[account]++
	s.mu.Unlock()
	if s.panicValue != nil {
		panic(s.panicValue)
	}
	if s.failWith != nil {
		return credits.Balance{}, false, s.failWith
	}
	return s.inner.Spend(ctx, account, a, cost)
}

func (s *advCountingStore) Grant(ctx context.Context, account string, a credits.Allowance, n int64) (credits.Balance, error) {
	s.grants.Add(1)
	if s.failWith != nil {
		return credits.Balance{}, s.failWith
	}
	return s.inner.Grant(ctx, account, a, n)
}

func (s *advCountingStore) calls() int64 { return s.spends.Load() + s.reads.Load() + s.grants.Load() }

// advWorld is a Gate over metered routes, with keys of several accounts,
// every clock fake.
type advWorld struct {
	clock  *apikeytest.Clock
	mgr    *apikey.Manager
	keys   map[string]string
	recs   map[string]*apikey.Key
	mem    *credits.MemoryStore
	store  *advCountingStore
	cr     *middleware.Credits
	h      http.Handler
	logs   *bytes.Buffer
	logMu  *sync.Mutex
	ran    sync.Map // route name → *atomic.Int64
	evMu   sync.Mutex
	events []middleware.CreditsEvent
}

// free is the allowance of the "free" tier and of keys with no tier.
type advOptions struct {
	free     int64
	failOpen bool
	low      int64
	public   []string
}

type advSyncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w advSyncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func newAdvWorld(t *testing.T, o advOptions) *advWorld {
	t.Helper()
	if o.free == 0 {
		o.free = 3
	}
	w := &advWorld{
		clock: apikeytest.NewClock(advStart),
		keys:  map[string]string{},
		recs:  map[string]*apikey.Key{},
		logs:  &bytes.Buffer{},
		logMu: &sync.Mutex{},
	}
	mgr, err := apikey.NewManager(&apikey.MemoryStore{}, apikey.ManagerConfig{
		Verifier: apikey.VerifierConfig{Now: w.clock.Now, LastUsedInterval: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() })
	w.mgr = mgr
	ctx := context.Background()
	rw := func(owner, tier string) apikey.CreateParams {
		return apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite, Owner: owner, Tier: tier}
	}
	specs := map[string]apikey.CreateParams{
		"alice1":     rw("acme", "free"),
		"alice2":     rw("acme", "free"),
		"alice-ro":   {Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadOnly, Owner: "acme", Tier: "free"},
		"alice-pk":   {Type: apikey.PublishableKey, Environment: apikey.Live, Owner: "acme", Tier: "free"},
		"alice-test": {Type: apikey.SecretKey, Environment: apikey.Test, Permission: apikey.ReadWrite, Owner: "acme", Tier: "free"},
		"office":     {Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite, Owner: "acme", Tier: "free", AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}},
		"expiring":   {Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite, Owner: "acme", Tier: "free", ExpiresAt: advStart.Add(time.Hour)},
		"revoked":    rw("acme", "free"),
		"disabled":   rw("acme", "free"),
		"limited":    rw("acme", "free"),
		"solo1":      rw("", "free"),
		"solo2":      rw("", "free"),
		"pro":        rw("bigco", "pro"),
		"pro2":       rw("bigco", "pro"),
		"staff":      rw("staff", "staff"),
	}
	for name, p := range specs {
		p.Name = name
		tok, rec, err := mgr.Create(ctx, p)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		w.keys[name] = tok.Reveal()
		w.recs[name] = rec
	}
	if _, err := mgr.Revoke(ctx, w.recs["revoked"].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.Disable(ctx, w.recs["disabled"].ID); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(2 * time.Hour) // "expiring" has expired: 14:00 UTC

	w.mem = credits.NewMemoryStore(credits.MemoryConfig{Now: w.clock.Now})
	w.store = &advCountingStore{inner: w.mem}
	handle := func(name string) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			c, _ := w.ran.LoadOrStore(name, new(atomic.Int64))
			c.(*atomic.Int64).Add(1)
			rw.WriteHeader(http.StatusOK)
		})
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/things", handle("things"))
	mux.Handle("POST /v1/things", handle("create"))
	mux.Handle("GET /v1/me", middleware.Cost(0)(handle("me")))
	mux.Handle("GET /healthz", handle("health"))
	mux.Handle("POST /v1/things/{id}/checks", middleware.RequireTier("pro")(middleware.Cost(5)(handle("checks"))))
	mux.Handle("POST /v1/things/{id}/audit", middleware.Cost(5)(middleware.RequireTier("pro")(handle("audit"))))
	mux.Handle("POST /v1/things/{id}/wcheck", middleware.Cost(5)(middleware.RequireWrite(middleware.RequireTier("pro")(handle("wcheck")))))
	mux.Handle("GET /v1/secret", middleware.RequireSecret(handle("secret")))
	mux.Handle("GET /v1/costly-secret", middleware.Cost(2)(middleware.RequireSecret(handle("costly-secret"))))
	mux.Handle("GET /v1/scoped", middleware.RequireScopes("things:admin")(handle("scoped")))
	mux.Handle("GET /v1/costly-scoped", middleware.Cost(2)(middleware.RequireScopes("things:admin")(handle("costly-scoped"))))
	mux.Handle("GET /v1/live", middleware.RequireEnvironment(apikey.Live)(handle("live")))
	mux.Handle("GET /v1/costly-live", middleware.Cost(2)(middleware.RequireEnvironment(apikey.Live)(handle("costly-live"))))
	mux.Handle("GET /v1/huge", middleware.Cost(credits.MaxCredits)(handle("huge")))

	w.cr = &middleware.Credits{
		Store: w.store,
		AllowanceFor: func(k *apikey.Key) (credits.Allowance, bool) {
			switch k.Tier {
			case "pro":
				return credits.PerMonth(100), true
			case "staff":
				return credits.Allowance{}, false
			}
			return credits.PerMonth(o.free), true
		},
		FailOpen:   o.failOpen,
		LowBalance: o.low,
		OnEvent: func(_ *http.Request, _ *apikey.Key, e middleware.CreditsEvent) {
			w.evMu.Lock()
			w.events = append(w.events, e)
			w.evMu.Unlock()
		},
	}
	logger := slog.New(slog.NewTextHandler(advSyncWriter{w.logMu, w.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w.h = (&middleware.Gate{
		Auth: middleware.Authenticator{Verifier: mgr},
		RateLimit: &middleware.RateLimiter{
			Policy: ratelimit.MustParsePolicy("2/minute"),
			Store:  ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: w.clock.Now}),
			// Only the "limited" key is rate-limited, so that the
			// others never meet a 429 by accident.
			Key: func(r *http.Request) string {
				if k, ok := middleware.KeyFromContext(r.Context()); ok && k.Name == "limited" {
					return k.ID
				}
				return ""
			},
		},
		Credits: w.cr,
		Public:  o.public,
		Logger:  logger,
	}).Handler(mux)
	t.Cleanup(func() { w.checkLogs(t) })
	return w
}

func (w *advWorld) ranCount(name string) int64 {
	c, ok := w.ran.Load(name)
	if !ok {
		return 0
	}
	return c.(*atomic.Int64).Load()
}

func (w *advWorld) ranTotal() int64 {
	var n int64
	w.ran.Range(func(_, v any) bool { n += v.(*atomic.Int64).Load(); return true })
	return n
}

func (w *advWorld) do(method, path, key string, mods ...func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	for _, m := range mods {
		m(r)
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	return rec
}

// remaining reads an account's balance from the memory store under the
// documented account name (the key's Owner, else its id).
func (w *advWorld) remaining(t *testing.T, account string, a credits.Allowance) int64 {
	t.Helper()
	b, ok, err := w.mem.SpendAt(w.clock.Now(), account, a, 0)
	if err != nil || !ok {
		t.Fatalf("reading %q: %v %v", account, ok, err)
	}
	return b.Remaining
}

// checkLogs fails when a log line holds a key's plaintext or secret part.
func (w *advWorld) checkLogs(t *testing.T) {
	w.logMu.Lock()
	logs := w.logs.String()
	w.logMu.Unlock()
	for name, k := range w.keys {
		for _, s := range advSecretForms(k) {
			if strings.Contains(logs, s) {
				t.Errorf("logs contain the secret of key %q", name)
			}
		}
	}
}

// advSecretForms is what must never be echoed of a key: the key and its
// 32-character secret (body = id(12) secret(32) checksum(6)).
func advSecretForms(k string) []string {
	body := k[len(k)-50:]
	return []string{k, body[12:44]}
}

func advWantError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) *apierrors.Error {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d %s; body %s", rec.Code, status, code, rec.Body)
	}
	e, err := apierrors.Decode(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("body %q is not a JSON error: %v", rec.Body, err)
	}
	if e.Status != status || string(e.Code) != code {
		t.Errorf("error {%d %q}, want {%d %q}", e.Status, e.Code, status, code)
	}
	if e.Message == "" {
		t.Errorf("error %q has no message", e.Code)
	}
	if rid := rec.Header().Get("X-Request-Id"); rid == "" || e.RequestID != rid {
		t.Errorf("request_id %q, X-Request-Id %q; want them equal and set", e.RequestID, rid)
	}
	return e
}

func advNoLeak(t *testing.T, rec *httptest.ResponseRecorder, keys map[string]string, extra ...string) {
	t.Helper()
	var all strings.Builder
	all.Write(rec.Body.Bytes())
	for k, vs := range rec.Header() {
		all.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	for name, k := range keys {
		for _, s := range advSecretForms(k) {
			if strings.Contains(all.String(), s) {
				t.Errorf("response leaks the secret of key %q", name)
			}
		}
	}
	for _, s := range extra {
		if strings.Contains(all.String(), s) {
			t.Errorf("response leaks %q: %s", s, rec.Body)
		}
	}
}

// advWrongSecret returns key with its secret changed and a valid checksum.
func advWrongSecret(key string) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	prefix, body := key[:len(key)-50], key[len(key)-50:]
	sec := []byte(body[12:44])
	for i := range sec {
		sec[i] = digits[(strings.IndexByte(digits, sec[i])+1)%62]
	}
	s := prefix + body[:12] + string(sec)
	return s + checksum(s)
}

// TestAdvCreditsRefusedRequestsSpendNothing: every request refused before
// its handler, whatever the reason, spends nothing: the store is not asked
// to spend, the handler does not run.
func TestAdvCreditsRefusedRequestsSpendNothing(t *testing.T) {
	w := newAdvWorld(t, advOptions{free: 50})
	alice := w.keys["alice1"]
	for _, tc := range []struct {
		name, method, path, key string
		mods                    []func(*http.Request)
		status                  int
		code                    string
	}{
		{"no key", "GET", "/v1/things", "", nil, 401, "missing_api_key"},
		{"no key, paid route", "POST", "/v1/things/x/checks", "", nil, 401, "missing_api_key"},
		{"malformed key", "GET", "/v1/things", "sk_live_nonsense", nil, 401, "invalid_api_key"},
		{"wrong secret", "GET", "/v1/things", advWrongSecret(alice), nil, 401, "invalid_api_key"},
		{"expired", "GET", "/v1/things", w.keys["expiring"], nil, 401, "expired_api_key"},
		{"revoked", "GET", "/v1/things", w.keys["revoked"], nil, 401, "revoked_api_key"},
		{"disabled", "GET", "/v1/things", w.keys["disabled"], nil, 401, "disabled_api_key"},
		{"two Authorization lines", "GET", "/v1/things", alice, []func(*http.Request){func(r *http.Request) { r.Header.Add("Authorization", "Bearer "+alice) }}, 400, "ambiguous_credentials"},
		{"outside allowed networks", "GET", "/v1/things", w.keys["office"], nil, 403, "ip_not_allowed"},
		{"read-only key, write route", "POST", "/v1/things", w.keys["alice-ro"], nil, 403, "insufficient_permissions"},
		{"read-only key, paid write route", "POST", "/v1/things/x/checks", w.keys["alice-ro"], nil, 403, "insufficient_permissions"},
		{"publishable key, secret route", "GET", "/v1/secret", w.keys["alice-pk"], nil, 403, "secret_key_required"},
		{"publishable key, costly secret route", "GET", "/v1/costly-secret", w.keys["alice-pk"], nil, 403, "secret_key_required"},
		{"missing scope", "GET", "/v1/scoped", alice, nil, 403, "insufficient_scope"},
		{"missing scope, costly", "GET", "/v1/costly-scoped", alice, nil, 403, "insufficient_scope"},
		{"wrong environment", "GET", "/v1/live", w.keys["alice-test"], nil, 403, "environment_not_allowed"},
		{"wrong environment, costly", "GET", "/v1/costly-live", w.keys["alice-test"], nil, 403, "environment_not_allowed"},
		{"no route", "GET", "/v1/nowhere", alice, nil, 404, "not_found"},
		{"no route under a paid one", "POST", "/v1/things/x/checks/y", alice, nil, 404, "not_found"},
		{"wrong method", "PUT", "/v1/things", alice, nil, 405, "method_not_allowed"},
		{"wrong method, read-only key", "DELETE", "/v1/things", w.keys["alice-ro"], nil, 405, "method_not_allowed"},
		{"wrong method on paid route", "GET", "/v1/things/x/checks", alice, nil, 405, "method_not_allowed"},
		{"plan, Tier innermost", "POST", "/v1/things/x/checks", alice, nil, 402, "payment_required"},
		{"plan, Cost outermost", "POST", "/v1/things/x/audit", alice, nil, 402, "payment_required"},
		{"plan under RequireWrite under Cost", "POST", "/v1/things/x/wcheck", alice, nil, 402, "payment_required"},
		{"plan, unmetered account", "POST", "/v1/things/x/checks", w.keys["staff"], nil, 402, "payment_required"},
		{"CORS preflight without CORS", "OPTIONS", "/v1/things", "", []func(*http.Request){func(r *http.Request) {
			r.Header.Set("Origin", "https://evil.example")
			r.Header.Set("Access-Control-Request-Method", "GET")
		}}, 401, "missing_api_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, ran := w.store.spends.Load(), w.ranTotal()
			rec := w.do(tc.method, tc.path, tc.key, tc.mods...)
			advWantError(t, rec, tc.status, tc.code)
			if got := w.store.spends.Load() - before; got != 0 {
				t.Errorf("a %d %s spent credits: %d Spend calls with a cost reached the store", tc.status, tc.code, got)
			}
			if got := w.ranTotal() - ran; got != 0 {
				t.Errorf("a refused request ran a handler")
			}
			advNoLeak(t, rec, w.keys)
		})
	}
	free := credits.PerMonth(50)
	for _, acct := range []string{"acme", "bigco", w.recs["solo1"].ID} {
		if got := w.remaining(t, acct, free); got != 50 {
			t.Errorf("account %s has %d credits after refused requests, want 50", acct, got)
		}
	}

	// Rate limited (2/minute for the "limited" key): the two accepted
	// requests spend, the 429 does not.
	before := w.remaining(t, "acme", free)
	for i := range 2 {
		if rec := w.do("GET", "/v1/things", w.keys["limited"]); rec.Code != 200 {
			t.Fatalf("limited request %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	rec := w.do("GET", "/v1/things", w.keys["limited"])
	advWantError(t, rec, 429, "rate_limit_exceeded")
	if got := w.remaining(t, "acme", free); got != before-2 {
		t.Errorf("after 2 accepted and one 429: %d credits, want %d", got, before-2)
	}
}

// TestAdvCreditsRoutingBeforeCredits: an account with no credits left
// still gets 404, 405, 403 and the plan's 402 for what it gets wrong, not
// quota_exceeded; the free route still works.
func TestAdvCreditsRoutingBeforeCredits(t *testing.T) {
	w := newAdvWorld(t, advOptions{free: 1})
	alice := w.keys["alice1"]
	if rec := w.do("GET", "/v1/things", alice); rec.Code != 200 {
		t.Fatalf("first request: %d", rec.Code)
	}
	advWantError(t, w.do("GET", "/v1/things", alice), 402, "quota_exceeded")
	for _, tc := range []struct {
		method, path, key string
		status            int
		code              string
	}{
		{"GET", "/v1/nowhere", alice, 404, "not_found"},
		{"PUT", "/v1/things", alice, 405, "method_not_allowed"},
		{"POST", "/v1/things", w.keys["alice-ro"], 403, "insufficient_permissions"},
		{"POST", "/v1/things/x/checks", alice, 402, "payment_required"},
		{"POST", "/v1/things/x/audit", alice, 402, "payment_required"},
	} {
		advWantError(t, w.do(tc.method, tc.path, tc.key), tc.status, tc.code)
	}
	if rec := w.do("GET", "/v1/me", alice); rec.Code != 200 {
		t.Errorf("free route with no credits left: %d %s", rec.Code, rec.Body)
	}
}

// TestAdvCreditsCostZeroNeverTouchesStore: a free route (Cost(0)) does not
// spend, and with the store down it is still served: it needs nothing of
// the store. Public routes and unmetered accounts never reach the store
// at all.
func TestAdvCreditsCostZeroNeverTouchesStore(t *testing.T) {
	t.Run("free route", func(t *testing.T) {
		w := newAdvWorld(t, advOptions{})
		for range 10 {
			if rec := w.do("GET", "/v1/me", w.keys["alice1"]); rec.Code != 200 {
				t.Fatalf("GET /v1/me: %d %s", rec.Code, rec.Body)
			}
		}
		if n := w.store.spends.Load(); n != 0 {
			t.Errorf("a free route spent: %d Spend calls with a cost", n)
		}
		if n := w.store.calls(); n != 0 {
			t.Errorf("a free route reached the store %d times; a cost of 0 needs no store", n)
		}
	})
	t.Run("free route, store down", func(t *testing.T) {
		w := newAdvWorld(t, advOptions{})
		w.store.failWith = fmt.Errorf("%w: connection refused", credits.ErrUnavailable)
		if rec := w.do("GET", "/v1/me", w.keys["alice1"]); rec.Code != 200 {
			t.Errorf("GET /v1/me (cost 0) with the credits store down: %d %s; want 200", rec.Code, rec.Body)
		}
	})
	t.Run("public route with a key", func(t *testing.T) {
		w := newAdvWorld(t, advOptions{public: []string{"GET /healthz"}})
		w.store.failWith = fmt.Errorf("%w: connection refused", credits.ErrUnavailable)
		for _, key := range []string{"", w.keys["alice1"], "garbage"} {
			if rec := w.do("GET", "/healthz", key); rec.Code != 200 {
				t.Errorf("public route (key %.8q): %d %s", key, rec.Code, rec.Body)
			}
		}
		if n := w.store.calls(); n != 0 {
			t.Errorf("a public route reached the credits store %d times", n)
		}
	})
	t.Run("unmetered account", func(t *testing.T) {
		w := newAdvWorld(t, advOptions{})
		w.store.failWith = fmt.Errorf("%w: connection refused", credits.ErrUnavailable)
		for range 5 {
			if rec := w.do("GET", "/v1/things", w.keys["staff"]); rec.Code != 200 {
				t.Fatalf("unmetered key with the store down: %d %s", rec.Code, rec.Body)
			}
		}
		if n := w.store.calls(); n != 0 {
			t.Errorf("an unmetered account reached the credits store %d times", n)
		}
	})
}

// TestAdvCreditsConcurrentExact: 200 concurrent requests from two keys of
// one account against an allowance of 50: exactly 50 are served, 150 get
// 402 quota_exceeded, and the handler runs 50 times; likewise for a route
// costing 5.
func TestAdvCreditsConcurrentExact(t *testing.T) {
	for _, tc := range []struct {
		name            string
		free            int64
		method, path    string
		keys            []string
		account         string
		allowance       credits.Allowance
		route           string
		wantOK, wantRem int64
	}{
		{"cost 1", 50, "GET", "/v1/things", []string{"alice1", "alice2", "alice-ro"}, "acme", credits.PerMonth(50), "things", 50, 0},
		{"cost 5", 50, "POST", "/v1/things/x/checks", []string{"pro", "pro2"}, "bigco", credits.PerMonth(100), "checks", 20, 0},
		{"cost 5, Cost outermost", 50, "POST", "/v1/things/x/audit", []string{"pro", "pro2"}, "bigco", credits.PerMonth(100), "audit", 20, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newAdvWorld(t, advOptions{free: tc.free})
			var ok, quota, other atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 200 {
				key := w.keys[tc.keys[i%len(tc.keys)]]
				wg.Go(func() {
					<-start
					rec := w.do(tc.method, tc.path, key)
					switch {
					case rec.Code == 200:
						ok.Add(1)
					case rec.Code == 402 && strings.Contains(rec.Body.String(), `"quota_exceeded"`):
						quota.Add(1)
					default:
						other.Add(1)
						t.Errorf("unexpected answer %d %s", rec.Code, rec.Body)
					}
				})
			}
			close(start)
			wg.Wait()
			if ok.Load() != tc.wantOK || quota.Load() != 200-tc.wantOK {
				t.Errorf("%d served, %d quota_exceeded, %d other; want exactly %d served and %d refused", ok.Load(), quota.Load(), other.Load(), tc.wantOK, 200-tc.wantOK)
			}
			if got := w.ranCount(tc.route); got != tc.wantOK {
				t.Errorf("handler ran %d times, want %d", got, tc.wantOK)
			}
			if got := w.remaining(t, tc.account, tc.allowance); got != tc.wantRem {
				t.Errorf("balance %d, want %d", got, tc.wantRem)
			}
		})
	}
}

// TestAdvCreditsQuotaExceededAnswer: the 402 says what the contract says:
// code quota_exceeded, details credits_remaining (before the refused
// spend), credit_allowance and credits_reset_at (the next UTC 1st, RFC
// 3339), and no Retry-After.
func TestAdvCreditsQuotaExceededAnswer(t *testing.T) {
	w := newAdvWorld(t, advOptions{free: 3})
	for range 3 {
		if rec := w.do("GET", "/v1/things", w.keys["alice1"]); rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	// Spend pro down to 2: 100 - 19*5 = 5, then one more check: 0... use
	// a grant-free path: 98 credits of cost 1, leaving 2.
	for i := range 98 {
		if rec := w.do("GET", "/v1/things", w.keys["pro"]); rec.Code != 200 {
			t.Fatalf("pro request %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	for _, tc := range []struct {
		name, method, path, key string
		details                 map[string]any
	}{
		{"free, cost 1", "GET", "/v1/things", w.keys["alice2"], map[string]any{
			"credits_remaining": float64(0), "credit_allowance": float64(3), "credits_reset_at": "2026-12-01T00:00:00Z"}},
		{"pro, cost 5 with 2 left", "POST", "/v1/things/x/checks", w.keys["pro2"], map[string]any{
			"credits_remaining": float64(2), "credit_allowance": float64(100), "credits_reset_at": "2026-12-01T00:00:00Z"}},
		{"free, cost above any allowance", "GET", "/v1/huge", w.keys["alice1"], map[string]any{
			"credits_remaining": float64(0), "credit_allowance": float64(3), "credits_reset_at": "2026-12-01T00:00:00Z"}},
		{"pro, cost above any allowance", "GET", "/v1/huge", w.keys["pro"], map[string]any{
			"credits_remaining": float64(2), "credit_allowance": float64(100), "credits_reset_at": "2026-12-01T00:00:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := w.do(tc.method, tc.path, tc.key)
			e := advWantError(t, rec, 402, "quota_exceeded")
			if d := cmp.Diff(tc.details, e.Details); d != "" {
				t.Errorf("details (-want +got):\n%s", d)
			}
			if v, ok := rec.Header()["Retry-After"]; ok {
				t.Errorf("402 quota_exceeded has Retry-After %q; clients must not retry in a loop", v)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			// The raw body's details are exactly the three members.
			var raw struct {
				Error struct {
					Details map[string]json.RawMessage `json:"details"`
				} `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
				t.Fatal(err)
			}
			if len(raw.Error.Details) != 3 {
				t.Errorf("details has %d members, want the contract's 3: %s", len(raw.Error.Details), rec.Body)
			}
			advNoLeak(t, rec, w.keys, "acme", "bigco")
		})
	}
	if got := w.remaining(t, "bigco", credits.PerMonth(100)); got != 2 {
		t.Errorf("refused spends took credits: pro has %d, want 2", got)
	}
}

// TestAdvCreditsRefillAtBoundary: the balance refills at 00:00:00 UTC on
// the 1st, not a nanosecond before; a grant lasts until then and no
// longer; leftover credits do not carry over.
func TestAdvCreditsRefillAtBoundary(t *testing.T) {
	w := newAdvWorld(t, advOptions{free: 3})
	alice := w.keys["alice1"]
	free := credits.PerMonth(3)
	for range 3 {
		if rec := w.do("GET", "/v1/things", alice); rec.Code != 200 {
			t.Fatalf("%d", rec.Code)
		}
	}
	advWantError(t, w.do("GET", "/v1/things", alice), 402, "quota_exceeded")

	// A grant of 2 for the rest of November.
	if _, err := w.store.Grant(context.Background(), "acme", free, 2); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if rec := w.do("GET", "/v1/things", w.keys["alice2"]); rec.Code != 200 {
			t.Fatalf("granted request %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	// Another grant, then the last nanosecond of November: still November.
	if _, err := w.store.Grant(context.Background(), "acme", free, 5); err != nil {
		t.Fatal(err)
	}
	w.clock.Set(advDecember.Add(-time.Nanosecond))
	if rec := w.do("GET", "/v1/things", alice); rec.Code != 200 {
		t.Fatalf("last nanosecond of November with granted credits: %d %s", rec.Code, rec.Body)
	}
	if got := w.remaining(t, "acme", free); got != 4 {
		t.Fatalf("November's balance at its last nanosecond: %d, want 4", got)
	}
	// December 1st, 00:00:00 UTC: 3, not 3 + 4 left over.
	w.clock.Set(advDecember)
	if got := w.remaining(t, "acme", free); got != 3 {
		t.Errorf("December 1st: %d credits, want the allowance 3 (grants and leftovers gone)", got)
	}
	for range 3 {
		if rec := w.do("GET", "/v1/things", alice); rec.Code != 200 {
			t.Fatalf("December: %d %s", rec.Code, rec.Body)
		}
	}
	e := advWantError(t, w.do("GET", "/v1/things", alice), 402, "quota_exceeded")
	if got := e.Details["credits_reset_at"]; got != advJanuary.Format(time.RFC3339) {
		t.Errorf("December's credits_reset_at %v, want %s", got, advJanuary.Format(time.RFC3339))
	}
}

// TestAdvCreditsAccountIsOwnerElseKey: two keys of one owner share one
// balance; two keys without an owner have one each.
func TestAdvCreditsAccountIsOwnerElseKey(t *testing.T) {
	w := newAdvWorld(t, advOptions{free: 2})
	steps := []struct {
		key    string
		status int
	}{
		{"alice1", 200}, {"alice2", 200}, {"alice1", 402}, {"alice2", 402}, {"alice-ro", 402},
		{"solo1", 200}, {"solo1", 200}, {"solo1", 402}, {"solo2", 200}, {"solo2", 200}, {"solo2", 402},
		{"pro", 200}, // another owner
	}
	for i, s := range steps {
		if rec := w.do("GET", "/v1/things", w.keys[s.key]); rec.Code != s.status {
			t.Errorf("step %d (%s): %d, want %d: %s", i, s.key, rec.Code, s.status, rec.Body)
		}
	}
	// Revoking a key does not refund its account.
	if _, err := w.mgr.Revoke(context.Background(), w.recs["alice1"].ID); err != nil {
		t.Fatal(err)
	}
	advWantError(t, w.do("GET", "/v1/things", w.keys["alice2"]), 402, "quota_exceeded")
	// Rolling a key with an owner keeps the account's balance.
	tok, _, err := w.mgr.Roll(context.Background(), w.recs["alice2"].ID, apikey.RollParams{Grace: time.Hour})
	if err != nil {
		t.Fatalf("roll: %v", err)
	}
	w.keys["alice2-rolled"] = tok.Reveal()
	advWantError(t, w.do("GET", "/v1/things", tok.Reveal()), 402, "quota_exceeded")
	// Events name the account.
	w.evMu.Lock()
	defer w.evMu.Unlock()
	for _, e := range w.events {
		if e.Kind == middleware.CreditsExhausted && e.Account != "acme" && e.Account != w.recs["solo1"].ID && e.Account != w.recs["solo2"].ID {
			t.Errorf("CreditsExhausted for account %q", e.Account)
		}
	}
}

// TestAdvCreditsRollOwnerlessKeyKeepsBalance: "Rolling a key keeps its
// account's balance" (apikey.Manager.Roll), also for a key without an owner, whose
// account is the key itself: rolling must not be a way to a fresh month
// of credits.
func TestAdvCreditsRollOwnerlessKeyKeepsBalance(t *testing.T) {
	w := newAdvWorld(t, advOptions{free: 2})
	for range 2 {
		if rec := w.do("GET", "/v1/things", w.keys["solo1"]); rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	advWantError(t, w.do("GET", "/v1/things", w.keys["solo1"]), 402, "quota_exceeded")
	tok, _, err := w.mgr.Roll(context.Background(), w.recs["solo1"].ID, apikey.RollParams{Grace: time.Hour})
	if err != nil {
		t.Fatalf("roll: %v", err)
	}
	w.keys["solo1-rolled"] = tok.Reveal()
	if rec := w.do("GET", "/v1/things", tok.Reveal()); rec.Code != 402 {
		t.Errorf("the rolled successor of an ownerless key got a fresh balance: %d %s; rolling keeps the balance", rec.Code, rec.Body)
	}
}

// TestAdvCreditsStandaloneNoRouteSpendsNothing: Credits used alone in
// front of a ServeMux (Authenticator → Credits → mux) finds route costs
// through the Router; a request the mux answers 404 or 405 has been
// refused before any handler ran and spends nothing.
func TestAdvCreditsStandaloneNoRouteSpendsNothing(t *testing.T) {
	w := newAdvWorld(t, advOptions{free: 5})
	mux := http.NewServeMux()
	mux.Handle("GET /v1/things", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	mux.Handle("GET /v1/me", middleware.Cost(0)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	h := quietWriter((&middleware.Authenticator{Verifier: w.mgr, Logger: discardLogger()}).Handler(w.cr.Handler(mux)))
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/v1/nowhere", 404},
		{"DELETE", "/v1/things", 405},
		{"GET", "/v1/me", 200},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		r.Header.Set("Authorization", "Bearer "+w.keys["alice1"])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.status)
		}
	}
	if got := w.remaining(t, "acme", credits.PerMonth(5)); got != 5 {
		t.Errorf("404, 405 and a free route behind a standalone Credits spent %d credits", 5-got)
	}
}

// TestAdvCreditsStoreFailureFailsClosed: a store that errors, whatever
// its error, answers 503 service_unavailable with Retry-After, runs no
// handler, and leaks nothing of the error; with FailOpen it serves.
func TestAdvCreditsStoreFailureFailsClosed(t *testing.T) {
	const dsn = "redis://admin:hunter2@10.0.0.7:6379"
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"unavailable", fmt.Errorf("%w: dial %s: connection refused", credits.ErrUnavailable, dsn)},
		{"plain error", fmt.Errorf("dial %s: connection refused", dsn)},
		{"deadline", fmt.Errorf("%s: %w", dsn, context.DeadlineExceeded)},
		{"canceled", context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newAdvWorld(t, advOptions{})
			w.store.failWith = tc.err
			for _, rq := range []struct{ method, path, key string }{
				{"GET", "/v1/things", w.keys["alice1"]},
				{"POST", "/v1/things", w.keys["alice2"]},
				{"POST", "/v1/things/x/checks", w.keys["pro"]},
			} {
				rec := w.do(rq.method, rq.path, rq.key)
				if !errors.Is(tc.err, credits.ErrUnavailable) && rec.Code == 500 {
					// A store that breaks the Store contract (its
					// errors must wrap ErrUnavailable) may get a 500;
					// it must still fail closed and leak nothing.
					advWantError(t, rec, 500, "internal_error")
					advNoLeak(t, rec, w.keys, "hunter2", "10.0.0.7", "redis://")
					continue
				}
				if rec.Code != 503 {
					t.Errorf("%s %s with the store failing: %d %s; want 503", rq.method, rq.path, rec.Code, rec.Body)
					continue
				}
				advWantError(t, rec, 503, "service_unavailable")
				if rec.Header().Get("Retry-After") == "" {
					t.Errorf("503 without Retry-After")
				}
				advNoLeak(t, rec, w.keys, "hunter2", "10.0.0.7", "redis://")
			}
			if n := w.ranTotal(); n != 0 {
				t.Errorf("%d handlers ran while the store failed (fail-closed)", n)
			}
		})
	}
	t.Run("panicking store", func(t *testing.T) {
		w := newAdvWorld(t, advOptions{})
		w.store.panicValue = "credits backend exploded at " + dsn
		rec := w.do("GET", "/v1/things", w.keys["alice1"])
		advWantError(t, rec, 500, "internal_error")
		advNoLeak(t, rec, w.keys, "hunter2", "exploded")
		if n := w.ranTotal(); n != 0 {
			t.Errorf("handler ran after the store panicked")
		}
	})
	t.Run("fail open", func(t *testing.T) {
		w := newAdvWorld(t, advOptions{failOpen: true})
		w.store.failWith = fmt.Errorf("%w: connection refused", credits.ErrUnavailable)
		if rec := w.do("GET", "/v1/things", w.keys["alice1"]); rec.Code != 200 {
			t.Errorf("FailOpen with the store failing: %d %s; want 200", rec.Code, rec.Body)
		}
	})
}

// TestAdvCreditsEvents: CreditsExhausted for every quota refusal and only
// for those; CreditsLow once, for the spend that crosses LowBalance, even
// under contention.
func TestAdvCreditsEvents(t *testing.T) {
	w := newAdvWorld(t, advOptions{free: 50}) // LowBalance: a tenth, 5
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 100 {
		key := w.keys[[]string{"alice1", "alice2"}[i%2]]
		wg.Go(func() {
			<-start
			w.do("GET", "/v1/things", key)
		})
	}
	close(start)
	wg.Wait()
	advWantError(t, w.do("POST", "/v1/things/x/checks", w.keys["alice1"]), 402, "payment_required")
	advWantError(t, w.do("GET", "/v1/nowhere", w.keys["alice1"]), 404, "not_found")
	w.evMu.Lock()
	defer w.evMu.Unlock()
	var low, exhausted int
	for _, e := range w.events {
		switch e.Kind {
		case middleware.CreditsLow:
			low++
			if e.Balance.Remaining >= 5 {
				t.Errorf("CreditsLow with %d left, not below the low mark 5", e.Balance.Remaining)
			}
		case middleware.CreditsExhausted:
			exhausted++
		}
		if e.Account != "acme" {
			t.Errorf("event for account %q, want acme", e.Account)
		}
	}
	if low != 1 {
		t.Errorf("%d CreditsLow events, want exactly 1 (the spend that crossed the mark)", low)
	}
	if exhausted != 50 {
		t.Errorf("%d CreditsExhausted events, want 50 (one per quota refusal, none for payment_required or 404)", exhausted)
	}
}

// TestAdvCreditsSpendMethod: Credits.Spend is the decision without the
// answer: a cost of 0 reads, an invalid cost is an error that spends
// nothing and does not panic, an unmetered key reports true with the zero
// Balance without asking the store.
func TestAdvCreditsSpendMethod(t *testing.T) {
	w := newAdvWorld(t, advOptions{free: 3})
	call := func(name string, cost int64) (b credits.Balance, ok bool, panicked any, err error) {
		h := (&middleware.Authenticator{Verifier: w.mgr, Logger: discardLogger()}).Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			defer func() { panicked = recover() }()
			b, ok, err = w.cr.Spend(r, cost)
		}))
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+w.keys[name])
		h.ServeHTTP(httptest.NewRecorder(), r)
		return
	}
	b, ok, p, err := call("alice1", 0)
	if p != nil || err != nil || !ok || b.Remaining != 3 || !b.ResetAt.Equal(advDecember) || b.Allowance != credits.PerMonth(3) {
		t.Errorf("Spend(0): %+v %v %v %v", b, ok, err, p)
	}
	for _, cost := range []int64{-1, -1 << 62, credits.MaxCredits + 1} {
		_, ok, p, err := call("alice1", cost)
		if p != nil {
			t.Errorf("Spend(%d) panicked: %v", cost, p)
			continue
		}
		if err == nil || ok {
			t.Errorf("Spend(%d) = ok %v, err %v; want an error", cost, ok, err)
		}
		if !errors.Is(err, credits.ErrInvalidCost) {
			t.Errorf("Spend(%d) error %v does not wrap credits.ErrInvalidCost", cost, err)
		}
	}
	if got := w.remaining(t, "acme", credits.PerMonth(3)); got != 3 {
		t.Errorf("invalid spends took credits: %d left", got)
	}
	before := w.store.calls()
	b, ok, _, err = call("staff", 5)
	if err != nil || !ok || b != (credits.Balance{}) {
		t.Errorf("Spend for an unmetered key: %+v %v %v; want true and the zero Balance", b, ok, err)
	}
	if w.store.calls() != before {
		t.Errorf("Spend for an unmetered key reached the store")
	}
}

// TestAdvCreditsHandlerWithoutKey: Credits alone, with no Authenticator in
// front, answers 500 and neither spends nor serves.
func TestAdvCreditsHandlerWithoutKey(t *testing.T) {
	store := &advCountingStore{inner: credits.NewMemoryStore(credits.MemoryConfig{})}
	ran := false
	h := quietWriter((&middleware.Credits{Store: store, Allowance: credits.PerMonth(3), Logger: discardLogger()}).Handler(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true })))
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer sk_live_whatever")
	h.ServeHTTP(rec, r)
	if rec.Code != 500 || ran || store.calls() != 0 {
		t.Errorf("Credits without a key: %d, handler ran %v, %d store calls; want 500, no, 0", rec.Code, ran, store.calls())
	}
}

// TestAdvCreditsMisconfigurationPanics: bad costs, plans and a missing
// store panic when the route or handler is built, naming the package.
func TestAdvCreditsMisconfigurationPanics(t *testing.T) {
	h := http.NotFoundHandler()
	for _, tc := range []struct {
		name string
		f    func()
		want []string
	}{
		{"negative cost", func() { middleware.Cost(-1) }, []string{"middleware"}},
		{"cost above MaxCredits", func() { middleware.Cost(credits.MaxCredits + 1) }, []string{"middleware"}},
		{"no tiers", func() { middleware.RequireTier() }, []string{"middleware"}},
		{"empty tier", func() { middleware.RequireTier("pro", "") }, []string{"middleware"}},
		{"no store", func() { (&middleware.Credits{Allowance: credits.PerMonth(3)}).Handler(h) }, []string{"middleware", "Store"}},
		{"invalid allowance", func() {
			(&middleware.Credits{Store: credits.NewMemoryStore(credits.MemoryConfig{}), Allowance: credits.PerMonth(-3)}).Handler(h)
		}, []string{"middleware", "Allowance"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var msg string
			func() {
				defer func() {
					if r := recover(); r != nil {
						msg = fmt.Sprint(r)
					}
				}()
				tc.f()
				t.Errorf("did not panic")
			}()
			for _, w := range tc.want {
				if msg != "" && !strings.Contains(msg, w) {
					t.Errorf("panic %q does not name %q", msg, w)
				}
			}
		})
	}
}

// TestAdvCreditsNoSecretsInLogs: the logs of a run through every kind of
// credits answer (served, 402 both kinds, 503) hold no key secret; the
// world's cleanup checks them, this test makes sure there is something to
// check.
func TestAdvCreditsNoSecretsInLogs(t *testing.T) {
	w := newAdvWorld(t, advOptions{free: 1})
	w.do("GET", "/v1/things", w.keys["alice1"])
	w.do("GET", "/v1/things", w.keys["alice1"])
	w.do("POST", "/v1/things/x/checks", w.keys["alice1"])
	w.do("GET", "/v1/things", advWrongSecret(w.keys["alice2"]))
	w.store.failWith = fmt.Errorf("%w: connection refused", credits.ErrUnavailable)
	w.do("GET", "/v1/things", w.keys["alice2"])
	w.logMu.Lock()
	n := w.logs.Len()
	w.logMu.Unlock()
	if n == 0 {
		t.Errorf("a store failure was not logged")
	}
	wrong := advWrongSecret(w.keys["alice2"])
	w.logMu.Lock()
	logs := w.logs.String()
	w.logMu.Unlock()
	for _, s := range advSecretForms(wrong) {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain a presented (wrong) secret")
		}
	}
}

// TestAdvCreditsProblemJSON: the 402 in RFC 9457 problem+json keeps the
// same details and still has no Retry-After.
func TestAdvCreditsProblemJSON(t *testing.T) {
	w := newAdvWorld(t, advOptions{free: 1})
	w.do("GET", "/v1/things", w.keys["alice1"])
	accept := func(r *http.Request) { r.Header.Set("Accept", "application/problem+json") }
	rec := w.do("GET", "/v1/things", w.keys["alice1"], accept)
	if rec.Code != 402 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	e, err := apierrors.Decode(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	want := map[string]any{"credits_remaining": float64(0), "credit_allowance": float64(1), "credits_reset_at": "2026-12-01T00:00:00Z"}
	if d := cmp.Diff(want, e.Details); d != "" || string(e.Code) != "quota_exceeded" {
		t.Errorf("problem+json 402: code %q, details (-want +got):\n%s", e.Code, d)
	}
	if _, ok := rec.Header()["Retry-After"]; ok {
		t.Errorf("402 has Retry-After")
	}
	rec = w.do("POST", "/v1/things/x/checks", w.keys["alice1"], accept)
	if e, err := apierrors.Decode(bytes.NewReader(rec.Body.Bytes())); err != nil || rec.Code != 402 ||
		cmp.Diff(map[string]any{"required_tiers": []any{"pro"}}, e.Details) != "" {
		t.Errorf("problem+json payment_required: %d %s", rec.Code, rec.Body)
	}
}

// TestAdvCreditsPaymentRequiredAnswer: a key of the wrong plan is told
// which plans the route needs, with no Retry-After; a tier name that
// differs only in case or space is not the plan.
func TestAdvCreditsPaymentRequiredAnswer(t *testing.T) {
	w := newAdvWorld(t, advOptions{})
	ctx := context.Background()
	for _, tier := range []string{"Pro", "PRO", "pro ", " pro", "pro\u200b", "", "free"} {
		tok, _, err := w.mgr.Create(ctx, apikey.CreateParams{Name: "t", Type: apikey.SecretKey, Environment: apikey.Live,
			Permission: apikey.ReadWrite, Owner: "other-" + tier, Tier: tier})
		if err != nil {
			t.Fatal(err)
		}
		w.keys["tier "+tier] = tok.Reveal()
		rec := w.do("POST", "/v1/things/x/checks", tok.Reveal())
		e := advWantError(t, rec, 402, "payment_required")
		if d := cmp.Diff(map[string]any{"required_tiers": []any{"pro"}}, e.Details); d != "" {
			t.Errorf("tier %q: details (-want +got):\n%s", tier, d)
		}
		if _, ok := rec.Header()["Retry-After"]; ok {
			t.Errorf("tier %q: 402 payment_required has Retry-After", tier)
		}
	}
	if n := w.store.spends.Load(); n != 0 {
		t.Errorf("payment_required refusals spent: %d store spends", n)
	}
	if rec := w.do("POST", "/v1/things/x/checks", w.keys["pro"]); rec.Code != 200 {
		t.Errorf("pro key on the pro route: %d %s", rec.Code, rec.Body)
	}
}

// TestAdvCreditsGateSnapshot: the Gate copies Credits when it is built;
// changing the Credits value afterwards changes nothing.
func TestAdvCreditsGateSnapshot(t *testing.T) {
	w := newAdvWorld(t, advOptions{free: 1})
	w.cr.FailOpen = true
	w.cr.AllowanceFor = func(*apikey.Key) (credits.Allowance, bool) { return credits.Allowance{}, false }
	w.cr.Store = nil
	if rec := w.do("GET", "/v1/things", w.keys["alice1"]); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	advWantError(t, w.do("GET", "/v1/things", w.keys["alice1"]), 402, "quota_exceeded")
}
