package middleware

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/ratelimit"
)

// RateLimiter limits the request rate per key with token buckets. Put it
// after Authenticator: by default each API key has its own buckets, and a
// request whose key failed never reaches it, so it never creates state for
// a key that does not exist.
//
// Every limited response carries the RateLimit-Policy and RateLimit headers
// of the IETF httpapi ratelimit-headers draft, for example
//
//	RateLimit-Policy: "100-per-minute";q=100;w=60, "10000-per-day";q=10000;w=86400
//	RateLimit: "100-per-minute";r=42;t=35, "10000-per-day";r=9957;t=371
//
// where q is the quota, w the window in seconds, r the tokens remaining and
// t the seconds until the bucket is full again. A rejected request gets 429
// rate_limit_exceeded with Retry-After, the whole seconds (rounded up) after
// which it will pass, and consumes no tokens.
//
// Policy or PolicyFor is required; the other fields have working zero
// values. The RateLimiter must not be modified after Handler is called.
type RateLimiter struct {
	// Policy is the limits of every key, unless PolicyFor says otherwise.
	Policy ratelimit.Policy

	// PolicyFor, if set, chooses the policy of each request, for example by
	// the tier of its key (see KeyFromContext). Because it runs on every
	// request, a key moved to another tier is limited by its new policy at
	// once. An empty result means Policy. Return long-lived policies (one
	// per tier) and do not modify them: the headers of the first 64
	// distinct policies seen are prepared once and reused.
	PolicyFor func(r *http.Request) ratelimit.Policy

	// Store keeps the buckets. Nil means a new in-memory store with default
	// settings (ratelimit.NewMemoryStore); fleets share a Redis store.
	Store ratelimit.Store

	// Key returns the bucket key of a request; "" exempts the request. Nil
	// means the authenticated API key's id, or for a request without a key
	// the client address from Proxies (see KeyByIP).
	Key func(r *http.Request) string

	// Proxies resolves client addresses for the default Key.
	Proxies TrustedProxies

	// Cost returns the tokens a request takes (at least 1). Nil means 1.
	Cost func(r *http.Request) int

	// LegacyHeaders adds X-RateLimit-Limit, X-RateLimit-Remaining and
	// X-RateLimit-Reset for the tightest limit, for clients that predate the
	// draft. X-RateLimit-Reset is in delta seconds (until the bucket is
	// full), not a Unix time.
	LegacyHeaders bool

	// FailClosed answers 503 service_unavailable when the store fails. By
	// default a failing store lets requests through unlimited (fail open):
	// rate limiting protects capacity, and an outage of the limiter should
	// not become an outage of the API. Either way the failure is logged.
	FailClosed bool

	// Errors writes 429 and 503 responses. Nil means apierrors.Write.
	Errors *apierrors.Writer

	// Logger receives store failures. Nil means slog.Default().
	Logger *slog.Logger
}

// rateLimiter is the immutable form of a RateLimiter.
type rateLimiter struct {
	RateLimiter
	policyHeader []string // for Policy

	mu       sync.RWMutex
	prepared map[policyID]preparedPolicy // for PolicyFor's results
}

// policyID identifies a policy slice by its backing array and length.
type policyID struct {
	first *ratelimit.Limit
	n     int
}

// preparedPolicy is a policy with its limits named and its
// RateLimit-Policy header formatted.
type preparedPolicy struct {
	p      ratelimit.Policy
	header []string
}

const maxPreparedPolicies = 64

// prepare returns q named and with its header, from the cache when q has
// been seen before.
func (c *rateLimiter) prepare(q ratelimit.Policy) (ratelimit.Policy, []string) {
	id := policyID{&q[0], len(q)}
	c.mu.RLock()
	pp, ok := c.prepared[id]
	c.mu.RUnlock()
	if ok {
		return pp.p, pp.header
	}
	pp = preparedPolicy{p: named(q)}
	pp.header = []string{policyHeader(pp.p)}
	c.mu.Lock()
	if len(c.prepared) < maxPreparedPolicies {
		c.prepared[id] = pp
	}
	c.mu.Unlock()
	return pp.p, pp.header
}

// Handler returns next behind the rate limit. It panics if neither Policy
// nor PolicyFor is set, or if Policy is invalid.
func (rl *RateLimiter) Handler(next http.Handler) http.Handler {
	c := &rateLimiter{RateLimiter: *rl, prepared: make(map[policyID]preparedPolicy)}
	if len(c.Policy) == 0 && c.PolicyFor == nil {
		panic("middleware: RateLimiter needs a Policy or PolicyFor")
	}
	if len(c.Policy) > 0 {
		if err := c.Policy.Validate(); err != nil {
			panic("middleware: RateLimiter.Policy: " + err.Error())
		}
		c.Policy = named(c.Policy)
		c.policyHeader = []string{policyHeader(c.Policy)}
	}
	if c.Store == nil {
		c.Store = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	}
	if c.Key == nil {
		c.Key = defaultRateKey(c.Proxies)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.serve(w, r, next)
	})
}

