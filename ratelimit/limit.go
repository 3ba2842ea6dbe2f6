package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// MaxTokens bounds Limit.Requests and Limit.Burst. Buckets count tokens in
// float64; keeping counts far below 2^53 keeps fractional refill exact
// enough that every reported duration is exact to the nanosecond.
const MaxTokens = 1 << 40

// Windows accepted by ParseLimit by name.
const (
	second = time.Second
	minute = time.Minute
	hour   = time.Hour
	day    = 24 * time.Hour
)

// A Limit is a token bucket of Burst tokens (Requests when Burst is 0), full
// at the start and refilled continuously at Requests tokens per Window. A
// request costing n tokens passes when the bucket holds at least n tokens.
//
// "100/minute" is Limit{Requests: 100, Window: time.Minute}: 100 requests
// at once, then one more every 600ms.
//
// The zero Limit is invalid: Validate reports an error and a Store rejects
// it rather than guessing.
type Limit struct {
	// Requests is the number of tokens added per Window (≥ 1).
	Requests int
	// Window is the refill period (> 0).
	Window time.Duration
	// Burst is the bucket's capacity; 0 means Requests.
	Burst int
	// Name optionally names the limit, for example in a RateLimit-Policy
	// header. When empty, Label derives one from the rate.
	Name string
}

// PerSecond returns a Limit of n requests per second.
func PerSecond(n int) Limit { return Limit{Requests: n, Window: second} }

// PerMinute returns a Limit of n requests per minute.
func PerMinute(n int) Limit { return Limit{Requests: n, Window: minute} }

// PerHour returns a Limit of n requests per hour.
func PerHour(n int) Limit { return Limit{Requests: n, Window: hour} }

// PerDay returns a Limit of n requests per day (24 hours).
func PerDay(n int) Limit { return Limit{Requests: n, Window: day} }

// WithBurst returns a copy of l with the given Burst.
func (l Limit) WithBurst(burst int) Limit { l.Burst = burst; return l }

// WithName returns a copy of l with the given Name.
func (l Limit) WithName(name string) Limit { l.Name = name; return l }

// Capacity returns the bucket size: Burst, or Requests when Burst is 0.
func (l Limit) Capacity() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return l.Requests
}

// Rate returns the refill rate in tokens per second, as used by
// golang.org/x/time/rate.
func (l Limit) Rate() rate.Limit {
	return rate.Limit(float64(l.Requests) / l.Window.Seconds())
}

// Validate reports whether l can be enforced. The error wraps ErrInvalidLimit.
func (l Limit) Validate() error {
	switch {
	case l.Requests < 1:
		return fmt.Errorf("%w: requests must be at least 1, got %d", ErrInvalidLimit, l.Requests)
	case l.Requests > MaxTokens:
		return fmt.Errorf("%w: requests %d exceeds %d", ErrInvalidLimit, l.Requests, MaxTokens)
	case l.Window <= 0:
		return fmt.Errorf("%w: window must be positive, got %v", ErrInvalidLimit, l.Window)
	case l.Burst < 0:
		return fmt.Errorf("%w: burst must not be negative, got %d", ErrInvalidLimit, l.Burst)
	case l.Burst > MaxTokens:
		return fmt.Errorf("%w: burst %d exceeds %d", ErrInvalidLimit, l.Burst, MaxTokens)
	}
	return nil
}

// unitNames maps the canonical windows to their names, used by String and
// Label.
var unitNames = [...]struct {
	d    time.Duration
	name string
}{{second, "second"}, {minute, "minute"}, {hour, "hour"}, {day, "day"}}

// windowString formats w as a unit name ("minute") or a count of a unit
// ("5m", "90s", "2d") or, failing that, a Go duration ("1.5s").
func windowString(w time.Duration) string {
	for _, u := range unitNames {
		if w == u.d {
			return u.name
		}
	}
	for _, u := range [...]struct {
		d      time.Duration
		suffix string
	}{{day, "d"}, {hour, "h"}, {minute, "m"}, {second, "s"}} {
		if w%u.d == 0 {
			return strconv.FormatInt(int64(w/u.d), 10) + u.suffix
		}
	}
	return w.String()
}

// String formats l in the syntax accepted by ParseLimit, such as
// "100/minute" or "10/5m;burst=20". Burst appears only when it differs from
// Requests. Name is not part of the text form.
func (l Limit) String() string {
	s := strconv.Itoa(l.Requests) + "/" + windowString(l.Window)
	if l.Burst > 0 && l.Burst != l.Requests {
		s += ";burst=" + strconv.Itoa(l.Burst)
	}
	return s
}

// Label returns l.Name, or when it is empty a name derived from the rate,
// such as "100-per-minute", "10-per-5m" or "10-per-minute-burst-20". Derived
// labels contain only [0-9a-z.-], so they can be used as header tokens.
func (l Limit) Label() string {
	if l.Name != "" {
		return l.Name
	}
	s := strconv.Itoa(l.Requests) + "-per-" + windowString(l.Window)
	if l.Burst > 0 && l.Burst != l.Requests {
		s += "-burst-" + strconv.Itoa(l.Burst)
	}
	return s
}

