package service

// Adversarial end-to-end tests of the reference service's plans and
// credits, written from the README's "Plans and credits" and the service's
// docs, over HTTP only, on a fake clock.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatekey/gatekey/credits"
)

// advTiers: free has 50 credits a month, pro 100; rate limits far away.
const advTiers = "free:100000/minute,1000000/day:50/month;pro:100000/minute:100/month"

func advWithTiers(s string) option {
	return withConfig(func(c *Config) {
		tiers, err := ParseTiers(s)
		if err != nil {
			panic(err)
		}
		c.Tiers = tiers
	})
}

// advMe is GET /v1/me's account part, with the raw rate_limit object.
type advMe struct {
	Tier             *string                    `json:"tier"`
	CreditsRemaining *int64                     `json:"credits_remaining"`
	MonthlyAllowance *int64                     `json:"monthly_allowance"`
	CreditsResetAt   *string                    `json:"credits_reset_at"`
	RateLimit        map[string]json.RawMessage `json:"rate_limit"`
}

func (e *testEnv) advMe(t *testing.T, key string) (advMe, map[string]json.RawMessage) {
	t.Helper()
	r := e.do("GET", "/v1/me", key, nil)
	wantStatus(t, r, http.StatusOK)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatal(err)
	}
	return decodeJSON[advMe](t, r), raw
}

func (e *testEnv) advRemaining(t *testing.T, key string) int64 {
	t.Helper()
	m, _ := e.advMe(t, key)
	if m.CreditsRemaining == nil {
		t.Fatalf("credits_remaining is null for a metered key")
	}
	return *m.CreditsRemaining
}

func advNoRetryAfter(t *testing.T, r response) {
	t.Helper()
	if v, ok := r.Header["Retry-After"]; ok {
		t.Errorf("%d has Retry-After %q; a 402 must not invite retries", r.Status, v)
	}
}

