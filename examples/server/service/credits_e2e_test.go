package service

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatekey/gatekey/ratelimit"
)

// meJ is GET /v1/me's account part.
type meJ struct {
	Tier             *string `json:"tier"`
	CreditsRemaining *int64  `json:"credits_remaining"`
	MonthlyAllowance *int64  `json:"monthly_allowance"`
	CreditsResetAt   *string `json:"credits_reset_at"`
	RateLimit        struct {
		RequestsPerMinute *int `json:"requests_per_minute"`
		RequestsPerDay    *int `json:"requests_per_day"`
	} `json:"rate_limit"`
}

func ptr[T any](v T) *T { return &v }

// smallTiers are plans small enough to run out of in a test: free has 3
// credits a month, pro 100; the rate limits never get in the way.
const smallTiers = "free:1000/minute,100000/day:3/month;pro:2000/minute:100/month"

func withTiers(s string) option {
	return withConfig(func(c *Config) {
		tiers, err := ParseTiers(s)
		if err != nil {
			panic(err)
		}
		c.Tiers = tiers
	})
}

// me returns the account part of GET /v1/me for key.
func (e *testEnv) me(t *testing.T, key string) meJ {
	t.Helper()
	r := e.do("GET", "/v1/me", key, nil)
	wantStatus(t, r, http.StatusOK)
	checkMeta(t, r.Body, meFields...)
	return decodeJSON[meJ](t, r)
}

// remaining returns the credits left to key's account.
func (e *testEnv) remaining(t *testing.T, key string) int64 {
	t.Helper()
	m := e.me(t, key)
	if m.CreditsRemaining == nil {
		t.Fatalf("credits_remaining is null for a metered key")
	}
	return *m.CreditsRemaining
}

// TestMeAccount: /v1/me tells a key its plan, its account's credits and
// its rate limits; the admin account is unmetered.
func TestMeAccount(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t) // DefaultTiers
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})
	reset := "2031-04-01T00:00:00Z" // clockStart is 2031-03-04 in UTC
	for _, tc := range []struct {
		name, key string
		want      meJ
	}{
		{"free", free.Key, meJ{Tier: ptr("free"), CreditsRemaining: ptr[int64](500), MonthlyAllowance: ptr[int64](500), CreditsResetAt: &reset}},
		{"admin", e.admin, meJ{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.me(t, tc.key)
			want := tc.want
			if tc.name == "free" {
				want.RateLimit.RequestsPerMinute, want.RateLimit.RequestsPerDay = ptr(10), ptr(1000)
			} else {
				want.RateLimit.RequestsPerMinute, want.RateLimit.RequestsPerDay = ptr(1000), ptr(100000)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("/v1/me (-want +got):\n%s", d)
			}
		})
	}
}

