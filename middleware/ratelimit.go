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
// after the Authenticator, as the Gate does: by default each API key has
// its own buckets, and a request whose key failed never reaches it, so it
// never creates state for a key that does not exist.
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
// values. Handler takes a copy of the configuration: changing the
// RateLimiter afterwards does not change the handler.
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
	// settings (ratelimit.NewMemoryStore) for each Handler; fleets share a
	// Redis store.
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
	// default a request the store cannot decide is decided by Fallback
	// instead (fail open): rate limiting protects capacity, and an outage
	// of the limiter should not become an outage of the API, nor a free
	// pass. Either way the failure is logged.
	FailClosed bool

	// Fallback decides the requests that Store fails to, unless
	// FailClosed: each replica then applies the policy on its own (N
	// replicas allow up to N times the limit until the store is back),
	// with the same headers. Nil means an in-process store
	// (ratelimit.NewMemoryStore) made by Handler. A Fallback that fails too
	// lets the request through.
	Fallback ratelimit.Store

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

// settings returns rl's configuration with defaults filled in, and panics
// on a misconfiguration. The policy is named for the headers only when
// headers is set.
func (rl *RateLimiter) settings(headers bool) *rateLimiter {
	c := &rateLimiter{RateLimiter: *rl}
	if len(c.Policy) == 0 && c.PolicyFor == nil {
		panic("middleware: RateLimiter needs a Policy or PolicyFor")
	}
	if len(c.Policy) > 0 {
		if err := c.Policy.Validate(); err != nil {
			panic("middleware: RateLimiter.Policy: " + err.Error())
		}
		if headers {
			c.Policy = named(c.Policy)
			c.policyHeader = []string{policyHeader(c.Policy)}
		}
	}
	if c.Key == nil {
		c.Key = defaultRateKey(c.Proxies)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// errNoPolicy is a PolicyFor that chose nothing with no Policy to fall
// back on.
var errNoPolicy = errors.New("middleware: RateLimiter has no policy for this request")

// Take takes the tokens of r from its buckets and returns the decision:
// what Handler decides, without the headers, the 429 or the log line. It
// has the one side effect a rate limit must have: an allowed request's
// tokens are taken. A request that Key exempts is allowed with a zero
// Decision.Limit and takes nothing. The error is the Store's, or one saying
// that PolicyFor chose no policy; Handler answers the former by failing
// open or closed and the latter with 500. Like Handler, Take panics if the
// configuration is invalid, and if Store is nil: a store made for one call
// would forget the tokens it took.
func (rl *RateLimiter) Take(r *http.Request) (ratelimit.Decision, error) {
	c := rl.settings(false)
	if c.Store == nil {
		panic("middleware: RateLimiter.Take needs a Store")
	}
	d, _, err := c.take(r)
	return d, err
}

// Handler returns next behind the rate limit. It panics if neither Policy
// nor PolicyFor is set, or if Policy is invalid.
func (rl *RateLimiter) Handler(next http.Handler) http.Handler {
	c := rl.settings(true)
	c.prepared = make(map[policyID]preparedPolicy)
	if c.Store == nil {
		c.Store = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	}
	if c.Fallback == nil && !c.FailClosed {
		c.Fallback = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.serve(w, r, next)
	})
}

// take decides r with the Store, and returns the RateLimit-Policy header
// of its policy (nil when exempt).
func (c *rateLimiter) take(r *http.Request) (ratelimit.Decision, []string, error) {
	return c.takeFrom(r, c.Store)
}

func (c *rateLimiter) takeFrom(r *http.Request, store ratelimit.Store) (ratelimit.Decision, []string, error) {
	key := c.Key(r)
	if key == "" {
		return ratelimit.Decision{Allowed: true}, nil, nil
	}
	p, ph := c.Policy, c.policyHeader
	if c.PolicyFor != nil {
		if q := c.PolicyFor(r); len(q) > 0 {
			if c.prepared != nil {
				p, ph = c.prepare(q)
			} else {
				p = q
			}
		}
	}
	if len(p) == 0 {
		return ratelimit.Decision{}, nil, errNoPolicy
	}
	n := 1
	if c.Cost != nil {
		n = c.Cost(r)
	}
	d, err := store.Take(r.Context(), key, p, n)
	return d, ph, err
}

func (c *rateLimiter) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	d, ph, err := c.take(r)
	if err != nil {
		if err == errNoPolicy || errors.Is(err, ratelimit.ErrInvalidLimit) || errors.Is(err, ratelimit.ErrInvalidCost) {
			apierrors.Write(w, r, apierrors.NewInternal(err))
			return
		}
		c.Logger.LogAttrs(r.Context(), slog.LevelError, "gatekey: rate-limit store failed",
			slog.Bool("fail_closed", c.FailClosed), slog.String("error", err.Error()))
		if c.FailClosed {
			apierrors.Write(w, r, apierrors.NewServiceUnavailable(unavailableRetryAfter))
			return
		}
		if d, ph, err = c.takeFrom(r, c.Fallback); err != nil {
			c.Logger.LogAttrs(r.Context(), slog.LevelError, "gatekey: rate-limit fallback store failed too; the request goes through",
				slog.String("error", err.Error()))
			next.ServeHTTP(w, r)
			return
		}
	}
	if ph == nil { // exempt
		next.ServeHTTP(w, r)
		return
	}
	retry := time.Duration(-1)
	if !d.Allowed {
		retry = d.RetryAfter
		if retry == ratelimit.Never {
			// The request costs more than a bucket holds: it can never pass.
			// Tell the client to come back after a window rather than never.
			retry = d.Limit.Window
		}
		retry = max(retry, 0)
	}
	rateLimit, retryAfter := rateValues(d, retry)
	h := w.Header()
	h["Ratelimit-Policy"] = ph
	h["Ratelimit"] = rateLimit
	if c.LegacyHeaders {
		h["X-Ratelimit-Limit"] = []string{strconv.Itoa(d.Limit.Requests)}
		h["X-Ratelimit-Remaining"] = []string{strconv.Itoa(d.Remaining)}
		h["X-Ratelimit-Reset"] = []string{strconv.FormatInt(apierrors.DelaySeconds(d.ResetAfter), 10)}
	}
	if !d.Allowed {
		h["Retry-After"] = retryAfter
		apierrors.Write(w, r, tooManyRequests)
		return
	}
	next.ServeHTTP(w, r)
}

// tooManyRequests is the 429 of a refused request, without its
// Retry-After, which serve sets. It is shared, never modified:
// apierrors.Write copies what it sends.
var tooManyRequests = apierrors.New(http.StatusTooManyRequests, apierrors.CodeRateLimitExceeded, "Rate limit exceeded")

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