// TestAdvE2ECreditsConcurrentExact: 200 concurrent monitor requests from
// three keys of one free account (50 credits): exactly 50 served, 150 402
// quota_exceeded without Retry-After, none other; and 60 concurrent
// checks of a pro account (99 credits left, cost 5): exactly 19.
func TestAdvE2ECreditsConcurrentExact(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, advWithTiers(advTiers))
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})
	second := e.createKey(free.Key, map[string]any{"name": "second"})
	ro := e.createKey(free.Key, map[string]any{"name": "ro", "permission": "read_only"})
	keys := []string{free.Key, second.Key, ro.Key}

	var ok, quota atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 200 {
		key := keys[i%3]
		wg.Go(func() {
			<-start
			r := e.do("GET", "/v1/monitors", key, nil)
			switch {
			case r.Status == 200:
				ok.Add(1)
			case r.Status == 402 && strings.Contains(string(r.Body), `"quota_exceeded"`):
				quota.Add(1)
				advNoRetryAfter(t, r)
			default:
				t.Errorf("unexpected answer %s", r)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != 50 || quota.Load() != 150 {
		t.Errorf("%d served, %d quota_exceeded; want exactly 50 and 150", ok.Load(), quota.Load())
	}
	if got := e.advRemaining(t, second.Key); got != 0 {
		t.Errorf("balance after the rush: %d, want 0", got)
	}

	pro := e.createKey(e.admin, map[string]any{"name": "pro", "tier": "pro"})
	mon := decodeJSON[monitorJ](t, e.do("POST", "/v1/monitors", pro.Key, map[string]any{"name": "home", "url": "https://example.com/"}))
	var checks atomic.Int64
	start = make(chan struct{})
	for range 60 {
		wg.Go(func() {
			<-start
			r := e.do("POST", "/v1/monitors/"+mon.ID+"/checks", pro.Key, nil)
			switch r.Status {
			case 201:
				checks.Add(1)
			case 402:
				if c := errorCode(t, r); c != "quota_exceeded" {
					t.Errorf("402 %s", c)
				}
			default:
				t.Errorf("unexpected answer %s", r)
			}
		})
	}
	close(start)
	wg.Wait()
	if checks.Load() != 19 {
		t.Errorf("%d checks of cost 5 succeeded with 99 credits; want exactly 19", checks.Load())
	}
	if got := e.advRemaining(t, pro.Key); got != 4 {
		t.Errorf("pro balance %d, want 4", got)
	}
}

// TestAdvE2ERefusedSpendNothing: requests refused before their handler
// (401 of every kind, 400, 403, 404, 405, 429, 402 payment_required)
// leave the account's balance as it was.
func TestAdvE2ERefusedSpendNothing(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, advWithTiers("free:10/minute:50/month;pro:100000/minute:100/month"))
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})
	doomed := e.createKey(free.Key, map[string]any{"name": "doomed"})
	wantStatus(t, e.do("DELETE", "/v1/keys/"+doomed.ID, free.Key, nil), http.StatusOK)
	ro := e.createKey(free.Key, map[string]any{"name": "ro", "permission": "read_only"})
	pk := e.createKey(free.Key, map[string]any{"name": "pk", "type": "publishable"})
	mon := decodeJSON[monitorJ](t, e.do("POST", "/v1/monitors", free.Key, map[string]any{"name": "m", "url": "https://example.com/"}))
	// 49 credits left; each key may make 10 requests a minute, and the
	// set-up used 5 of free.Key's: a new minute.
	e.clock.Advance(time.Minute)
	for _, tc := range []struct {
		name, method, path, key string
		mods                    []func(*http.Request)
		status                  int
		code                    string
	}{
		{"wrong secret", "GET", "/v1/monitors", wrongSecret(t, free.Key), nil, 401, "invalid_api_key"},
		{"revoked key of the account", "GET", "/v1/monitors", doomed.Key, nil, 401, "revoked_api_key"},
		{"two Authorization lines", "GET", "/v1/monitors", free.Key, []func(*http.Request){header("Authorization", "Bearer "+free.Key)}, 400, "ambiguous_credentials"},
		{"read-only key, write", "POST", "/v1/monitors", ro.Key, nil, 403, "insufficient_permissions"},
		{"read-only key, delete", "DELETE", "/v1/monitors/" + mon.ID, ro.Key, nil, 403, "insufficient_permissions"},
		{"read-only key, check", "POST", "/v1/monitors/" + mon.ID + "/checks", ro.Key, nil, 403, "insufficient_permissions"},
		{"publishable key, list", "GET", "/v1/monitors", pk.Key, nil, 403, "secret_key_required"},
		{"no route", "GET", "/v1/monitors/" + mon.ID + "/nope", free.Key, nil, 404, "not_found"},
		{"wrong method", "PATCH", "/v1/monitors", free.Key, nil, 405, "method_not_allowed"},
		{"wrong method on checks", "GET", "/v1/monitors/" + mon.ID + "/checks", free.Key, nil, 405, "method_not_allowed"},
		{"not the plan", "POST", "/v1/monitors/" + mon.ID + "/checks", free.Key, nil, 402, "payment_required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer e.use(t)()
			wantError(t, e.do(tc.method, tc.path, tc.key, nil, tc.mods...), tc.status, tc.code)
		})
	}
	// Rate limit: a fresh key of the account makes 10 requests, the 11th
	// and 12th are 429.
	lim := e.createKey(free.Key, map[string]any{"name": "limited"})
	for range 10 {
		wantStatus(t, e.do("GET", "/v1/monitors/"+mon.ID, lim.Key, nil), http.StatusOK)
	}
	for range 2 {
		wantError(t, e.do("GET", "/v1/monitors/"+mon.ID, lim.Key, nil), http.StatusTooManyRequests, "rate_limit_exceeded")
	}
	if got := e.advRemaining(t, pk.Key); got != 50-1-10 {
		t.Errorf("balance %d, want %d (one monitor, ten reads; every refusal free)", got, 50-1-10)
	}
}

