package credits

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxCredits is the largest allowance, grant or cost: far beyond any plan,
// and small enough that no sum of an allowance and grants overflows.
const MaxCredits = 1 << 50

// An Allowance is the credits an account receives at the start of every
// Period. The zero Allowance is invalid.
type Allowance struct {
	Credits int64
	Period  Period
}

// PerDay returns an allowance of n credits a day.
func PerDay(n int64) Allowance { return Allowance{Credits: n, Period: Day} }

// PerMonth returns an allowance of n credits a month.
func PerMonth(n int64) Allowance { return Allowance{Credits: n, Period: Month} }

// Validate reports whether a can be metered: between 1 and MaxCredits
// credits, a Day or Month period. The error wraps ErrInvalidAllowance.
func (a Allowance) Validate() error {
	switch {
	case !a.Period.Valid():
		return fmt.Errorf("%w: the period must be a day or a month", ErrInvalidAllowance)
	case a.Credits < 1 || a.Credits > MaxCredits:
		return fmt.Errorf("%w: %d credits: want 1 to %d", ErrInvalidAllowance, a.Credits, int64(MaxCredits))
	}
	return nil
}

// String formats a as ParseAllowance reads it: "500/month".
func (a Allowance) String() string { return strconv.FormatInt(a.Credits, 10) + "/" + a.Period.String() }

// ParseAllowance parses "N/period", where N is a positive count of credits
// (digits only, at most MaxCredits) and period is day (d, days) or month
// (mo, months), in any case: "500/month", "100/day". Spaces around the
// parts are ignored. Errors wrap ErrInvalidAllowance and never quote more
// than the first 32 bytes of s.
func ParseAllowance(s string) (Allowance, error) {
	count, unit, ok := strings.Cut(s, "/")
	if !ok {
		return Allowance{}, fmt.Errorf("%w: %q: want N/day or N/month", ErrInvalidAllowance, short(s))
	}
	count, unit = strings.TrimSpace(count), strings.TrimSpace(unit)
	if count == "" || len(count) > 16 || strings.Trim(count, "0123456789") != "" {
		return Allowance{}, fmt.Errorf("%w: %q: the count must be a positive whole number", ErrInvalidAllowance, short(s))
	}
	n, err := strconv.ParseInt(count, 10, 64)
	if err != nil {
		return Allowance{}, fmt.Errorf("%w: %q: the count must be a positive whole number", ErrInvalidAllowance, short(s))
	}
	a := Allowance{Credits: n}
	switch strings.ToLower(unit) {
	case "day", "days", "d":
		a.Period = Day
	case "month", "months", "mo":
		a.Period = Month
	default:
		return Allowance{}, fmt.Errorf("%w: %q: the period must be day or month", ErrInvalidAllowance, short(s))
	}
	if err := a.Validate(); err != nil {
		return Allowance{}, err
	}
	return a, nil
}

// short returns at most the first 32 bytes of s, for error messages.
func short(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
