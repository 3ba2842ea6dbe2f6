package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/apikeytest"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

// limited returns the fixture's Authenticator in front of a RateLimiter
// whose store runs on the fixture's clock.
func limited(f *fixture, rl *middleware.RateLimiter, next http.Handler) http.Handler {
	if rl.Store == nil {
		rl.Store = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: f.clock.Now})
	}
	auth := &middleware.Authenticator{Verifier: f.mgr}
	return quietWriter(auth.Handler(rl.Handler(next)))
}

func get(h http.Handler, key string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/v1/monitors", nil)
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRateLimitBurstAndRetryAfter(t *testing.T) {
	f := newFixture(t)
	var calls atomic.Int64
	h := limited(f, &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("5/minute"), LegacyHeaders: true},
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	key := f.keys["secret"]

	for i := 1; i <= 5; i++ {
		w := get(h, key)
		if w.Code != 200 {
			t.Fatalf("request %d: %d %s", i, w.Code, w.Body)
		}
		want := http.Header{
			"Ratelimit-Policy":      {`"5-per-minute";q=5;w=60`},
			"Ratelimit":             {`"5-per-minute";r=` + strconv.Itoa(5-i) + `;t=` + strconv.Itoa(12*i)},
			"X-Ratelimit-Limit":     {"5"},
			"X-Ratelimit-Remaining": {strconv.Itoa(5 - i)},
			"X-Ratelimit-Reset":     {strconv.Itoa(12 * i)},
		}
		got := w.Header().Clone()
		for k := range got {
			if _, ok := want[k]; !ok {
				delete(got, k)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("request %d headers (-want +got):\n%s", i, diff)
		}
	}

	// The 6th request in the window is refused and consumes nothing.
	w := get(h, key)
	if w.Code != 429 || string(decodeError(t, w).Code) != "rate_limit_exceeded" {
		t.Fatalf("6th request: %d %s", w.Code, w.Body)
	}
	if got := w.Header().Get("Retry-After"); got != "12" {
		t.Errorf("Retry-After %q, want 12", got)
	}
	if got := w.Header().Get("RateLimit"); got != `"5-per-minute";r=0;t=60` {
		t.Errorf("RateLimit %q", got)
	}
	if calls.Load() != 5 {
		t.Errorf("handler ran %d times, want 5", calls.Load())
	}

	// Waiting a little less than Retry-After is not enough; waiting it is.
	f.clock.Advance(12*time.Second - time.Millisecond)
	if w := get(h, key); w.Code != 429 || w.Header().Get("Retry-After") != "1" {
		t.Errorf("early retry: %d Retry-After=%q", w.Code, w.Header().Get("Retry-After"))
	}
	f.clock.Advance(time.Millisecond)
	if w := get(h, key); w.Code != 200 {
		t.Errorf("retry after exactly Retry-After: %d", w.Code)
	}

	// Another key has its own bucket.
	if w := get(h, f.keys["secret-ro"]); w.Code != 200 {
		t.Errorf("other key: %d", w.Code)
	}
}

func TestRateLimitMultiWindow(t *testing.T) {
	f := newFixture(t)
	h := limited(f, &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("2/second, 3/minute")}, nop)
	key := f.keys["secret"]
	var codes []int
	for range 2 {
		codes = append(codes, get(h, key).Code)
	}
	f.clock.Advance(time.Second)
	w := get(h, key)
	codes = append(codes, w.Code)
	if got := w.Header().Get("RateLimit-Policy"); got != `"2-per-second";q=2;w=1, "3-per-minute";q=3;w=60` {
		t.Errorf("RateLimit-Policy %q", got)
	}
	w = get(h, key) // the per-minute limit is exhausted even though the per-second one has room
	codes = append(codes, w.Code)
	if diff := cmp.Diff([]int{200, 200, 200, 429}, codes); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
	if got := w.Header().Get("RateLimit"); got != `"2-per-second";r=1;t=1, "3-per-minute";r=0;t=59` {
		t.Errorf("RateLimit %q", got)
	}
	// 3/minute refills one token every 20s; one second has passed.
	if got := w.Header().Get("Retry-After"); got != "19" {
		t.Errorf("Retry-After %q, want 19", got)
	}
}

func TestRateLimitTiersAndCost(t *testing.T) {
	f := newFixture(t)
	tiers := map[string]ratelimit.Policy{"": ratelimit.MustParsePolicy("2/minute"), "pro": ratelimit.MustParsePolicy("10/minute")}
	tierOf := map[string]string{f.recs["secret-ro"].ID: "pro"} // a live tier table the service can change
	h := limited(f, &middleware.RateLimiter{
		PolicyFor: func(r *http.Request) ratelimit.Policy {
			k, _ := middleware.KeyFromContext(r.Context())
			return tiers[tierOf[k.ID]]
		},
		Cost: func(r *http.Request) int {
			if r.URL.Query().Get("bulk") != "" {
				return 5
			}
			return 1
		},
	}, nop)
	count := func(key string) int {
		n := 0
		for range 20 {
			if get(h, key).Code == 200 {
				n++
			}
		}
		return n
	}
	if n := count(f.keys["secret"]); n != 2 {
		t.Errorf("free tier: %d allowed, want 2", n)
	}
	if n := count(f.keys["secret-ro"]); n != 10 {
		t.Errorf("pro tier: %d allowed, want 10", n)
	}
	// Upgrading takes effect on the next request.
	tierOf[f.recs["secret"].ID] = "pro"
	if n := count(f.keys["secret"]); n != 10 {
		t.Errorf("after upgrade: %d allowed, want 10", n)
	}
	// A bulk request costs 5 tokens.
	f.clock.Advance(time.Minute)
	r := httptest.NewRequest("GET", "/v1/monitors?bulk=1", nil)
	r.Header.Set("Authorization", "Bearer "+f.keys["secret"])
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got := w.Header().Get("RateLimit"); w.Code != 200 || got != `"10-per-minute";r=5;t=30` {
		t.Errorf("bulk: %d RateLimit=%q", w.Code, got)
	}
}

type brokenStore struct{}

func (brokenStore) Take(context.Context, string, ratelimit.Policy, int) (ratelimit.Decision, error) {
	return ratelimit.Decision{}, errors.New("redis: connection refused")
}

func TestRateLimitStoreFailure(t *testing.T) {
	f := newFixture(t)
	for _, failClosed := range []bool{false, true} {
		h := limited(f, &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("1/minute"), Store: brokenStore{},
			FailClosed: failClosed, Logger: discardLogger()}, nop)
		w := get(h, f.keys["secret"])
		want := 200 // the first request, decided by the fallback
		if failClosed {
			want = 503
		}
		if w.Code != want {
			t.Errorf("FailClosed=%v: %d, want %d", failClosed, w.Code, want)
		}
		if failClosed && (w.Header().Get("Retry-After") == "" || string(decodeError(t, w).Code) != "service_unavailable") {
			t.Errorf("fail closed: %v %s", w.Header(), w.Body)
		}
	}
}

