package ratelimittest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
	"github.com/gatekey/gatekey/ratelimit/limitstoretest"
	"github.com/gatekey/gatekey/ratelimit/ratelimittest"
	"github.com/google/go-cmp/cmp"
)

var (
	fivePerMinute = ratelimit.Policy{ratelimit.PerMinute(5)}
	twoLimits     = ratelimit.MustParsePolicy("10/second;burst=20, 1000/day")
	perSecond     = twoLimits[0]
	perDay        = twoLimits[1]
)

func take(t *testing.T, s ratelimit.Store, p ratelimit.Policy, n int) ratelimit.Decision {
	t.Helper()
	d, err := s.Take(t.Context(), "key", p, n)
	if err != nil {
		t.Fatalf("Take(%v, %d): %v", p, n, err)
	}
	return d
}

func TestAlwaysAllow(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    ratelimit.Policy
		n    int
		want ratelimit.Decision
	}{
		{"one token", fivePerMinute, 1, ratelimit.Decision{Allowed: true, Limit: fivePerMinute[0], Remaining: 4, ResetAfter: 12 * time.Second}},
		{"whole bucket", fivePerMinute, 5, ratelimit.Decision{Allowed: true, Limit: fivePerMinute[0], Remaining: 0, ResetAfter: time.Minute}},
		{"more than the bucket", fivePerMinute, 7, ratelimit.Decision{Allowed: true, Limit: fivePerMinute[0], Remaining: 0, ResetAfter: time.Minute}},
		{"two limits", twoLimits, 1, ratelimit.Decision{
			Allowed: true, Limit: perSecond, Remaining: 19, ResetAfter: 100 * time.Millisecond,
			States: []ratelimit.LimitState{
				{Limit: perSecond, Remaining: 19, ResetAfter: 100 * time.Millisecond},
				{Limit: perDay, Remaining: 999, ResetAfter: 86400 * time.Millisecond},
			},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, take(t, ratelimittest.AlwaysAllow{}, tc.p, tc.n)); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAlwaysDeny(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store ratelimittest.AlwaysDeny
		p     ratelimit.Policy
		n     int
		want  ratelimit.Decision
	}{
		{"zero RetryAfter: time for one token", ratelimittest.AlwaysDeny{}, fivePerMinute, 1,
			ratelimit.Decision{Limit: fivePerMinute[0], RetryAfter: 12 * time.Second, ResetAfter: time.Minute}},
		{"zero RetryAfter: time for the cost", ratelimittest.AlwaysDeny{}, fivePerMinute, 3,
			ratelimit.Decision{Limit: fivePerMinute[0], RetryAfter: 36 * time.Second, ResetAfter: time.Minute}},
		{"zero RetryAfter: cost above capacity", ratelimittest.AlwaysDeny{}, fivePerMinute, 6,
			ratelimit.Decision{Limit: fivePerMinute[0], RetryAfter: ratelimit.Never, ResetAfter: ratelimit.Never}},
		{"given RetryAfter", ratelimittest.AlwaysDeny{RetryAfter: 30 * time.Second}, fivePerMinute, 1,
			ratelimit.Decision{Limit: fivePerMinute[0], RetryAfter: 30 * time.Second, ResetAfter: time.Minute}},
		{"given RetryAfter beyond a full refill", ratelimittest.AlwaysDeny{RetryAfter: 2 * time.Hour}, fivePerMinute, 1,
			ratelimit.Decision{Limit: fivePerMinute[0], RetryAfter: 2 * time.Hour, ResetAfter: 2 * time.Hour}},
		{"two limits: the slowest decides", ratelimittest.AlwaysDeny{}, twoLimits, 1, ratelimit.Decision{
			Limit: perDay, RetryAfter: 86400 * time.Millisecond, ResetAfter: 24 * time.Hour,
			States: []ratelimit.LimitState{
				{Limit: perSecond, RetryAfter: 100 * time.Millisecond, ResetAfter: 2 * time.Second},
				{Limit: perDay, RetryAfter: 86400 * time.Millisecond, ResetAfter: 24 * time.Hour},
			},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, take(t, tc.store, tc.p, tc.n)); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

// The doubles reject invalid arguments as every Store must.
func TestInvalidArguments(t *testing.T) {
	for _, s := range []ratelimit.Store{ratelimittest.AlwaysAllow{}, ratelimittest.AlwaysDeny{}, &ratelimittest.Recorder{}} {
		for _, tc := range []struct {
			name string
			p    ratelimit.Policy
			n    int
			want error
		}{
			{"nil policy", nil, 1, ratelimit.ErrInvalidLimit},
			{"zero limit", ratelimit.Policy{{}}, 1, ratelimit.ErrInvalidLimit},
			{"zero cost", fivePerMinute, 0, ratelimit.ErrInvalidCost},
			{"negative cost", fivePerMinute, -1, ratelimit.ErrInvalidCost},
		} {
			t.Run(fmt.Sprintf("%T/%s", s, tc.name), func(t *testing.T) {
				_, err := s.Take(t.Context(), "key", tc.p, tc.n)
				if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "ratelimittest: ") {
					t.Errorf("Take(%v, %d) = %v, want a ratelimittest error wrapping %v", tc.p, tc.n, err, tc.want)
				}
			})
		}
	}
}

func TestFailing(t *testing.T) {
	mine := errors.New("redis: connection refused")
	for _, tc := range []struct {
		name  string
		store ratelimittest.Failing
		want  error
	}{
		{"zero value", ratelimittest.Failing{}, ratelimit.ErrUnavailable},
		{"given error", ratelimittest.Failing{Err: mine}, mine},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.store.Take(t.Context(), "key", fivePerMinute, 1)
			if !errors.Is(err, tc.want) || d.Allowed {
				t.Errorf("Take = %+v, %v; want a zero Decision and %v", d, err, tc.want)
			}
		})
	}
}

// A Recorder in front of a real store passes the Store conformance suite:
// it changes nothing it passes on.
func TestRecorderConformance(t *testing.T) {
	limitstoretest.Run(t, func(t *testing.T) ratelimit.Store {
		return &ratelimittest.Recorder{Store: ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})}
	})
}

