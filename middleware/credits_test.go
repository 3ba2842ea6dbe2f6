package middleware_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/credits"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

// downStore is a credits.Store whose backend is down.
type downStore struct{}

func (downStore) Spend(context.Context, string, credits.Allowance, int64) (credits.Balance, bool, error) {
	return credits.Balance{}, false, fmt.Errorf("%w: connection refused", credits.ErrUnavailable)
}
func (downStore) Grant(context.Context, string, credits.Allowance, int64) (credits.Balance, error) {
	return credits.Balance{}, fmt.Errorf("%w: connection refused", credits.ErrUnavailable)
}

// meteredGate is a Gate over routes with costs and a plan, its credits
// and rate limits on the fixture's clock: 3 credits a month, except for
// keys of the "pro" tier (100) and of the "staff" tier (not metered).
type meteredGate struct {
	h      http.Handler
	cr     *middleware.Credits
	events []middleware.CreditsEvent
	ran    map[string]int
}

func newMeteredGate(t *testing.T, f *fixture, store credits.Store, failOpen bool) *meteredGate {
	t.Helper()
	m := &meteredGate{ran: map[string]int{}}
	handle := func(name string) http.Handler {
		return http.HandlerFunc(func(http.ResponseWriter, *http.Request) { m.ran[name]++ })
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/things", handle("things"))
	mux.Handle("POST /v1/things", handle("create"))
	mux.Handle("GET /v1/me", middleware.Cost(0)(handle("me")))
	mux.Handle("POST /v1/things/{id}/checks", middleware.RequireTier("pro")(middleware.Cost(2)(handle("checks"))))
	if store == nil {
		store = credits.NewMemoryStore(credits.MemoryConfig{Now: f.clock.Now})
	}
	m.cr = &middleware.Credits{
		Store: store,
		AllowanceFor: func(k *apikey.Key) (credits.Allowance, bool) {
			switch k.Tier {
			case "pro":
				return credits.PerMonth(100), true
			case "staff":
				return credits.Allowance{}, false
			}
			return credits.PerMonth(3), true
		},
		FailOpen: failOpen,
		OnEvent:  func(_ *http.Request, _ *apikey.Key, e middleware.CreditsEvent) { m.events = append(m.events, e) },
	}
	m.h = (&middleware.Gate{
		Auth:      middleware.Authenticator{Verifier: f.mgr},
		RateLimit: &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("5/minute"), Store: ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: f.clock.Now})},
		Credits:   m.cr,
		Logger:    discardLogger(),
	}).Handler(mux)
	return m
}

func (m *meteredGate) do(method, path, key string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	m.h.ServeHTTP(w, r)
	return w
}

// balance reads key's balance through Credits.Spend with a cost of 0.
func (m *meteredGate) balance(t *testing.T, f *fixture, name string) credits.Balance {
	t.Helper()
	var b credits.Balance
	var err error
	h := (&middleware.Authenticator{Verifier: f.mgr}).Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		b, _, err = m.cr.Spend(r, 0)
	}))
	h.ServeHTTP(httptest.NewRecorder(), withBearer(httptest.NewRequest("GET", "/", nil), f.keys[name]))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func withBearer(r *http.Request, key string) *http.Request {
	r.Header.Set("Authorization", "Bearer "+key)
	return r
}

// TestCreditsRefusedRequestsSpendNothing: every request the Gate refuses
// before the handler, for whatever reason, leaves the balance alone;
// accepted ones spend their route's cost; free routes spend nothing.
func TestCreditsRefusedRequestsSpendNothing(t *testing.T) {
	f := newFixture(t)
	m := newMeteredGate(t, f, nil, false)
	key := f.keys["secret"]
	for _, tc := range []struct {
		method, path, key string
		status            int
	}{
		{"GET", "/v1/things", "", 401},
		{"GET", "/v1/things", "sk_live_garbage", 401},
		{"GET", "/v1/nothing", key, 404},
		{"DELETE", "/v1/things", key, 405},
		{"POST", "/v1/things", f.keys["secret-ro"], 403},
		{"POST", "/v1/things/t1/checks", key, 402}, // the plan
		{"GET", "/v1/me", key, 200},                // free
	} {
		if w := m.do(tc.method, tc.path, tc.key); w.Code != tc.status {
			t.Errorf("%s %s: %d, want %d: %s", tc.method, tc.path, w.Code, tc.status, w.Body)
		}
	}
	if b := m.balance(t, f, "secret"); b.Remaining != 3 {
		t.Errorf("after refused and free requests: %d credits left, want all 3", b.Remaining)
	}
	if m.ran["checks"] != 0 || m.ran["things"] != 0 {
		t.Errorf("refused requests ran handlers: %v", m.ran)
	}
	// The rate limit's 429 spends nothing either: 5/minute, of which 5
	// requests above (with a key that passed authentication) are spent.
	for range 3 {
		m.do("GET", "/v1/me", key)
	}
	if w := m.do("GET", "/v1/things", key); w.Code != 429 {
		t.Fatalf("past the rate limit: %d, want 429", w.Code)
	}
	if b := m.balance(t, f, "secret"); b.Remaining != 3 {
		t.Errorf("after a 429: %d credits left, want 3", b.Remaining)
	}
}