// TestRateLimitFailOpenKeepsThePolicy: failing open is not unlimited: a
// replica whose store is down applies the policy on its own, with the
// headers, until the store is back.
func TestRateLimitFailOpenKeepsThePolicy(t *testing.T) {
	f := newFixture(t)
	fallback := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: f.clock.Now})
	for _, tt := range []struct {
		name string
		rl   *middleware.RateLimiter
	}{
		{"default fallback", &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("3/minute"), Store: brokenStore{}, Logger: discardLogger()}},
		{"own fallback", &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("3/minute"), Store: brokenStore{}, Fallback: fallback, Logger: discardLogger()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := limited(f, tt.rl, nop)
			var codes []int
			for range 5 {
				w := get(h, f.keys["secret"])
				codes = append(codes, w.Code)
				if w.Header().Get("RateLimit") == "" || w.Header().Get("RateLimit-Policy") == "" {
					t.Errorf("store down, failing open: no RateLimit headers (%d)", w.Code)
				}
			}
			if want := []int{200, 200, 200, 429, 429}; !slices.Equal(codes, want) {
				t.Errorf("3/minute with the store down: %v, want %v", codes, want)
			}
		})
	}
}

func TestRateLimitFailedKeyCreatesNoState(t *testing.T) {
	f := newFixture(t)
	store := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: f.clock.Now})
	h := limited(f, &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("5/minute"), Store: store}, nop)
	for _, k := range []string{"", "sk_live_bogus", f.keys["revoked"], forge(t, "AAAAAAAAAAAA")} {
		if w := get(h, k); w.Code != 401 || w.Header().Get("RateLimit") != "" {
			t.Errorf("failed auth: %d RateLimit=%q", w.Code, w.Header().Get("RateLimit"))
		}
	}
	if n := store.Len(); n != 0 {
		t.Errorf("%d buckets after failed authentications, want 0", n)
	}
}