// TestAdvE2EQuotaExceededBody: the 402 of README's "Plans and credits",
// exactly: code, details, no Retry-After; the reset is the next UTC 1st
// even when the clock is in another zone near midnight.
func TestAdvE2EQuotaExceededBody(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, advWithTiers("free:100000/minute:3/month;pro:100000/minute:100/month"))
	// 2031-03-31 22:30 in UTC-5 is 2031-04-01 03:30 UTC: April already.
	e.clock.Set(time.Date(2031, 3, 31, 22, 30, 0, 0, time.FixedZone("UTC-5", -5*3600)))
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})
	for range 3 {
		wantStatus(t, e.do("GET", "/v1/monitors", free.Key, nil), http.StatusOK)
	}
	r := e.do("GET", "/v1/monitors", free.Key, nil)
	got := wantError(t, r, http.StatusPaymentRequired, "quota_exceeded")
	want := map[string]any{"credits_remaining": float64(0), "credit_allowance": float64(3), "credits_reset_at": "2031-05-01T00:00:00Z"}
	if d := cmp.Diff(want, got.Details); d != "" {
		t.Errorf("details (-want +got):\n%s", d)
	}
	advNoRetryAfter(t, r)
	if strings.Contains(got.Message, "acct_") {
		t.Errorf("the message names the internal account id: %q", got.Message)
	}
	m, _ := e.advMe(t, free.Key)
	if m.CreditsResetAt == nil || *m.CreditsResetAt != "2031-05-01T00:00:00Z" {
		t.Errorf("/v1/me credits_reset_at %v, want 2031-05-01T00:00:00Z", m.CreditsResetAt)
	}
}

// TestAdvE2EMeAcrossBoundary: /v1/me's account fields at the last
// nanosecond of a month and the first of the next, in UTC whatever the
// clock's zone; the balance is replaced, not added to.
func TestAdvE2EMeAcrossBoundary(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, advWithTiers("free:100000/minute,1000000/day:5/month;pro:100000/minute:100/month"))
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})
	pro := e.createKey(e.admin, map[string]any{"name": "pro", "tier": "pro"})
	joined := e.createKey(e.admin, map[string]any{"name": "admin's own"})

	plus9 := time.FixedZone("UTC+9", 9*3600)
	lastNs := time.Date(2031, 4, 1, 8, 59, 59, 999999999, plus9) // 2031-03-31T23:59:59.999999999Z
	e.clock.Set(lastNs)
	wantStatus(t, e.do("GET", "/v1/monitors", free.Key, nil), http.StatusOK) // 4 left
	m, _ := e.advMe(t, free.Key)
	if d := cmp.Diff(advMe{Tier: ptrTo("free"), CreditsRemaining: ptrTo[int64](4), MonthlyAllowance: ptrTo[int64](5), CreditsResetAt: ptrTo("2031-04-01T00:00:00Z")},
		m, cmpIgnoreRate); d != "" {
		t.Errorf("at the last nanosecond of March (-want +got):\n%s", d)
	}
	e.clock.Set(lastNs.Add(time.Nanosecond))
	m, _ = e.advMe(t, free.Key)
	if d := cmp.Diff(advMe{Tier: ptrTo("free"), CreditsRemaining: ptrTo[int64](5), MonthlyAllowance: ptrTo[int64](5), CreditsResetAt: ptrTo("2031-05-01T00:00:00Z")},
		m, cmpIgnoreRate); d != "" {
		t.Errorf("at the first nanosecond of April (-want +got):\n%s", d)
	}

	// rate_limit: per-minute and per-day only where the policy has them.
	_, raw := e.advMe(t, free.Key)
	var rl map[string]json.RawMessage
	_ = json.Unmarshal(raw["rate_limit"], &rl)
	if string(rl["requests_per_minute"]) != "100000" || string(rl["requests_per_day"]) != "1000000" {
		t.Errorf("free rate_limit %s, want requests_per_minute 100000 and requests_per_day 1000000", raw["rate_limit"])
	}
	_, raw = e.advMe(t, pro.Key)
	rl = nil
	_ = json.Unmarshal(raw["rate_limit"], &rl)
	if string(rl["requests_per_minute"]) != "100000" {
		t.Errorf("pro rate_limit %s, want requests_per_minute 100000", raw["rate_limit"])
	}
	if v, ok := rl["requests_per_day"]; ok {
		t.Errorf("pro's policy has no daily window, but rate_limit has requests_per_day %s (want it absent)", v)
	}

	// The admin account, and keys that join it, are unmetered: all null.
	for _, key := range []string{e.admin, joined.Key} {
		_, raw := e.advMe(t, key)
		for _, f := range []string{"tier", "credits_remaining", "monthly_allowance", "credits_reset_at"} {
			if v, ok := raw[f]; !ok || string(v) != "null" {
				t.Errorf("unmetered account: %s = %s (present %v), want null", f, v, ok)
			}
		}
	}
	for range 20 { // well past free's 5: the admin account is unmetered
		wantStatus(t, e.do("GET", "/v1/monitors", joined.Key, nil), http.StatusOK)
	}
}