// ParseLimit parses a limit written "N/window", optionally followed by
// ";burst=B". The window is a unit — second, minute, hour or day (also s,
// sec, m, min, h, hr, d, and plurals) — optionally preceded by a positive
// count ("5m", "2 hours", "30s"), or any time.ParseDuration string
// ("1h30m", "500ms"). Spaces around the parts are ignored.
//
//	100/minute   10/s   1000/day   10/5m   5/1h30m   10/minute;burst=20
//
// Errors wrap ErrInvalidLimit.
func ParseLimit(s string) (Limit, error) {
	body, burstPart, hasBurst := strings.Cut(s, ";")
	reqs, win, ok := strings.Cut(body, "/")
	if !ok {
		return Limit{}, fmt.Errorf("%w %q: want N/window, such as 100/minute", ErrInvalidLimit, s)
	}
	var l Limit
	n, err := parseCount(reqs)
	if err != nil {
		return Limit{}, fmt.Errorf("%w %q: requests: %v", ErrInvalidLimit, s, err)
	}
	l.Requests = n
	if l.Window, err = parseWindow(win); err != nil {
		return Limit{}, fmt.Errorf("%w %q: window: %v", ErrInvalidLimit, s, err)
	}
	if hasBurst {
		k, v, ok := strings.Cut(burstPart, "=")
		if !ok || strings.TrimSpace(k) != "burst" {
			return Limit{}, fmt.Errorf("%w %q: want ;burst=N after the rate", ErrInvalidLimit, s)
		}
		if l.Burst, err = parseCount(v); err != nil {
			return Limit{}, fmt.Errorf("%w %q: burst: %v", ErrInvalidLimit, s, err)
		}
	}
	if err := l.Validate(); err != nil {
		return Limit{}, fmt.Errorf("%w (in %q)", err, s)
	}
	return l, nil
}

// parseCount parses a positive decimal count no larger than MaxTokens.
func parseCount(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("missing number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a positive whole number", s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > MaxTokens {
		return 0, fmt.Errorf("%s is too large (max %d)", s, MaxTokens)
	}
	if n < 1 {
		return 0, fmt.Errorf("%s must be at least 1", s)
	}
	return int(n), nil
}

var unitByName = map[string]time.Duration{
	"s": second, "sec": second, "secs": second, "second": second, "seconds": second,
	"m": minute, "min": minute, "mins": minute, "minute": minute, "minutes": minute,
	"h": hour, "hr": hour, "hrs": hour, "hour": hour, "hours": hour,
	"d": day, "day": day, "days": day,
}

// parseWindow parses "minute", "5m", "2 hours", or a time.ParseDuration
// string.
func parseWindow(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("missing window")
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if unit, ok := unitByName[strings.TrimSpace(s[i:])]; ok {
		if i == 0 {
			return unit, nil
		}
		k, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || k > math.MaxInt64/int64(unit) {
			return 0, fmt.Errorf("%q is too long", s)
		}
		if k < 1 {
			return 0, fmt.Errorf("%q must be positive", s)
		}
		return time.Duration(k) * unit, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a unit (second, minute, hour, day) or a duration", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be positive", s)
	}
	return d, nil
}

// A Policy is a set of limits enforced together: a request passes only if
// every limit has room for its cost, and a rejected request consumes from
// none of them. Buckets are identified by their position in the policy.
//
// A nil or empty Policy is invalid.
type Policy []Limit

// Validate reports whether p can be enforced: at least one limit, each valid.
// The error wraps ErrInvalidLimit.
func (p Policy) Validate() error {
	if len(p) == 0 {
		return fmt.Errorf("%w: empty policy", ErrInvalidLimit)
	}
	for i, l := range p {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("%w (limit %d of policy)", err, i)
		}
	}
	return nil
}

// String formats p as comma-separated limits, the syntax of ParsePolicy.
func (p Policy) String() string {
	var b strings.Builder
	for i, l := range p {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.String())
	}
	return b.String()
}

// ParsePolicy parses comma-separated limits in the syntax of ParseLimit,
// such as "10/second;burst=20, 1000/day". Errors wrap ErrInvalidLimit.
func ParsePolicy(s string) (Policy, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty policy", ErrInvalidLimit)
	}
	parts := strings.Split(s, ",")
	p := make(Policy, 0, len(parts))
	for _, part := range parts {
		l, err := ParseLimit(part)
		if err != nil {
			return nil, err
		}
		p = append(p, l)
	}
	return p, nil
}

// MustParsePolicy is like ParsePolicy but panics on error. It simplifies
// initialising package-level policies.
func MustParsePolicy(s string) Policy {
	p, err := ParsePolicy(s)
	if err != nil {
		panic(err)
	}
	return p
}