// TestCreditsRunOut walks a free account through its month: each monitor
// request costs 1, /v1/me and /v1/keys nothing, a refused request
// nothing; the fourth paid request gets 402 quota_exceeded without
// Retry-After, and the next month refills the balance.
func TestCreditsRunOut(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, withTiers(smallTiers))
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})
	ro := e.createKey(free.Key, map[string]any{"name": "read only", "permission": "read_only"})
	pk := e.createKey(free.Key, map[string]any{"name": "browser", "type": "publishable"})

	// Refused before the handler: nothing spent.
	for _, rq := range []struct {
		method, path, key string
		status            int
	}{
		{"POST", "/v1/monitors", ro.Key, http.StatusForbidden},                      // read-only key, write route
		{"GET", "/v1/monitors", pk.Key, http.StatusForbidden},                       // secret-only route
		{"GET", "/v1/nowhere", free.Key, http.StatusNotFound},                       // no route
		{"PUT", "/v1/monitors", free.Key, http.StatusMethodNotAllowed},              // no such method
		{"POST", "/v1/monitors/mon_x/checks", free.Key, http.StatusPaymentRequired}, // not the plan
		{"GET", "/v1/me", free.Key, http.StatusOK},                                  // free route
		{"GET", "/v1/keys", free.Key, http.StatusOK},                                // free route
	} {
		if r := e.do(rq.method, rq.path, rq.key, map[string]any{}); r.Status != rq.status {
			t.Errorf("%s %s: %d, want %d: %s", rq.method, rq.path, r.Status, rq.status, r.Body)
		}
	}
	if got := e.remaining(t, free.Key); got != 3 {
		t.Fatalf("after refused and free requests: %d credits, want all 3", got)
	}

	// Three paid requests, from any key of the account.
	for i, key := range []string{free.Key, ro.Key, free.Key} {
		wantStatus(t, e.do("GET", "/v1/monitors", key, nil), http.StatusOK)
		if got, want := e.remaining(t, free.Key), int64(2-i); got != want {
			t.Errorf("after %d paid requests: %d credits, want %d", i+1, got, want)
		}
	}
	r := e.do("GET", "/v1/monitors", ro.Key, nil)
	got := wantError(t, r, http.StatusPaymentRequired, "quota_exceeded")
	want := map[string]any{"credits_remaining": float64(0), "credit_allowance": float64(3), "credits_reset_at": "2031-04-01T00:00:00Z"}
	if d := cmp.Diff(want, got.Details); d != "" {
		t.Errorf("quota_exceeded details (-want +got):\n%s", d)
	}
	if v := r.Header.Get("Retry-After"); v != "" {
		t.Errorf("402 has Retry-After %q; a client must not retry in a loop", v)
	}
	wantRateLimitHeaders(t, r)

	// Still free: the account can see where it stands and manage keys.
	wantStatus(t, e.do("GET", "/v1/me", free.Key, nil), http.StatusOK)
	wantStatus(t, e.do("GET", "/v1/keys", free.Key, nil), http.StatusOK)

	// Rolling keeps the account, and so its (empty) balance.
	r = e.do("POST", "/v1/keys/"+free.ID+"/roll", free.Key, nil)
	wantStatus(t, r, http.StatusCreated)
	rolled := checkMeta(t, r.Body, "key")
	e.remember(rolled.Key)
	if got := e.remaining(t, rolled.Key); got != 0 {
		t.Errorf("a rolled key's account has %d credits, want the same 0", got)
	}
	wantError(t, e.do("GET", "/v1/monitors", rolled.Key, nil), http.StatusPaymentRequired, "quota_exceeded")

	// A new month: the balance is the allowance again.
	e.clock.Set(time.Date(2031, 4, 1, 0, 0, 0, 0, time.UTC))
	if got := e.remaining(t, rolled.Key); got != 3 {
		t.Errorf("on April 1st: %d credits, want 3", got)
	}
	wantStatus(t, e.do("GET", "/v1/monitors", rolled.Key, nil), http.StatusOK)
}

// TestPaidRoute: POST /v1/monitors/{id}/checks is for the pro plan, costs
// 5 credits, and answers 201 with the queued check.
func TestPaidRoute(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, withTiers(smallTiers))
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})
	pro := e.createKey(e.admin, map[string]any{"name": "pro", "tier": "pro"})
	if got := e.me(t, pro.Key); got.Tier == nil || *got.Tier != "pro" {
		t.Fatalf("tier of a key opened with \"pro\": %v", got.Tier)
	}

	mon := decodeJSON[monitorJ](t, e.do("POST", "/v1/monitors", pro.Key, map[string]any{"name": "home", "url": "https://example.com/"}))
	r := e.do("POST", "/v1/monitors/"+mon.ID+"/checks", pro.Key, nil)
	wantStatus(t, r, http.StatusCreated)
	c := decodeJSON[map[string]any](t, r)
	id, _ := c["id"].(string)
	if !strings.HasPrefix(id, "chk_") || len(id) < 8 {
		t.Errorf("check id %q, want chk_…", id)
	}
	want := map[string]any{"id": id, "monitor_id": mon.ID, "status": "queued", "created_at": *rfc(clockStart)}
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("check (-want +got):\n%s", d)
	}
	if got := e.remaining(t, pro.Key); got != 100-1-5 {
		t.Errorf("after a monitor and a check: %d credits, want 94", got)
	}

	r = e.do("POST", "/v1/monitors/"+mon.ID+"/checks", free.Key, nil)
	got := wantError(t, r, http.StatusPaymentRequired, "payment_required")
	if d := cmp.Diff(map[string]any{"required_tiers": []any{"pro"}}, got.Details); d != "" {
		t.Errorf("payment_required details (-want +got):\n%s", d)
	}
	if v := r.Header.Get("Retry-After"); v != "" {
		t.Errorf("402 has Retry-After %q", v)
	}
	if got := e.remaining(t, free.Key); got != 3 {
		t.Errorf("a free key refused the paid route spent credits: %d left, want 3", got)
	}
	// The admin account has no plan either.
	wantError(t, e.do("POST", "/v1/monitors/"+mon.ID+"/checks", e.admin, nil), http.StatusPaymentRequired, "payment_required")
	// A read-only pro key is refused for its permission, before the plan.
	ro := e.createKey(pro.Key, map[string]any{"name": "ro", "permission": "read_only"})
	wantError(t, e.do("POST", "/v1/monitors/"+mon.ID+"/checks", ro.Key, nil), http.StatusForbidden, "insufficient_permissions")
}