var cmpIgnoreRate = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".RateLimit" }, cmp.Ignore())

func ptrTo[T any](v T) *T { return &v }

// TestAdvE2EOnlyAdminOpensAccount: no key but the admin key may create a
// key with a "tier" (403 insufficient_permissions), not even a key of
// the admin's own account; the refusal creates nothing. An unknown tier
// is 400 invalid_parameter, param "tier".
func TestAdvE2EOnlyAdminOpensAccount(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, advWithTiers(advTiers))
	adminsOwn := e.createKey(e.admin, map[string]any{"name": "admin's own"})
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})
	pro := e.createKey(e.admin, map[string]any{"name": "pro", "tier": "pro"})
	before := len(decodeJSON[listJ](t, e.do("GET", "/v1/keys?limit=100", adminsOwn.Key, nil)).Data)
	for _, tc := range []struct {
		name, key, tier string
	}{
		{"admin account's other key", adminsOwn.Key, "pro"},
		{"admin account's other key, free", adminsOwn.Key, "free"},
		{"free key upgrading", free.Key, "pro"},
		{"free key, its own tier", free.Key, "free"},
		{"pro key", pro.Key, "free"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer e.use(t)()
			wantError(t, e.do("POST", "/v1/keys", tc.key, map[string]any{"name": "x", "tier": tc.tier}), http.StatusForbidden, "insufficient_permissions")
		})
	}
	if after := len(decodeJSON[listJ](t, e.do("GET", "/v1/keys?limit=100", adminsOwn.Key, nil)).Data); after != before {
		t.Errorf("refused account openings created keys: %d → %d", before, after)
	}
	for _, tier := range []any{"PRO", " pro", "pro ", "pro\u200b", "ｐｒｏ", "free;pro", "free:1/month", "admin", "staff", strings.Repeat("p", 10000), 5, true, []any{"pro"}, map[string]any{"name": "pro"}} {
		t.Run(fmt.Sprintf("tier %.20v", tier), func(t *testing.T) {
			defer e.use(t)()
			got := wantError(t, e.do("POST", "/v1/keys", e.admin, map[string]any{"name": "x", "tier": tier}), http.StatusBadRequest, "invalid_parameter")
			if got.Param != "tier" {
				t.Errorf("param %q, want tier", got.Param)
			}
			if s, ok := tier.(string); ok && len(s) > 64 && strings.Contains(got.Message, s) {
				t.Errorf("the error echoes a 10000-byte tier")
			}
		})
	}
	// A key created by a free key joins the free account: shared balance.
	joined := e.createKey(free.Key, map[string]any{"name": "joined"})
	wantStatus(t, e.do("GET", "/v1/monitors", joined.Key, nil), http.StatusOK)
	if got := e.advRemaining(t, free.Key); got != 49 {
		t.Errorf("free account after its joined key spent 1: %d, want 49", got)
	}
	// Two accounts opened with one tier are apart.
	other := e.createKey(e.admin, map[string]any{"name": "other free", "tier": "free"})
	if got := e.advRemaining(t, other.Key); got != 50 {
		t.Errorf("a second free account starts with %d, want 50", got)
	}
}