func TestRecorder(t *testing.T) {
	t.Run("zero value allows", func(t *testing.T) {
		var r ratelimittest.Recorder
		p := ratelimit.Policy{ratelimit.PerMinute(5)}
		d1 := take(t, &r, p, 1)
		_, err := r.Take(t.Context(), "other", p, 0)
		p[0].Requests = 99 // the recorded policy is a copy
		want := []ratelimittest.Call{
			{Key: "key", Policy: fivePerMinute, Cost: 1, Decision: d1},
			{Key: "other", Policy: fivePerMinute, Cost: 0, Err: err},
		}
		if diff := cmp.Diff(want, r.Calls(), cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		r.Reset()
		if got := r.Calls(); len(got) != 0 {
			t.Errorf("after Reset: %d calls, want 0", len(got))
		}
	})
	t.Run("wraps a store", func(t *testing.T) {
		r := &ratelimittest.Recorder{Store: ratelimittest.AlwaysDeny{RetryAfter: time.Second}}
		d := take(t, r, fivePerMinute, 2)
		calls := r.Calls()
		if d.Allowed || len(calls) != 1 || calls[0].Decision.RetryAfter != time.Second || calls[0].Cost != 2 {
			t.Errorf("decision %+v, calls %+v; want one denied call of cost 2", d, calls)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var r ratelimittest.Recorder
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for range 50 {
					r.Take(context.Background(), fmt.Sprint("key", i), twoLimits, 1)
					_ = r.Calls()
				}
			})
		}
		wg.Wait()
		if got := len(r.Calls()); got != 400 {
			t.Errorf("%d calls recorded, want 400", got)
		}
	})
}

// The doubles drive middleware.RateLimiter as a real store would.
func TestWithRateLimiter(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, tc := range []struct {
		name       string
		limiter    middleware.RateLimiter
		wantStatus int
		wantRetry  string
		wantState  string
	}{
		{"AlwaysAllow", middleware.RateLimiter{Store: ratelimittest.AlwaysAllow{}}, 200, "", `"5-per-minute";r=4;t=12`},
		{"AlwaysDeny", middleware.RateLimiter{Store: ratelimittest.AlwaysDeny{RetryAfter: 30 * time.Second}}, 429, "30", `"5-per-minute";r=0;t=60`},
		{"AlwaysDeny, zero", middleware.RateLimiter{Store: ratelimittest.AlwaysDeny{}}, 429, "12", `"5-per-minute";r=0;t=60`},
		{"Failing, fail open", middleware.RateLimiter{Store: ratelimittest.Failing{}}, 200, "", `"5-per-minute";r=4;t=12`}, // decided by the Fallback
		{"Failing, fail closed", middleware.RateLimiter{Store: ratelimittest.Failing{}, FailClosed: true}, 503, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.limiter.Policy = fivePerMinute
			tc.limiter.Logger = discard
			w := httptest.NewRecorder()
			tc.limiter.Handler(ok).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			if w.Code != tc.wantStatus || tc.wantRetry != "" && w.Header().Get("Retry-After") != tc.wantRetry ||
				w.Header().Get("RateLimit") != tc.wantState {
				t.Errorf("got %d, Retry-After %q, RateLimit %q; want %d, %q, %q", w.Code,
					w.Header().Get("Retry-After"), w.Header().Get("RateLimit"), tc.wantStatus, tc.wantRetry, tc.wantState)
			}
		})
	}
}