// TestOpenAccount: only the admin key opens an account, of a known tier;
// a key created without "tier" joins its creator's account.
func TestOpenAccount(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, withTiers(smallTiers))
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})

	r := e.do("POST", "/v1/keys", free.Key, map[string]any{"name": "upgrade", "tier": "pro"})
	wantError(t, r, http.StatusForbidden, "insufficient_permissions")
	for _, tier := range []any{"gold", "", "Free", 7, nil} {
		r := e.do("POST", "/v1/keys", e.admin, map[string]any{"name": "x", "tier": tier})
		if tier == nil {
			wantStatus(t, r, http.StatusCreated) // null is no tier: the admin's account
			e.remember(checkMeta(t, r.Body, "key").Key)
			continue
		}
		if got := wantError(t, r, http.StatusBadRequest, "invalid_parameter"); got.Param != "tier" {
			t.Errorf("tier %v: param %q, want tier", tier, got.Param)
		}
	}

	// Two accounts of one tier have two balances.
	other := e.createKey(e.admin, map[string]any{"name": "other", "tier": "free"})
	joined := e.createKey(free.Key, map[string]any{"name": "joined"})
	wantStatus(t, e.do("GET", "/v1/monitors", joined.Key, nil), http.StatusOK)
	for _, tc := range []struct {
		key  string
		want int64
	}{{free.Key, 2}, {joined.Key, 2}, {other.Key, 3}} {
		if got := e.remaining(t, tc.key); got != tc.want {
			t.Errorf("credits of %.12s…: %d, want %d", tc.key, got, tc.want)
		}
	}
	if m := e.me(t, joined.Key); m.Tier == nil || *m.Tier != "free" {
		t.Errorf("a key created by a free key has tier %v, want free", m.Tier)
	}
	// Keys of other accounts are out of sight.
	wantError(t, e.do("GET", "/v1/keys/"+other.ID, free.Key, nil), http.StatusNotFound, "not_found")
	wantError(t, e.do("DELETE", "/v1/keys/"+free.ID, other.Key, nil), http.StatusNotFound, "not_found")
}

// TestTiers: the -tiers syntax and what the service needs of its plans,
// refused when the service is built, never at request time.
func TestTiers(t *testing.T) {
	t.Parallel()
	if _, err := ParseTiers(DefaultTiers); err != nil {
		t.Fatalf("DefaultTiers: %v", err)
	}
	for _, tc := range []struct{ tiers, want string }{
		{"free:10/minute:500/month", `no tier "pro"`},
		{"pro:10/minute:4/month", "cannot pay for a route costing 5"},
		{"pro:10/minute:100/day", "not a month's"},
		{"pro:10/minute:100/month;pro:5/minute:5/month", "defined twice"},
		{"pro:10/minute:100/month;free:10/minute:0/month", "free"},
		{"pro:10/minute:100/month;fr ee:10/minute:5/month", "want a word"},
		{"pro:10/minute", "want name:rate policy:credit allowance"},
		{"pro:ten/minute:5/month", `tier "pro"`},
		{"pro:10/minute:many/month", `tier "pro"`},
	} {
		tiers, err := ParseTiers(tc.tiers)
		if err == nil {
			_, err = New(Config{Rate: ratelimit.MustParsePolicy("10/minute"), Tiers: tiers})
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tiers %q: error %v, want one containing %q", tc.tiers, err, tc.want)
		}
	}
}