func TestKeyByIP(t *testing.T) {
	tp, _ := middleware.ParseTrustedProxies("10.0.0.0/8")
	key := middleware.KeyByIP(tp)
	for remote, want := range map[string]string{
		"203.0.113.9:1":            "ip:203.0.113.9",
		"[2001:db8:1:2:3:4:5:6]:1": "ip:2001:db8:1:2::",
		"[2001:db8:1:2:ff::1]:1":   "ip:2001:db8:1:2::",
		"[2001:db8:1:3::1]:1":      "ip:2001:db8:1:3::",
		"[::ffff:203.0.113.9]:1":   "ip:203.0.113.9",
		"nonsense":                 "ip:unknown",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if got := key(r); got != want {
			t.Errorf("%s: %q, want %q", remote, got, want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "198.51.100.4")
	if got := key(r); got != "ip:198.51.100.4" {
		t.Errorf("behind trusted proxy: %q", got)
	}
}

func TestRateLimitMisconfiguration(t *testing.T) {
	for name, rl := range map[string]*middleware.RateLimiter{
		"no policy":      {},
		"invalid policy": {Policy: ratelimit.Policy{{Requests: 0, Window: time.Minute}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			rl.Handler(nop)
		}()
	}
}

func TestAuthThrottle(t *testing.T) {
	f := newFixture(t)
	throttle := &middleware.AuthThrottle{
		Limit: ratelimit.MustParsePolicy("3/minute")[0],
		Store: ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: f.clock.Now}),
		Now:   f.clock.Now,
	}
	var lookups atomic.Int64
	auth := &middleware.Authenticator{Verifier: countingVerifier{f.mgr, &lookups}, Throttle: throttle}
	h := quietWriter(auth.Handler(nop))
	from := func(remote, key string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	attacker, other := "203.0.113.9:4000", "198.51.100.1:4000"
	guess := forge(t, "AAAAAAAAAAAA")
	var codes []int
	for range 4 {
		codes = append(codes, from(attacker, guess).Code)
	}
	if diff := cmp.Diff([]int{401, 401, 401, 429}, codes); diff != "" { // the 3rd empties the bucket
		t.Fatalf("guesses (-want +got):\n%s", diff)
	}
	// Now even a valid key from that address is refused before any look-up.
	before := lookups.Load()
	w := from(attacker, f.keys["secret"])
	if w.Code != 429 || decodeError(t, w).Code != apierrors.CodeRateLimitExceeded || w.Header().Get("Retry-After") != "20" {
		t.Errorf("valid key while blocked: %d Retry-After=%q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if lookups.Load() != before {
		t.Error("blocked request reached the verifier")
	}
	// Other addresses are unaffected, and valid keys never count.
	for range 5 {
		if w := from(other, f.keys["secret"]); w.Code != 200 {
			t.Fatalf("other client: %d", w.Code)
		}
	}
	// A nanosecond before one token is back, still blocked; then one more
	// guess is possible, which empties the bucket again.
	f.clock.Advance(20*time.Second - time.Nanosecond)
	if w := from(attacker, f.keys["secret"]); w.Code != 429 {
		t.Errorf("just before refill, valid key: %d", w.Code)
	}
	f.clock.Advance(time.Nanosecond)
	if w := from(attacker, f.keys["secret"]); w.Code != 200 {
		t.Errorf("after refill, valid key: %d", w.Code)
	}
	if w := from(attacker, guess); w.Code != 401 {
		t.Errorf("after refill, one guess: %d", w.Code)
	}
	if w := from(attacker, f.keys["secret"]); w.Code != 429 {
		t.Errorf("after refill and a guess, valid key: %d", w.Code)
	}
	// Genuine but unusable keys (revoked) are not guesses: they do not count.
	f.clock.Advance(time.Hour)
	for range 5 {
		if w := from(other, f.keys["revoked"]); w.Code != 401 {
			t.Fatalf("revoked: %d", w.Code)
		}
	}
}

// busyVerifier refuses every key as a Verifier whose look-up slots are all
// taken does.
type busyVerifier struct{}

func (busyVerifier) Verify(context.Context, string) (*apikey.Key, error) {
	return nil, apikey.ErrTooManyLookups
}

// TestAuthThrottleCountsBusyLookups: a request refused because the
// Verifier's look-up slots are full is the mark of a flood; it counts
// toward the throttle of its address like an invalid key, so a flooding
// address is soon refused before it takes a slot.
func TestAuthThrottleCountsBusyLookups(t *testing.T) {
	f := newFixture(t)
	throttle := &middleware.AuthThrottle{
		Limit: ratelimit.MustParsePolicy("3/minute")[0],
		Store: ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: f.clock.Now}),
		Now:   f.clock.Now,
	}
	h := quietWriter((&middleware.Authenticator{Verifier: busyVerifier{}, Throttle: throttle}).Handler(nop))
	var codes []int
	for range 4 {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "203.0.113.9:4000"
		r.Header.Set("Authorization", "Bearer "+f.keys["secret"])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		codes = append(codes, w.Code)
	}
	if diff := cmp.Diff([]int{503, 503, 503, 429}, codes); diff != "" {
		t.Errorf("look-ups refused for want of slots (-want +got):\n%s", diff)
	}
}

// TestAuthThrottleZeroValue: the zero AuthThrottle allows 100 failures a
// minute per address; an invalid Limit panics when the Authenticator's
// Handler is built, not on some later request.
func TestAuthThrottleZeroValue(t *testing.T) {
	var throttle middleware.AuthThrottle
	client := netip.MustParseAddr("203.0.113.9")
	for i := range 100 {
		if _, blocked, err := throttle.Failed(context.Background(), client); blocked || err != nil {
			t.Fatalf("failure %d: blocked=%v err=%v", i+1, blocked, err)
		}
	}
	if _, blocked := throttle.Blocked(client); !blocked {
		t.Error("not blocked after 100 failures")
	}

	defer func() {
		if v := recover(); v == nil || !strings.HasPrefix(fmt.Sprint(v), "middleware: AuthThrottle.Limit: ") {
			t.Errorf("panic %v, want one naming AuthThrottle.Limit", v)
		}
	}()
	bad := &middleware.AuthThrottle{Limit: ratelimit.Limit{Requests: -1, Window: time.Minute}}
	(&middleware.Authenticator{Verifier: failingVerifier{}, Throttle: bad}).Handler(nop)
}

func TestRateLimitCostAboveCapacity(t *testing.T) {
	f := newFixture(t)
	var calls atomic.Int64
	h := limited(f, &middleware.RateLimiter{
		Policy: ratelimit.MustParsePolicy("5/minute"),
		Cost:   func(*http.Request) int { return 6 },
	}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	w := get(h, f.keys["secret"])
	// It can never pass; the client is told to come back after a window
	// rather than at once.
	if w.Code != 429 || w.Header().Get("Retry-After") != "60" || calls.Load() != 0 {
		t.Errorf("cost above capacity: %d Retry-After=%q handler=%d", w.Code, w.Header().Get("Retry-After"), calls.Load())
	}
}

func TestRateLimitPolicyForErrors(t *testing.T) {
	f := newFixture(t)
	for name, p := range map[string]ratelimit.Policy{
		"empty, no Policy": nil,
		"invalid":          {{Requests: 0, Window: time.Minute}},
	} {
		h := limited(f, &middleware.RateLimiter{PolicyFor: func(*http.Request) ratelimit.Policy { return p },
			Logger: discardLogger()}, nop)
		if w := get(h, f.keys["secret"]); w.Code != 500 || string(decodeError(t, w).Code) != "internal_error" {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
}

// TestRateLimitPolicyForPrepared: the same tier policy, returned again,
// gives the same headers, and distinct policies do not share them.
func TestRateLimitPolicyForPrepared(t *testing.T) {
	f := newFixture(t)
	free, pro := ratelimit.MustParsePolicy("2/minute"), ratelimit.MustParsePolicy("10/minute")
	h := limited(f, &middleware.RateLimiter{PolicyFor: func(r *http.Request) ratelimit.Policy {
		if k, _ := middleware.KeyFromContext(r.Context()); k.Permission == apikey.ReadOnly {
			return pro
		}
		return free
	}}, nop)
	for range 3 {
		if got := get(h, f.keys["secret"]).Header().Get("RateLimit-Policy"); got != `"2-per-minute";q=2;w=60` {
			t.Errorf("free tier header %q", got)
		}
		if got := get(h, f.keys["secret-ro"]).Header().Get("RateLimit-Policy"); got != `"10-per-minute";q=10;w=60` {
			t.Errorf("pro tier header %q", got)
		}
	}
}

func TestAuthThrottleMaxBlocked(t *testing.T) {
	clock := apikeytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	throttle := &middleware.AuthThrottle{
		Limit:      ratelimit.PerMinute(1),
		Store:      ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: clock.Now}),
		Now:        clock.Now,
		MaxBlocked: 2,
	}
	addrs := []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.3")}
	for _, a := range addrs {
		clock.Advance(time.Second)
		throttle.Failed(context.Background(), a) // empties its bucket: blocked
	}
	blocked := 0
	for _, a := range addrs {
		if _, ok := throttle.Blocked(a); ok {
			blocked++
		}
	}
	if _, ok := throttle.Blocked(addrs[2]); !ok || blocked != 2 {
		t.Errorf("%d addresses blocked (newest blocked: %v), want 2 with the newest", blocked, ok)
	}
}

// TestRateLimitHeaderSizes: the RateLimit and Retry-After values are
// right whatever their length (the short, the long and the very long
// policies take different allocations).
func TestRateLimitHeaderSizes(t *testing.T) {
	for _, policy := range []string{
		"5/second",
		"5/second,100/minute",
		"5/second,100/minute,1000/hour,10000/day,100000/168h",
		"1/second,2/second,3/second,4/second,5/second,6/second,7/second,8/second,9/second,10/minute,11/minute,12/minute",
	} {
		p := ratelimit.MustParsePolicy(policy)
		h := (&middleware.RateLimiter{Policy: p, Key: func(*http.Request) string { return "k" }, Logger: discardLogger()}).Handler(nop)
		var last *httptest.ResponseRecorder
		for range 2 { // the first is allowed; with "1/second" the second is refused
			last = httptest.NewRecorder()
			h.ServeHTTP(last, httptest.NewRequest("GET", "/", nil))
		}
		items := strings.Split(last.Header().Get("RateLimit"), ", ")
		if len(items) != len(p) {
			t.Errorf("%s: RateLimit %q has %d items, want %d", policy, last.Header().Get("RateLimit"), len(items), len(p))
		}
		for i, it := range items {
			if !strings.HasPrefix(it, `"`+p[i].Label()+`";r=`) || !strings.Contains(it, ";t=") {
				t.Errorf("%s: item %q, want the state of %s", policy, it, p[i].Label())
			}
		}
		if last.Code == 429 {
			if ra := last.Header().Get("Retry-After"); ra != "1" {
				t.Errorf("%s: Retry-After %q, want 1", policy, ra)
			}
		} else if last.Header().Get("Retry-After") != "" {
			t.Errorf("%s: Retry-After on an allowed request", policy)
		}
	}
}
