package middleware

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
)

// The per-route checks wrap a route's handler:
//
//	mux.Handle("GET /v1/keys", middleware.RequireSecret(listKeys))
//	mux.Handle("POST /v1/keys", middleware.RequireSecret(middleware.RequireWrite(createKey)))
//
// Each one lets a request through only with an authenticated key that
// passes it; a request without a key (a route left outside the
// Authenticator, a server bug) gets 500 internal_error, never the handler.
// No check skips any request, CORS preflights included: those are the CORS
// part's to answer.
//
// Behind a Gate the checks of a route run in one fixed order whatever
// order they are nested in: secret-only, read-only versus write, scopes,
// environment, plan (RequireTier). The Gate finds them, and a route's Cost,
// on the handler its Router returns, as long as they wrap the route
// outermost.

var errNoKey = errors.New("middleware: permission check without an authenticated key (is the route behind the Authenticator?)")

// isReadMethod reports whether method only reads: GET, HEAD and OPTIONS.
// Every other method, known or not, writes. Method-override headers such as
// X-HTTP-Method-Override are never consulted: this is the one rule.
func isReadMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// rules is what a route requires of a key. The zero rules are the Gate's
// default: a key that may not write may only read.
type rules struct {
	secret  bool               // RequireSecret
	write   bool               // RequireWrite
	method  bool               // RequireMethodPermission
	scopes  []string           // RequireScopes
	env     apikey.Environment // RequireEnvironment; 0: any
	tiers   []string           // RequireTier; nil: any
	cost    int64              // Cost, if hasCost
	hasCost bool
	idem    idemUse // IgnoreIdempotencyKey, RequireIdempotencyKey
}

// checks reports whether q holds any check of the key (not only a cost).
func (q *rules) checks() bool {
	return q.secret || q.write || q.method || len(q.scopes) > 0 || q.env != 0 || len(q.tiers) > 0
}

// costOr1 returns the route's cost: its Cost, or 1.
func (q *rules) costOr1() int64 {
	if q.hasCost {
		return q.cost
	}
	return 1
}

