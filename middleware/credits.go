package middleware

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/credits"
	apierrors "github.com/gatekey/gatekey/errors"
)

// Credits spends an account's credits on the requests its routes accept:
// a route's cost (see Cost; 1 for a route that declares none, 0 for a
// free one) from the balance of the key's account. A request whose
// account cannot cover the cost gets 402 quota_exceeded, with details
// credits_remaining, credit_allowance and credits_reset_at, and no
// Retry-After: a client must not retry in a loop, only after the reset.
//
// Behind a Gate, credits are spent after routing and every per-route
// check, just before the handler, so a request refused for any reason
// (401, 403, 404, 405, 429, a plan's 402) spends nothing.
//
// A failing store answers 503 service_unavailable unless FailOpen is
// set: credits are money, so by default an outage of the store is not a
// free-for-all.
//
// Store is required; the other fields have working zero values. Handler
// takes a copy of the configuration.
type Credits struct {
	// Allowance is the allowance of every account, unless AllowanceFor
	// says otherwise. The zero Allowance meters nobody unless AllowanceFor
	// is set.
	Allowance credits.Allowance

	// AllowanceFor, if set, returns the allowance of a key's account (by
	// its tier, say), and false for an account that is not metered.
	AllowanceFor func(k *apikey.Key) (credits.Allowance, bool)

	// Account returns the account a key spends from. Nil means
	// apikey.Key.Account: the key's Owner, or its ID when it has none.
	Account func(k *apikey.Key) string

	// Store keeps the balances. Required: a credits.MemoryStore for one
	// process, a shared store (credits/redisstore, credits/sqlstore) for a
	// fleet.
	Store credits.Store

	// FailOpen serves requests unmetered while the store fails, instead of
	// answering 503. Either way the failure is logged.
	FailOpen bool

	// LowBalance is the balance below which an account's credits are
	// running low: the spend that takes the balance below it sends
	// CreditsLow to OnEvent. 0 means a tenth of the allowance, and at
	// least 1, so that an allowance under 10 still warns when it is spent.
	LowBalance int64

	// OnEvent, if set, is told when an account's credits run low and when
	// a request is refused for want of them, so that the service can tell
	// the account's owner. It runs on the request's goroutine: keep it
	// fast, or hand the event off.
	OnEvent func(r *http.Request, k *apikey.Key, e CreditsEvent)

	// Logger receives store failures. Nil means slog.Default().
	Logger *slog.Logger
}

// A CreditsEvent is a change in an account's credits worth telling its
// owner about.
type CreditsEvent struct {
	Kind    CreditsEventKind
	Account string
	Balance credits.Balance // after the spend, or before the refused one
}

// A CreditsEventKind says what happened to an account's credits.
type CreditsEventKind uint8

const (
	// CreditsLow: a spend took the balance below Credits.LowBalance.
	CreditsLow CreditsEventKind = iota + 1
	// CreditsExhausted: a request was refused 402 for want of credits
	// (sent for every such request).
	CreditsExhausted
)

// String returns "credits_low" or "credits_exhausted".
func (k CreditsEventKind) String() string {
	switch k {
	case CreditsLow:
		return "credits_low"
	case CreditsExhausted:
		return "credits_exhausted"
	}
	return "unknown"
}

