package ratelimit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
	"github.com/google/go-cmp/cmp"
)

func TestNewDecision(t *testing.T) {
	a, b, c := ratelimit.PerSecond(10), ratelimit.PerMinute(100), ratelimit.PerDay(1000).WithName("daily")
	never := ratelimit.Never
	for _, tc := range []struct {
		name    string
		allowed bool
		states  []ratelimit.LimitState
		want    ratelimit.Decision // States: the states, when more than one
	}{
		{"one limit, allowed", true,
			[]ratelimit.LimitState{{Limit: a, Remaining: 4, ResetAfter: 600 * time.Millisecond}},
			ratelimit.Decision{Allowed: true, Limit: a, Remaining: 4, ResetAfter: 600 * time.Millisecond}},
		{"one limit, rejected", false,
			[]ratelimit.LimitState{{Limit: a, RetryAfter: 100 * time.Millisecond, ResetAfter: time.Second}},
			ratelimit.Decision{Limit: a, RetryAfter: 100 * time.Millisecond, ResetAfter: time.Second}},
		{"one limit, allowed: RetryAfter is 0", true,
			[]ratelimit.LimitState{{Limit: a, Remaining: 4, RetryAfter: time.Second, ResetAfter: time.Second}},
			ratelimit.Decision{Allowed: true, Limit: a, Remaining: 4, ResetAfter: time.Second}},
		{"allowed: fewest remaining", true,
			[]ratelimit.LimitState{
				{Limit: a, Remaining: 9, ResetAfter: 100 * time.Millisecond},
				{Limit: b, Remaining: 2, ResetAfter: 59 * time.Second},
				{Limit: c, Remaining: 5, ResetAfter: time.Hour},
			},
			ratelimit.Decision{Allowed: true, Limit: b, Remaining: 2, ResetAfter: 59 * time.Second}},
		{"allowed: tie on remaining, longest ResetAfter", true,
			[]ratelimit.LimitState{
				{Limit: a, Remaining: 2, ResetAfter: time.Second},
				{Limit: b, Remaining: 2, ResetAfter: time.Minute},
				{Limit: c, Remaining: 2, ResetAfter: time.Second},
			},
			ratelimit.Decision{Allowed: true, Limit: b, Remaining: 2, ResetAfter: time.Minute}},
		{"allowed: complete tie, first in policy order", true,
			[]ratelimit.LimitState{
				{Limit: a, Remaining: 2, ResetAfter: time.Minute},
				{Limit: b, Remaining: 2, ResetAfter: time.Minute},
			},
			ratelimit.Decision{Allowed: true, Limit: a, Remaining: 2, ResetAfter: time.Minute}},
		{"allowed: RetryAfter ignored", true,
			[]ratelimit.LimitState{
				{Limit: a, Remaining: 1, RetryAfter: time.Hour, ResetAfter: time.Second},
				{Limit: b, Remaining: 0, ResetAfter: time.Minute},
			},
			ratelimit.Decision{Allowed: true, Limit: b, Remaining: 0, ResetAfter: time.Minute}},
		{"rejected: longest RetryAfter, though another has fewer remaining", false,
			[]ratelimit.LimitState{
				{Limit: a, Remaining: 0, RetryAfter: 100 * time.Millisecond, ResetAfter: time.Second},
				{Limit: b, Remaining: 1, RetryAfter: 30 * time.Second, ResetAfter: time.Minute},
				{Limit: c, Remaining: 500, ResetAfter: 12 * time.Hour},
			},
			ratelimit.Decision{Limit: b, Remaining: 1, RetryAfter: 30 * time.Second, ResetAfter: time.Minute}},
		{"rejected: Never wins", false,
			[]ratelimit.LimitState{
				{Limit: a, Remaining: 0, RetryAfter: time.Hour, ResetAfter: time.Hour},
				{Limit: b, Remaining: 100, RetryAfter: never},
			},
			ratelimit.Decision{Limit: b, Remaining: 100, RetryAfter: never}},
		{"rejected: tie on RetryAfter, fewest remaining", false,
			[]ratelimit.LimitState{
				{Limit: a, Remaining: 10, RetryAfter: never},
				{Limit: b, Remaining: 3, RetryAfter: never, ResetAfter: time.Second},
				{Limit: c, Remaining: 7, RetryAfter: never, ResetAfter: time.Hour},
			},
			ratelimit.Decision{Limit: b, Remaining: 3, RetryAfter: never, ResetAfter: time.Second}},
		{"rejected: tie on RetryAfter and remaining, longest ResetAfter", false,
			[]ratelimit.LimitState{
				{Limit: a, RetryAfter: time.Minute, ResetAfter: 2 * time.Minute},
				{Limit: b, RetryAfter: time.Minute, ResetAfter: time.Hour},
			},
			ratelimit.Decision{Limit: b, RetryAfter: time.Minute, ResetAfter: time.Hour}},
		{"rejected: complete tie, first in policy order", false,
			[]ratelimit.LimitState{
				{Limit: c, RetryAfter: time.Minute, ResetAfter: time.Hour},
				{Limit: a, RetryAfter: time.Minute, ResetAfter: time.Hour},
			},
			ratelimit.Decision{Limit: c, RetryAfter: time.Minute, ResetAfter: time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]ratelimit.LimitState(nil), tc.states...)
			got := ratelimit.NewDecision(tc.allowed, in)
			want := tc.want
			if len(tc.states) > 1 {
				want.States = tc.states
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("NewDecision (-want +got):\n%s", diff)
			}
			// The Decision does not share the caller's slice.
			for i := range in {
				in[i].Remaining = -1
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("after changing the states passed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewDecisionNoStates(t *testing.T) {
	defer func() {
		if msg, _ := recover().(string); !strings.HasPrefix(msg, "ratelimit: ") {
			t.Errorf("NewDecision(true, nil) panicked with %q, want a ratelimit message", msg)
		}
	}()
	ratelimit.NewDecision(true, nil)
}