// check returns the error to send for key k on request r, or nil. The
// order of the checks is fixed.
func (q *rules) check(r *http.Request, k *apikey.Key, byMethod bool) *apierrors.Error {
	if q.secret && k.Type != apikey.SecretKey {
		return apierrors.New(http.StatusForbidden, apierrors.CodeSecretKeyRequired,
			"This request requires a secret API key")
	}
	if (q.write || (byMethod || q.method) && !isReadMethod(r.Method)) && !k.CanWrite() {
		return apierrors.New(http.StatusForbidden, apierrors.CodeInsufficientPermissions,
			"This API key does not have permission to perform this request")
	}
	if len(q.scopes) > 0 {
		var missing []string
		for _, s := range q.scopes {
			if !k.HasScope(s) {
				missing = append(missing, s)
			}
		}
		if missing != nil {
			// RFC 6750, 3.1: the scope attribute names what the request needs.
			return apierrors.New(http.StatusForbidden, apierrors.CodeInsufficientScope,
				"This API key lacks a scope this request requires").
				WithDetails("missing_scopes", missing).
				WithHeader("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+strings.Join(q.scopes, " ")+`"`)
		}
	}
	if q.env != 0 && k.Environment != q.env {
		return apierrors.New(http.StatusForbidden, apierrors.CodeEnvironmentNotAllowed,
			"This API key's environment (live or test) may not use this endpoint")
	}
	if q.tiers != nil && !slices.Contains(q.tiers, k.Tier) {
		return apierrors.New(http.StatusPaymentRequired, apierrors.CodePaymentRequired,
			"This endpoint needs a plan this API key's account does not have").
			WithDetails("required_tiers", q.tiers)
	}
	return nil
}

// merge adds o's requirements to q.
func (q *rules) merge(o *rules) {
	q.secret = q.secret || o.secret
	q.write = q.write || o.write
	q.method = q.method || o.method
	if len(q.scopes) == 0 {
		q.scopes = o.scopes // shared, never written: no copy on the request path
	} else if len(o.scopes) > 0 {
		q.scopes = slices.Concat(q.scopes, o.scopes)
	}
	if o.env != 0 {
		if q.env != 0 && q.env != o.env {
			q.env = envNone // two environments required: no key has both
		} else {
			q.env = o.env
		}
	}
	if o.tiers != nil {
		if q.tiers == nil {
			q.tiers = o.tiers
		} else { // both lists must admit the tier
			q.tiers = slices.DeleteFunc(slices.Clone(q.tiers), func(t string) bool { return !slices.Contains(o.tiers, t) })
			if q.tiers == nil {
				q.tiers = []string{}
			}
		}
	}
	q.idem = max(q.idem, o.idem) // Ignore wins over Require
	if o.hasCost && !q.hasCost { // the outermost Cost counts
		q.cost, q.hasCost = o.cost, true
	}
}

// envNone is an Environment no key has, for a route that requires two.
const envNone apikey.Environment = 255

// requirement is the handler a Require function returns: its rules, then
// next.
type requirement struct {
	rules
	next http.Handler
}

func (q *requirement) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if q.idem != idemDefault && !isReadMethod(r.Method) && !q.serveIdem(w, r) {
		return
	}
	if !q.checks() { // a Cost or an idempotency declaration alone: nothing to check here
		q.next.ServeHTTP(w, r)
		return
	}
	k, ok := KeyFromContext(r.Context())
	if !ok {
		markRefused(r)
		apierrors.Write(w, r, apierrors.NewInternal(errNoKey))
		return
	}
	if err := q.check(r, k, false); err != nil {
		markRefused(r)
		apierrors.Write(w, r, err)
		return
	}
	q.next.ServeHTTP(w, r)
}

// serveIdem applies the route's idempotency declaration as the route is
// served, for a declaration the idempotency step could not see (one not
// outermost, under another router or wrapper), and reports whether the
// request may go on. So that a hidden declaration fails safe: an ignoring
// route's answer is never kept, and a requiring route never runs a write
// without a key, nor one that no idempotency step claimed.
func (q *requirement) serveIdem(w http.ResponseWriter, r *http.Request) bool {
	st, _ := r.Context().Value(idemStateKey{}).(*idemState)
	switch {
	case q.idem == idemIgnore:
		if st != nil {
			st.ignored = true
		}
	case len(r.Header[IdempotencyKeyHeader]) == 0:
		markRefused(r)
		apierrors.Write(w, r, errIdempotencyKeyRequired())
		return false
	case st == nil:
		apierrors.Write(w, r, apierrors.NewInternal(errNoIdempotency))
		return false
	}
	return true
}

// routeOf returns the rules of the route next takes for r, through a
// Router if next is one (as the Gate finds them), and false when next is
// a Router with no route for r, which will answer 404 or 405 itself: the
// standalone parts' way to read a route's declarations.
func routeOf(next http.Handler, r *http.Request) (rules, bool) {
	h := next
	if rt, ok := next.(Router); ok {
		var pattern string
		if h, pattern = match(rt, r); pattern == "" {
			return rules{}, false
		}
	}
	return routeRules(h), true
}

// routeRules collects the rules of the requirements that wrap h outermost.
func routeRules(h http.Handler) rules {
	var q rules
	for {
		req, ok := h.(*requirement)
		if !ok {
			return q
		}
		q.merge(&req.rules)
		h = req.next
	}
}

func require(next http.Handler, q rules) http.Handler {
	if next == nil {
		panic("middleware: Require… called with a nil handler")
	}
	return &requirement{rules: q, next: next}
}

// RequireSecret lets only secret keys through; a publishable key gets 403
// secret_key_required. Use it on routes that list or change account data.
func RequireSecret(next http.Handler) http.Handler {
	return require(next, rules{secret: true})
}

// RequireWrite lets only keys that may write through (secret keys with
// read-write permission), whatever the method; others get 403
// insufficient_permissions.
func RequireWrite(next http.Handler) http.Handler {
	return require(next, rules{write: true})
}

// RequireMethodPermission lets every key use the read methods (GET, HEAD
// and OPTIONS) and only keys that may write use the others, known or not; a read-only
// key on a write method gets 403 insufficient_permissions. The Gate
// applies this rule to every route; use it on its own where there is no
// Gate, on a route or on a router's matched handlers, so that unknown paths
// and methods are answered 404 and 405 before it runs.
func RequireMethodPermission(next http.Handler) http.Handler {
	return require(next, rules{method: true})
}

// RequireEnvironment returns middleware that lets only keys of env through
// (live keys on a live-only route, say); others get 403
// environment_not_allowed. It panics if env is not apikey.Live or
// apikey.Test.
func RequireEnvironment(env apikey.Environment) func(http.Handler) http.Handler {
	if !env.Valid() {
		panic("middleware: RequireEnvironment with an invalid apikey.Environment")
	}
	return func(next http.Handler) http.Handler {
		return require(next, rules{env: env})
	}
}

// RequireScopes returns middleware that lets through only keys holding
// every one of scopes; others get 403 insufficient_scope, with the missing
// scopes in the error's details and, as RFC 6750 describes, a
// WWW-Authenticate challenge naming the scopes the route needs. Scopes are
// fine-grained grants beyond read and write; a publishable key holds only
// those explicitly granted to it. It panics if scopes is empty or a scope
// is not an RFC 6750 scope token (printable ASCII without spaces, quotes
// or backslashes).
func RequireScopes(scopes ...string) func(http.Handler) http.Handler {
	if len(scopes) == 0 {
		panic("middleware: RequireScopes needs at least one scope")
	}
	for _, s := range scopes {
		if !validScope(s) {
			panic("middleware: RequireScopes with a scope that is empty or holds a space, quote, backslash or non-ASCII byte")
		}
	}
	scopes = slices.Clone(scopes)
	return func(next http.Handler) http.Handler {
		return require(next, rules{scopes: scopes})
	}
}

// validScope reports whether s is an RFC 6750 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// RequireTier returns middleware that lets through only keys whose Tier
// (the account's plan) is one of tiers; others get 402 payment_required
// with the tiers in the error's details (required_tiers): the route is a
// paid resource. It panics if tiers is empty or holds an empty name.
func RequireTier(tiers ...string) func(http.Handler) http.Handler {
	if len(tiers) == 0 {
		panic("middleware: RequireTier needs at least one tier")
	}
	if slices.Contains(tiers, "") {
		panic("middleware: RequireTier with an empty tier name")
	}
	tiers = slices.Clone(tiers)
	return func(next http.Handler) http.Handler {
		return require(next, rules{tiers: tiers})
	}
}
