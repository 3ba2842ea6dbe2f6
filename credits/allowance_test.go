package credits

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAllowance(t *testing.T) {
	for in, want := range map[string]Allowance{
		"500/month":    PerMonth(500),
		"100/day":      PerDay(100),
		" 7 / Days ":   PerDay(7),
		"1/d":          PerDay(1),
		"3/mo":         PerMonth(3),
		"100000/MONTH": PerMonth(100000),
	} {
		got, err := ParseAllowance(in)
		if err != nil || got != want {
			t.Errorf("ParseAllowance(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "500", "0/month", "-1/day", "1.5/day", "+1/day", "1/week", "1/hour", "/month", "1/",
		"1e3/day", "99999999999999999/day", "1/month/day", "１/day"} {
		if a, err := ParseAllowance(in); !errors.Is(err, ErrInvalidAllowance) {
			t.Errorf("ParseAllowance(%q) = %v, %v; want ErrInvalidAllowance", in, a, err)
		}
	}
	_, err := ParseAllowance(strings.Repeat("x", 1000))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("error for a long input: %v", err)
	}
}

func TestAllowanceValidate(t *testing.T) {
	for _, a := range []Allowance{{}, {Credits: 1}, {Period: Day}, {Credits: MaxCredits + 1, Period: Day}, {Credits: 1, Period: 9}} {
		if err := a.Validate(); !errors.Is(err, ErrInvalidAllowance) {
			t.Errorf("%+v.Validate() = %v", a, err)
		}
	}
	if err := PerMonth(MaxCredits).Validate(); err != nil {
		t.Error(err)
	}
}

// FuzzParseAllowance: ParseAllowance never panics; what it accepts is
// valid and round-trips through String; every error wraps
// ErrInvalidAllowance.
func FuzzParseAllowance(f *testing.F) {
	for _, s := range []string{"500/month", "100/day", " 7 / Days ", "0/day", "1/week", "", "/", "9999999999999999/mo"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAllowance(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidAllowance) {
				t.Fatalf("ParseAllowance(%q) error %v does not wrap ErrInvalidAllowance", s, err)
			}
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("ParseAllowance(%q) = %v, which is invalid: %v", s, a, err)
		}
		again, err := ParseAllowance(a.String())
		if err != nil || again != a {
			t.Fatalf("round trip of %v through %q: %v, %v", a, a.String(), again, err)
		}
	})
}
