package ratelimit_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
	"github.com/google/go-cmp/cmp"
)

func TestParseLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want ratelimit.Limit
	}{
		{"100/minute", ratelimit.Limit{Requests: 100, Window: time.Minute}},
		{"100/min", ratelimit.Limit{Requests: 100, Window: time.Minute}},
		{"100/m", ratelimit.Limit{Requests: 100, Window: time.Minute}},
		{" 10 / second ", ratelimit.Limit{Requests: 10, Window: time.Second}},
		{"10/s", ratelimit.Limit{Requests: 10, Window: time.Second}},
		{"5/hour", ratelimit.Limit{Requests: 5, Window: time.Hour}},
		{"5/hours", ratelimit.Limit{Requests: 5, Window: time.Hour}},
		{"1000/day", ratelimit.Limit{Requests: 1000, Window: 24 * time.Hour}},
		{"1000/d", ratelimit.Limit{Requests: 1000, Window: 24 * time.Hour}},
		{"10/5m", ratelimit.Limit{Requests: 10, Window: 5 * time.Minute}},
		{"10/2 days", ratelimit.Limit{Requests: 10, Window: 48 * time.Hour}},
		{"5/1h30m", ratelimit.Limit{Requests: 5, Window: 90 * time.Minute}},
		{"5/500ms", ratelimit.Limit{Requests: 5, Window: 500 * time.Millisecond}},
		{"10/minute;burst=20", ratelimit.Limit{Requests: 10, Window: time.Minute, Burst: 20}},
		{"10/minute; burst = 3", ratelimit.Limit{Requests: 10, Window: time.Minute, Burst: 3}},
	} {
		got, err := ratelimit.ParseLimit(c.in)
		if err != nil {
			t.Errorf("ParseLimit(%q): %v", c.in, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("ParseLimit(%q) mismatch (-want +got):\n%s", c.in, diff)
		}
	}
}

func TestParseLimitErrors(t *testing.T) {
	for _, in := range []string{
		"", "100", "/minute", "100/", "0/minute", "-1/minute", "+1/minute", "1.5/minute",
		"100/fortnight", "100/0m", "100/0s", "100/-5m", "100/0", "99999999999999999999/s",
		"1099511627777/s", "1/999999999999d", "1/99999999999999999999h", "10/minute;burst=0",
		"10/minute;burst=x", "10/minute;bust=3", "10/minute;", "10/minute/hour",
	} {
		l, err := ratelimit.ParseLimit(in)
		if err == nil {
			t.Errorf("ParseLimit(%q) = %+v, want an error", in, l)
			continue
		}
		if !errors.Is(err, ratelimit.ErrInvalidLimit) || !strings.HasPrefix(err.Error(), "ratelimit: ") {
			t.Errorf("ParseLimit(%q) error %q: want ErrInvalidLimit, prefixed", in, err)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	p, err := ratelimit.ParsePolicy("10/second;burst=20, 1000/day")
	if err != nil {
		t.Fatal(err)
	}
	want := ratelimit.Policy{{Requests: 10, Window: time.Second, Burst: 20}, {Requests: 1000, Window: 24 * time.Hour}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	if got := p.String(); got != "10/second;burst=20,1000/day" {
		t.Errorf("String = %q", got)
	}
	for _, in := range []string{"", " ", ",", "10/s,", "10/s,,1/d", "10/s,x"} {
		if _, err := ratelimit.ParsePolicy(in); !errors.Is(err, ratelimit.ErrInvalidLimit) {
			t.Errorf("ParsePolicy(%q) error = %v, want ErrInvalidLimit", in, err)
		}
	}
}

func TestLabelAndString(t *testing.T) {
	for _, c := range []struct {
		l          ratelimit.Limit
		str, label string
	}{
		{ratelimit.PerMinute(100), "100/minute", "100-per-minute"},
		{ratelimit.PerDay(5).WithBurst(5), "5/day", "5-per-day"},
		{ratelimit.PerSecond(10).WithBurst(20), "10/second;burst=20", "10-per-second-burst-20"},
		{ratelimit.Limit{Requests: 10, Window: 5 * time.Minute}, "10/5m", "10-per-5m"},
		{ratelimit.Limit{Requests: 10, Window: 48 * time.Hour}, "10/2d", "10-per-2d"},
		{ratelimit.Limit{Requests: 10, Window: 1500 * time.Millisecond}, "10/1.5s", "10-per-1.5s"},
		{ratelimit.PerHour(1).WithName("hourly"), "1/hour", "hourly"},
	} {
		if got := c.l.String(); got != c.str {
			t.Errorf("String() = %q, want %q", got, c.str)
		}
		if got := c.l.Label(); got != c.label {
			t.Errorf("Label() = %q, want %q", got, c.label)
		}
	}
}

func TestMustParsePolicyPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	ratelimit.MustParsePolicy("nope")
}

func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"100/minute", "10/5m;burst=20", "1/d", "5/1h30m", "3/1.5s", "0/s", "1/0s", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ratelimit.ParseLimit(s)
		if err != nil {
			if !errors.Is(err, ratelimit.ErrInvalidLimit) {
				t.Fatalf("error %v does not wrap ErrInvalidLimit", err)
			}
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("ParseLimit(%q) = %+v, invalid: %v", s, l, err)
		}
		l2, err := ratelimit.ParseLimit(l.String())
		if err != nil {
			t.Fatalf("ParseLimit(%q) of String of %+v: %v", l.String(), l, err)
		}
		if l2.Requests != l.Requests || l2.Window != l.Window || l2.Capacity() != l.Capacity() {
			t.Fatalf("round trip %q -> %+v -> %q -> %+v", s, l, l.String(), l2)
		}
	})
}

func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{"100/minute,10000/day", "10/s;burst=20, 1/d", ",", "1/s,,2/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ratelimit.ParsePolicy(s)
		if err != nil {
			if !errors.Is(err, ratelimit.ErrInvalidLimit) {
				t.Fatalf("error %v does not wrap ErrInvalidLimit", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParsePolicy(%q) = %v, invalid: %v", s, p, err)
		}
		p2, err := ratelimit.ParsePolicy(p.String())
		if err != nil || len(p2) != len(p) {
			t.Fatalf("round trip %q -> %q: %v, %v", s, p.String(), p2, err)
		}
	})
}