// TestAdvE2ECheckRoute: POST /v1/monitors/{id}/checks: 402
// payment_required with required_tiers for every non-pro key (spending
// nothing), 201 with exactly the contract's fields for pro, 5 credits.
func TestAdvE2ECheckRoute(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, advWithTiers(advTiers))
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})
	pro := e.createKey(e.admin, map[string]any{"name": "pro", "tier": "pro"})
	freeMon := decodeJSON[monitorJ](t, e.do("POST", "/v1/monitors", free.Key, map[string]any{"name": "f", "url": "https://example.com/"}))
	proMon := decodeJSON[monitorJ](t, e.do("POST", "/v1/monitors", pro.Key, map[string]any{"name": "p", "url": "https://example.com/"}))

	for _, tc := range []struct{ name, key, mon string }{
		{"free, own monitor", free.Key, freeMon.ID},
		{"free, pro's monitor", free.Key, proMon.ID},
		{"free, no such monitor", free.Key, "mon_doesnotexist00"},
		{"admin", e.admin, proMon.ID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer e.use(t)()
			r := e.do("POST", "/v1/monitors/"+tc.mon+"/checks", tc.key, map[string]any{})
			got := wantError(t, r, http.StatusPaymentRequired, "payment_required")
			if d := cmp.Diff(map[string]any{"required_tiers": []any{"pro"}}, got.Details); d != "" {
				t.Errorf("details (-want +got):\n%s", d)
			}
			advNoRetryAfter(t, r)
		})
	}
	if got := e.advRemaining(t, free.Key); got != 49 {
		t.Errorf("free account after refused checks: %d, want 49", got)
	}

	r := e.do("POST", "/v1/monitors/"+proMon.ID+"/checks", pro.Key, nil)
	wantStatus(t, r, http.StatusCreated)
	var c map[string]any
	if err := json.Unmarshal(r.Body, &c); err != nil {
		t.Fatal(err)
	}
	id, _ := c["id"].(string)
	if !strings.HasPrefix(id, "chk_") || len(id) <= len("chk_") {
		t.Errorf("id %q, want chk_…", id)
	}
	ts, _ := c["created_at"].(string)
	if pt, err := time.Parse(time.RFC3339, ts); err != nil || !strings.HasSuffix(ts, "Z") || !pt.Equal(e.clock.Now().Truncate(time.Second)) {
		t.Errorf("created_at %q, want the clock's time in RFC 3339 UTC", ts)
	}
	if d := cmp.Diff(map[string]any{"id": id, "monitor_id": proMon.ID, "status": "queued", "created_at": ts}, c); d != "" {
		t.Errorf("check (-want +got):\n%s", d)
	}
	if got := e.advRemaining(t, pro.Key); got != 100-1-5 {
		t.Errorf("pro after a monitor and a check: %d, want 94", got)
	}
	// A pro key on another account's monitor: 404 not_found, as for every
	// monitor route.
	wantError(t, e.do("POST", "/v1/monitors/"+freeMon.ID+"/checks", pro.Key, nil), http.StatusNotFound, "not_found")
}