// TestCreditsQuotaExceeded: an account that cannot cover the cost gets
// 402 quota_exceeded with the documented details and no Retry-After, and
// its balance is renewed, not added to, on the 1st.
func TestCreditsQuotaExceeded(t *testing.T) {
	f := newFixture(t) // 2026-11-22 12:00 UTC
	m := newMeteredGate(t, f, nil, false)
	key := f.keys["secret-test"]
	for i := range 3 {
		if w := m.do("GET", "/v1/things", key); w.Code != 200 {
			t.Fatalf("request %d: %d", i+1, w.Code)
		}
		f.clock.Advance(time.Minute) // out of the rate limit's way
	}
	w := m.do("GET", "/v1/things", key)
	e := decodeError(t, w)
	if w.Code != 402 || e.Code != apierrors.CodeQuotaExceeded {
		t.Fatalf("4th request: %d %s, want 402 quota_exceeded", w.Code, e.Code)
	}
	want := map[string]any{"credits_remaining": 0.0, "credit_allowance": 3.0, "credits_reset_at": "2026-12-01T00:00:00Z"}
	if diff := cmp.Diff(want, e.Details); diff != "" {
		t.Errorf("details (-want +got):\n%s", diff)
	}
	if ra := w.Header().Get("Retry-After"); ra != "" {
		t.Errorf("402 quota_exceeded with Retry-After %q: clients must not retry in a loop", ra)
	}
	if w := m.do("GET", "/v1/me", key); w.Code != 200 {
		t.Errorf("a free route with no credits left: %d", w.Code)
	}
	f.clock.Advance(9*24*time.Hour + 12*time.Hour) // 2026-12-01 00:03
	if w := m.do("GET", "/v1/things", key); w.Code != 200 {
		t.Errorf("after the 1st: %d, want 200", w.Code)
	}
	if b := m.balance(t, f, "secret-test"); b.Remaining != 2 {
		t.Errorf("after the refill and one request: %d left, want 2 (renewed, not added to)", b.Remaining)
	}
	if len(m.events) == 0 || m.events[len(m.events)-1].Kind != middleware.CreditsExhausted {
		t.Errorf("events %+v, want a CreditsExhausted for the 402", m.events)
	}
}

// TestCreditsPlan: a paid route answers 402 payment_required to an
// account without the plan, with the plans that have it, and spends
// nothing; with the plan it spends the route's cost.
func TestCreditsPlan(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pro, _, err := f.mgr.Create(ctx, apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite, Tier: "pro"})
	if err != nil {
		t.Fatal(err)
	}
	f.keys["pro"] = pro.Reveal()
	m := newMeteredGate(t, f, nil, false)
	w := m.do("POST", "/v1/things/t1/checks", f.keys["secret"])
	e := decodeError(t, w)
	if w.Code != 402 || e.Code != apierrors.CodePaymentRequired {
		t.Fatalf("free account on the pro route: %d %s", w.Code, e.Code)
	}
	if diff := cmp.Diff(map[string]any{"required_tiers": []any{"pro"}}, e.Details); diff != "" {
		t.Errorf("details (-want +got):\n%s", diff)
	}
	if w := m.do("POST", "/v1/things/t1/checks", f.keys["pro"]); w.Code != 200 {
		t.Fatalf("pro account on the pro route: %d %s", w.Code, w.Body)
	}
	if b := m.balance(t, f, "pro"); b.Remaining != 98 {
		t.Errorf("pro balance after a route costing 2: %d, want 98", b.Remaining)
	}
}

// TestCreditsStoreDown: by default a failing store is a 503, never free
// service; FailOpen serves unmetered.
func TestCreditsStoreDown(t *testing.T) {
	f := newFixture(t)
	for _, failOpen := range []bool{false, true} {
		m := newMeteredGate(t, f, downStore{}, failOpen)
		w := m.do("GET", "/v1/things", f.keys["secret"])
		want := 503
		if failOpen {
			want = 200
		}
		if w.Code != want {
			t.Errorf("FailOpen=%v, store down: %d, want %d", failOpen, w.Code, want)
		}
		if want == 503 && (decodeError(t, w).Code != apierrors.CodeServiceUnavailable || w.Header().Get("Retry-After") == "") {
			t.Errorf("store down: %s", w.Body)
		}
	}
}

func TestCreditsUnmeteredAndEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	staff, _, _ := f.mgr.Create(ctx, apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live, Tier: "staff"})
	pro, _, _ := f.mgr.Create(ctx, apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite, Tier: "pro"})
	m := newMeteredGate(t, f, downStore{}, false) // a store that fails: an unmetered key never reaches it
	for range 5 {
		if w := m.do("GET", "/v1/me", staff.Reveal()); w.Code != 200 {
			t.Fatalf("unmetered key: %d", w.Code)
		}
	}
	m = newMeteredGate(t, f, nil, false)
	for range 91 { // 100 credits, low below 10: the 91st spend crosses
		f.clock.Advance(time.Minute)
		m.do("POST", "/v1/things/t1/checks", pro.Reveal()) // cost 2: 50 spends in all
	}
	var low int
	for _, e := range m.events {
		if e.Kind == middleware.CreditsLow {
			low++
			if e.Balance.Remaining >= 10 || e.Account == "" {
				t.Errorf("CreditsLow %+v", e)
			}
		}
	}
	if low != 1 {
		t.Errorf("%d CreditsLow events, want 1 (the spend that crossed below a tenth)", low)
	}
}

func TestCreditsMisconfiguration(t *testing.T) {
	for name, f := range map[string]func(){
		"no store":      func() { (&middleware.Credits{}).Handler(nop) },
		"bad allowance": func() { (&middleware.Credits{Store: downStore{}, Allowance: credits.PerDay(-1)}).Handler(nop) },
		"negative cost": func() { middleware.Cost(-1) },
		"no tiers":      func() { middleware.RequireTier() },
		"empty tier":    func() { middleware.RequireTier("") },
		"negative low":  func() { (&middleware.Credits{Store: downStore{}, LowBalance: -1}).Handler(nop) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if v := recover(); v == nil || !strings.HasPrefix(fmt.Sprint(v), "middleware: ") {
					t.Errorf("panic %v, want a middleware: message", v)
				}
			}()
			f()
		})
	}
}

// TestCreditsHandlerAlone: the Credits part without a Gate spends the
// cost of the route its Router picks.
func TestCreditsHandlerAlone(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("GET /cheap", nop)
	mux.Handle("GET /dear", middleware.Cost(3)(nop))
	cr := &middleware.Credits{Store: credits.NewMemoryStore(credits.MemoryConfig{Now: f.clock.Now}), Allowance: credits.PerMonth(4)}
	h := (&middleware.Authenticator{Verifier: f.mgr}).Handler(cr.Handler(mux))
	var codes []int
	for _, path := range []string{"/dear", "/dear", "/cheap", "/cheap"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, withBearer(httptest.NewRequest("GET", path, nil), f.keys["secret"]))
		codes = append(codes, w.Code)
	}
	if diff := cmp.Diff([]int{200, 402, 200, 402}, codes); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
}

// TestCreditsCostAboveAllowance: a route no account can ever pay for is
// refused with 402 like any other, and logged as the misconfiguration it
// is, without the key.
func TestCreditsCostAboveAllowance(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("GET /dear", middleware.Cost(5)(nop))
	var logs strings.Builder
	cr := &middleware.Credits{
		Store:     credits.NewMemoryStore(credits.MemoryConfig{Now: f.clock.Now}),
		Allowance: credits.PerMonth(4),
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
	}
	h := (&middleware.Authenticator{Verifier: f.mgr}).Handler(cr.Handler(mux))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, withBearer(httptest.NewRequest("GET", "/dear", nil), f.keys["secret"]))
	if w.Code != http.StatusPaymentRequired {
		t.Errorf("status %d, want 402", w.Code)
	}
	if !strings.Contains(logs.String(), "route cost is above the account's allowance") {
		t.Errorf("no log line names the misconfiguration; logs:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), f.keys["secret"]) {
		t.Errorf("the log holds the key")
	}
}

// TestCreditsLowSmallAllowance: an allowance under 10 has a low mark of 1,
// not 0, so that its owner hears the credits ran low before they ran out.
func TestCreditsLowSmallAllowance(t *testing.T) {
	w := newAdvWorld(t, advOptions{free: 3})
	for range 4 {
		w.do("GET", "/v1/things", w.keys["alice1"])
	}
	w.evMu.Lock()
	defer w.evMu.Unlock()
	var kinds []string
	for _, e := range w.events {
		kinds = append(kinds, fmt.Sprintf("%s %d", e.Kind, e.Balance.Remaining))
	}
	if diff := cmp.Diff([]string{"credits_low 0", "credits_exhausted 0"}, kinds); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