func (c *rateLimiter) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	key := c.Key(r)
	if key == "" {
		next.ServeHTTP(w, r)
		return
	}
	p, ph := c.Policy, c.policyHeader
	if c.PolicyFor != nil {
		if q := c.PolicyFor(r); len(q) > 0 {
			p, ph = c.prepare(q)
		}
	}
	if len(p) == 0 {
		c.Errors.Write(w, r, apierrors.NewInternal(errors.New("middleware: RateLimiter has no policy for this request")))
		return
	}
	n := 1
	if c.Cost != nil {
		n = c.Cost(r)
	}
	d, err := c.Store.Take(r.Context(), key, p, n)
	if err != nil {
		if errors.Is(err, ratelimit.ErrInvalidLimit) || errors.Is(err, ratelimit.ErrInvalidCost) {
			c.Errors.Write(w, r, apierrors.NewInternal(err))
			return
		}
		c.Logger.LogAttrs(r.Context(), slog.LevelError, "gatekey: rate-limit store failed",
			slog.Bool("fail_closed", c.FailClosed), slog.String("error", err.Error()))
		if c.FailClosed {
			c.Errors.Write(w, r, apierrors.ErrServiceUnavailable.WithRetryAfter(unavailableRetryAfter))
			return
		}
		next.ServeHTTP(w, r)
		return
	}
	h := w.Header()
	h["Ratelimit-Policy"] = ph
	h["Ratelimit"] = []string{stateHeader(d)}
	if c.LegacyHeaders {
		h["X-Ratelimit-Limit"] = []string{strconv.Itoa(d.Limit.Requests)}
		h["X-Ratelimit-Remaining"] = []string{strconv.Itoa(d.Remaining)}
		h["X-Ratelimit-Reset"] = []string{strconv.FormatInt(ceilSeconds(d.ResetAfter), 10)}
	}
	if !d.Allowed {
		retry := d.RetryAfter
		if retry == ratelimit.Never {
			// The request costs more than a bucket holds: it can never pass.
			// Tell the client to come back after a window rather than never.
			retry = d.Limit.Window
		}
		c.Errors.Write(w, r, apierrors.ErrRateLimited.WithRetryAfter(retry))
		return
	}
	next.ServeHTTP(w, r)
}

// named returns a copy of p whose limits all carry their Label as Name, so
// that headers need not derive labels on every request.
func named(p ratelimit.Policy) ratelimit.Policy {
	q := make(ratelimit.Policy, len(p))
	for i, l := range p {
		q[i] = l.WithName(l.Label())
	}
	return q
}

// policyHeader formats a RateLimit-Policy value.
func policyHeader(p ratelimit.Policy) string {
	b := make([]byte, 0, 48*len(p))
	for i, l := range p {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendSFString(b, l.Label())
		b = append(b, ";q="...)
		b = strconv.AppendInt(b, int64(l.Requests), 10)
		b = append(b, ";w="...)
		b = strconv.AppendInt(b, ceilSeconds(l.Window), 10)
	}
	return string(b)
}

// stateHeader formats a RateLimit value: one item per limit of d's policy.
func stateHeader(d ratelimit.Decision) string {
	var buf [96]byte
	b := buf[:0]
	if len(d.States) == 0 {
		b = appendState(b, d.Limit, d.Remaining, d.ResetAfter)
		return string(b)
	}
	for i, s := range d.States {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendState(b, s.Limit, s.Remaining, s.ResetAfter)
	}
	return string(b)
}

func appendState(b []byte, l ratelimit.Limit, remaining int, reset time.Duration) []byte {
	b = appendSFString(b, l.Label())
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, int64(max(remaining, 0)), 10)
	b = append(b, ";t="...)
	return strconv.AppendInt(b, ceilSeconds(reset), 10)
}

// appendSFString appends s as a Structured Field string (RFC 8941): quoted,
// with backslash escapes; characters outside printable ASCII are dropped.
func appendSFString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c >= 0x20 && c < 0x7f:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// defaultRateKey keys by API key id, falling back to the client address.
func defaultRateKey(tp TrustedProxies) func(*http.Request) string {
	byIP := KeyByIP(tp)
	return func(r *http.Request) string {
		if k, ok := KeyFromContext(r.Context()); ok {
			return k.ID
		}
		return byIP(r)
	}
}

// KeyByIP returns a RateLimiter key function that keys by client address,
// resolved with tp (forwarding headers are believed only from tp's
// networks). IPv6 clients are grouped by /64, the block a single host or
// customer usually holds, so rotating through its addresses gains nothing.
func KeyByIP(tp TrustedProxies) func(*http.Request) string {
	return func(r *http.Request) string {
		a := clientGroup(tp.ClientAddr(r))
		if !a.IsValid() {
			return "ip:unknown"
		}
		return "ip:" + a.String()
	}
}

// clientGroup maps an address to the unit that is limited: IPv4 addresses
// as they are, IPv6 addresses to the first address of their /64.
func clientGroup(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}