// TestAdvE2ECheckOfUnknownMonitorSpendsNothing: a check of a monitor the
// account does not have is a 404; it cost the account nothing, as a 404
// for a path without a route does. (The README: "A pro account may ask
// for a check of one of its monitors, for 5 credits".)
func TestAdvE2ECheckOfUnknownMonitorSpendsNothing(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, advWithTiers(advTiers))
	pro := e.createKey(e.admin, map[string]any{"name": "pro", "tier": "pro"})
	for range 3 {
		wantError(t, e.do("POST", "/v1/monitors/mon_doesnotexist00/checks", pro.Key, nil), http.StatusNotFound, "not_found")
	}
	if got := e.advRemaining(t, pro.Key); got != 100 {
		t.Errorf("three 404 checks cost %d credits; a check of no monitor should cost nothing", 100-got)
	}
}

// TestAdvE2ERevokeNoRefundRollKeeps: revoking a key that spent does not
// give its account the credits back; a rolled key keeps the account.
func TestAdvE2ERevokeNoRefundRollKeeps(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, advWithTiers(advTiers))
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})
	spender := e.createKey(free.Key, map[string]any{"name": "spender"})
	for range 5 {
		wantStatus(t, e.do("GET", "/v1/monitors", spender.Key, nil), http.StatusOK)
	}
	wantStatus(t, e.do("DELETE", "/v1/keys/"+spender.ID, free.Key, nil), http.StatusOK)
	if got := e.advRemaining(t, free.Key); got != 45 {
		t.Errorf("after revoking the key that spent 5: %d, want 45", got)
	}
	r := e.do("POST", "/v1/keys/"+free.ID+"/roll", free.Key, nil)
	wantStatus(t, r, http.StatusCreated)
	rolled := checkMeta(t, r.Body, "key")
	e.remember(rolled.Key)
	if got := e.advRemaining(t, rolled.Key); got != 45 {
		t.Errorf("rolled key's account: %d, want 45", got)
	}
	if m, _ := e.advMe(t, rolled.Key); m.Tier == nil || *m.Tier != "free" {
		t.Errorf("rolled key's tier %v, want free", m.Tier)
	}
}

// advSwitchStore is a credits store that can be taken down.
type advSwitchStore struct {
	inner credits.Store
	down  atomic.Bool
	calls atomic.Int64
}

func (s *advSwitchStore) Spend(ctx context.Context, acct string, a credits.Allowance, cost int64) (credits.Balance, bool, error) {
	s.calls.Add(1)
	if s.down.Load() {
		return credits.Balance{}, false, fmt.Errorf("%w: dial tcp 10.9.8.7:6379: connection refused", credits.ErrUnavailable)
	}
	return s.inner.Spend(ctx, acct, a, cost)
}

func (s *advSwitchStore) Grant(ctx context.Context, acct string, a credits.Allowance, n int64) (credits.Balance, error) {
	if s.down.Load() {
		return credits.Balance{}, fmt.Errorf("%w: connection refused", credits.ErrUnavailable)
	}
	return s.inner.Grant(ctx, acct, a, n)
}