// settings returns c's configuration with defaults filled in, and panics
// on a misconfiguration.
func (c *Credits) settings() Credits {
	s := *c
	if s.Store == nil {
		panic("middleware: Credits.Store is nil")
	}
	if s.Allowance != (credits.Allowance{}) {
		if err := s.Allowance.Validate(); err != nil {
			panic("middleware: Credits.Allowance: " + err.Error())
		}
	}
	if s.LowBalance < 0 {
		panic("middleware: Credits.LowBalance is negative")
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	return s
}

// allowance returns k's allowance, and false if k's account is not
// metered.
func (c *Credits) allowance(k *apikey.Key) (credits.Allowance, bool) {
	if c.AllowanceFor != nil {
		return c.AllowanceFor(k)
	}
	return c.Allowance, c.Allowance != (credits.Allowance{})
}

func (c *Credits) account(k *apikey.Key) string {
	if c.Account != nil {
		return c.Account(k)
	}
	return k.Account()
}

// Spend spends cost credits of the account of r's key (which must be in
// r's context: behind the Authenticator) and reports whether it could:
// the decision that Handler and the Gate make, without the answer, the
// events or the log line. A cost of 0 reads the balance, for an endpoint
// such as /v1/me. For a key whose account is not metered it reports true
// with the zero Balance. The error is the Store's, or an invalid
// allowance; an error wrapping credits.ErrUnavailable means the store
// could not decide. Like Handler, Spend panics if the configuration is
// invalid.
func (c *Credits) Spend(r *http.Request, cost int64) (credits.Balance, bool, error) {
	s := c.settings()
	k, ok := KeyFromContext(r.Context())
	if !ok {
		return credits.Balance{}, false, errNoKey
	}
	return s.spend(r, k, cost)
}

func (c *Credits) spend(r *http.Request, k *apikey.Key, cost int64) (credits.Balance, bool, error) {
	a, metered := c.allowance(k)
	if !metered {
		return credits.Balance{}, true, nil
	}
	return c.Store.Spend(r.Context(), c.account(k), a, cost)
}

// serve spends the route's cost for r, answering the refusal itself; it
// reports whether the request may go on.
func (c *Credits) serve(w http.ResponseWriter, r *http.Request, k *apikey.Key, cost int64) bool {
	if cost == 0 {
		return true
	}
	b, ok, err := c.spend(r, k, cost)
	switch {
	case errors.Is(err, credits.ErrUnavailable):
		c.Logger.LogAttrs(r.Context(), slog.LevelError, "gatekey: credits store failed",
			slog.Bool("fail_open", c.FailOpen), slog.String("key_id", k.ID), slog.String("error", err.Error()))
		if c.FailOpen {
			return true
		}
		markRefused(r)
		apierrors.Write(w, r, apierrors.NewServiceUnavailable(unavailableRetryAfter))
		return false
	case err != nil:
		markRefused(r)
		apierrors.Write(w, r, apierrors.NewInternal(err))
		return false
	case !ok:
		if cost > b.Allowance.Credits {
			// A misconfiguration, not the account's doing: say so.
			c.Logger.LogAttrs(r.Context(), slog.LevelError, "gatekey: route cost is above the account's allowance; no request can pay it",
				slog.Int64("cost", cost), slog.String("allowance", b.Allowance.String()), slog.String("key_id", k.ID))
		}
		c.notify(r, k, CreditsExhausted, b)
		markRefused(r)
		apierrors.Write(w, r, quotaExceeded(b))
		return false
	}
	if low := c.low(b.Allowance); b.Remaining < low && b.Remaining+cost >= low {
		c.notify(r, k, CreditsLow, b)
	}
	return true
}

func (c *Credits) low(a credits.Allowance) int64 {
	if c.LowBalance > 0 {
		return c.LowBalance
	}
	return max(a.Credits/10, 1)
}

func (c *Credits) notify(r *http.Request, k *apikey.Key, kind CreditsEventKind, b credits.Balance) {
	if c.OnEvent != nil {
		c.OnEvent(r, k, CreditsEvent{Kind: kind, Account: c.account(k), Balance: b})
	}
}

// quotaExceeded is the 402 of an account that cannot cover a cost.
func quotaExceeded(b credits.Balance) *apierrors.Error {
	reset := b.ResetAt.UTC().Format(time.RFC3339)
	e := apierrors.New(http.StatusPaymentRequired, apierrors.CodeQuotaExceeded,
		"This account has used its credits for this "+b.Allowance.Period.String()+"; they are renewed at "+reset)
	e.Details = map[string]any{
		"credits_remaining": b.Remaining,
		"credit_allowance":  b.Allowance.Credits,
		"credits_reset_at":  reset,
	}
	return e
}

// Handler returns next behind the credits: each request spends the cost
// of the route it takes (next's Cost wrapper, found as the Gate finds it,
// through a Router if next is one; 1 if it declares none). A request for
// which next, a Router, has no route spends nothing. Requests must
// carry a key: put Handler behind the Authenticator. It panics if Store is
// nil or the configuration is invalid.
func (c *Credits) Handler(next http.Handler) http.Handler {
	s := c.settings()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := KeyFromContext(r.Context())
		if !ok {
			apierrors.Write(w, r, apierrors.NewInternal(errNoKey))
			return
		}
		q, routed := routeOf(next, r)
		if !routed {
			next.ServeHTTP(w, r) // no route: the Router answers 404 or 405, for free
			return
		}
		if !s.serve(w, r, k, q.costOr1()) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Cost returns middleware that declares a route's cost in credits: what
// a request the route accepts spends, behind a Gate with Credits or a
// Credits handler. Routes that declare no cost cost 1; declare 0 for a
// free route (a /v1/me, say). It panics if n is negative or above
// credits.MaxCredits.
func Cost(n int64) func(http.Handler) http.Handler {
	if n < 0 || n > credits.MaxCredits {
		panic("middleware: Cost(" + strconv.FormatInt(n, 10) + "): a cost must be 0 to credits.MaxCredits")
	}
	return func(next http.Handler) http.Handler {
		return require(next, rules{cost: n, hasCost: true})
	}
}