// TestAdvE2ECreditsStoreDown: with the credits store down, paid routes of
// metered accounts answer 503 service_unavailable with Retry-After (fail
// closed: nothing is created), routes that cost nothing still work, the
// admin account is not metered, and nothing of the store's error leaks.
func TestAdvE2ECreditsStoreDown(t *testing.T) {
	t.Parallel()
	var store *advSwitchStore
	e := newTestEnv(t, advWithTiers(advTiers), withConfig(func(c *Config) {
		store = &advSwitchStore{inner: credits.NewMemoryStore(credits.MemoryConfig{Now: c.Now})}
		c.Credits = store
	}))
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})
	pro := e.createKey(e.admin, map[string]any{"name": "pro", "tier": "pro"})
	mon := decodeJSON[monitorJ](t, e.do("POST", "/v1/monitors", pro.Key, map[string]any{"name": "p", "url": "https://example.com/"}))
	store.down.Store(true)

	for _, tc := range []struct {
		name, method, path, key string
		body                    any
	}{
		{"list monitors", "GET", "/v1/monitors", free.Key, nil},
		{"create monitor", "POST", "/v1/monitors", free.Key, map[string]any{"name": "x", "url": "https://example.com/"}},
		{"check", "POST", "/v1/monitors/" + mon.ID + "/checks", pro.Key, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer e.use(t)()
			r := e.do(tc.method, tc.path, tc.key, tc.body)
			wantError(t, r, http.StatusServiceUnavailable, "service_unavailable")
			for _, s := range []string{"10.9.8.7", "6379", "connection refused"} {
				if strings.Contains(string(r.Body), s) {
					t.Errorf("503 body leaks the store's error (%q): %s", s, r.Body)
				}
			}
		})
	}
	// Free routes and the unmetered admin account need no credits store.
	wantStatus(t, e.do("GET", "/v1/keys", free.Key, nil), http.StatusOK)
	wantStatus(t, e.do("GET", "/v1/monitors", e.admin, nil), http.StatusOK)
	// /v1/me must read the balance: the store is down, so 503 (a store
	// outage), not 500 (a bug).
	wantError(t, e.do("GET", "/v1/me", free.Key, nil), http.StatusServiceUnavailable, "service_unavailable")

	store.down.Store(false)
	if got := e.advRemaining(t, pro.Key); got != 99 {
		t.Errorf("pro's balance after the outage: %d, want 99 (the 503 check spent nothing)", got)
	}
	for _, key := range []string{free.Key, pro.Key, e.admin} {
		list := decodeJSON[listJ](t, e.do("GET", "/v1/monitors", key, nil))
		for _, raw := range list.Data {
			var m monitorJ
			if json.Unmarshal(raw, &m) == nil && m.Name == "x" {
				t.Errorf("a monitor was created while the credits store was down (the request got 503): %s", raw)
			}
		}
	}
}

// TestAdvE2EMonitorsBelongToAnAccount: monitors belong to an account and
// an environment: a key of another account in the same environment (the
// admin's included) never lists, reads, deletes or checks them: 404
// not_found, as if they did not exist.
func TestAdvE2EMonitorsBelongToAnAccount(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, advWithTiers(advTiers))
	alice := e.createKey(e.admin, map[string]any{"name": "alice", "tier": "pro"})
	bob := e.createKey(e.admin, map[string]any{"name": "bob", "tier": "pro"})
	bobsFriend := e.createKey(bob.Key, map[string]any{"name": "bob's other key"})
	mon := decodeJSON[monitorJ](t, e.do("POST", "/v1/monitors", alice.Key, map[string]any{"name": "alice's", "url": "https://example.com/"}))
	for _, who := range []struct{ name, key string }{{"other account", bob.Key}, {"other account's second key", bobsFriend.Key}, {"admin", e.admin}} {
		t.Run(who.name, func(t *testing.T) {
			defer e.use(t)()
			for _, raw := range decodeJSON[listJ](t, e.do("GET", "/v1/monitors", who.key, nil)).Data {
				if strings.Contains(string(raw), mon.ID) {
					t.Errorf("another account lists alice's monitor: %s", raw)
				}
			}
			wantError(t, e.do("GET", "/v1/monitors/"+mon.ID, who.key, nil), http.StatusNotFound, "not_found")
			if who.key != e.admin {
				wantError(t, e.do("POST", "/v1/monitors/"+mon.ID+"/checks", who.key, nil), http.StatusNotFound, "not_found")
			}
		})
	}
	for _, key := range []string{bob.Key, bobsFriend.Key, e.admin} {
		wantError(t, e.do("DELETE", "/v1/monitors/"+mon.ID, key, nil), http.StatusNotFound, "not_found")
	}
	// Still there for its account.
	wantStatus(t, e.do("GET", "/v1/monitors/"+mon.ID, alice.Key, nil), http.StatusOK)
}
