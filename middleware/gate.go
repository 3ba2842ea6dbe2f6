package middleware

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/internal/reqctx"
)

// Gate is the front door of an API: one handler that puts every request
// through gatekey's parts in the one right order before it reaches the
// service's routes.
//
//	gate := &middleware.Gate{
//		Auth:      middleware.Authenticator{Verifier: keys},
//		RateLimit: &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("100/minute")},
//		Public:    []string{"GET /healthz"},
//	}
//	srv := &http.Server{Handler: gate.Handler(mux), MaxHeaderBytes: 16 << 10}
//
// A request passes, in this order:
//
//  1. the request id (RequestID) and panic recovery (Recoverer), so that
//     every answer, a panic's 500 included, carries the id;
//  2. the TLS requirement, if TLS is set: 403 https_required;
//  3. CORS, if set: preflights are answered here and go no further;
//  4. the failed-authentication throttle (Auth.Throttle), then
//     authentication: 401, 400, 403, 429 or 503 whatever the path, so an
//     unauthenticated caller learns nothing of the routes (but what CORS
//     must tell an allowed origin's preflight);
//  5. the per-key rate limit, if RateLimit is set: 429;
//  6. routing: 404 not_found, or 405 method_not_allowed with Allow, in
//     JSON whatever the router;
//  7. the per-route checks, in this order: secret-only (RequireSecret),
//     read-only versus write (every route: a key that may not write may
//     use only GET, HEAD and OPTIONS; and RequireWrite), scopes
//     (RequireScopes), environment (RequireEnvironment), plan
//     (RequireTier: 402 payment_required);
//  8. idempotency, if Idempotency is set: a write with an Idempotency-Key
//     runs once; its retries get the kept answer (no handler, no credits),
//     409 idempotency_conflict while it runs, 422 idempotency_key_mismatch
//     for another request with the key;
//  9. credits, if Credits is set: the route's Cost (1 unless it declares
//     another) is spent from the account's balance, or 402 quota_exceeded;
//  10. the route's handler.
//
// So a read-only key gets 405 on a path that has no such method and 403 on
// a write route, and a publishable key gets 403 secret_key_required, not
// insufficient_permissions, on a secret-only write route. The Gate finds a
// route's Require wrappers on the handler its Router returns for the
// request, when they wrap the route outermost; they also run again, as
// themselves, when the route is served, so a route is never less
// protected than its wrappers say.
//
// So a request refused for any reason, and a replayed one, spends no
// credits, and a refused request keeps no answer under its
// Idempotency-Key. A route listed in Public skips steps 4, 5 and 7 to 9:
// it is served without a
// key (KeyFromContext reports none), after TLS and CORS. Whether a request
// is public is decided by the route the Router picks for it, nothing else,
// so no path that the Router sends to another route can pass for public.
//
// Every error is written by Errors, which is also installed for the
// routes, so that their apierrors.Write and apierrors.HandlerFunc answers
// have the same shape.
//
// Auth.Verifier is required; everything else has a working zero value.
// Handler takes a copy of the configuration, parts included: changing the
// Gate or its parts afterwards does not change the handler. A misconfigured
// part panics in Handler, naming the field.
type Gate struct {
	// Auth authenticates every request that is not Public. Its Verifier is
	// required. Its Proxies and Logger default to the Gate's.
	Auth Authenticator

	// RateLimit, if set, limits each authenticated key's requests. Its
	// Proxies and Logger default to the Gate's. Nil means no rate limit.
	RateLimit *RateLimiter

	// CORS, if set, lets browsers call the API from other origins. Its
	// Routes defaults to the Gate's Router, and its allowed headers to
	// those the Auth's Sources read. Nil means no CORS: a preflight is then
	// authenticated like any other request, and fails.
	CORS *CORS

	// TLS, if set, refuses plain HTTP. Its Proxies default to the Gate's.
	// Nil accepts plain HTTP.
	TLS *RequireTLS

	// Idempotency, if set, makes retried writes with an Idempotency-Key
	// safe. Its Logger defaults to the Gate's. Nil ignores the header.
	Idempotency *Idempotency

	// Credits, if set, meters what accounts spend. Its Logger defaults to
	// the Gate's. Nil meters nothing.
	Credits *Credits

	// Public lists the routes served without an API key, by the pattern
	// the Router reports for them (Router.Handler): for an http.ServeMux the
	// pattern as registered, such as "GET /healthz" or "/status"; for a
	// router whose patterns carry no method, such as chi, "GET /healthz"
	// (the method, a space, the pattern) or the bare pattern for every
	// method. A request is public only if the Router picks such a route for
	// it. Each entry must be a valid http.ServeMux pattern.
	Public []string

	// Errors writes every error the Gate and the routes send. Its Logger
	// defaults to the Gate's. The zero Writer, with no Gate Logger either,
	// is not installed at all: errors are then written by a Writer
	// installed outside the Gate (apierrors.Writer.Middleware), or by the
	// zero Writer, which is the same.
	Errors apierrors.Writer

	// Proxies says whose forwarding headers are believed, for every part
	// that leaves its own Proxies empty. The zero value believes none.
	Proxies TrustedProxies

	// Logger is the logger of every part that leaves its own Logger nil.
	// Nil means slog.Default().
	Logger *slog.Logger
}

// Handler returns routes behind the gate. It panics if routes or
// Auth.Verifier is nil, if a Public pattern is invalid, or if a part is
// misconfigured.
func (g *Gate) Handler(routes Router) http.Handler {
	if routes == nil {
		panic("middleware: Gate.Handler called with a nil Router")
	}
	if g.Auth.Verifier == nil {
		panic("middleware: Gate.Auth.Verifier is nil")
	}
	logger := g.Logger
	if logger == nil {
		logger = slog.Default()
	}
	proxies := g.Proxies.clone()

	auth := g.Auth
	auth.Proxies = orProxies(auth.Proxies, proxies)
	if auth.Logger == nil {
		auth.Logger = logger
	}

	inner := &routed{routes: routes}
	if g.Credits != nil {
		cr := *g.Credits
		if cr.Logger == nil {
			cr.Logger = logger
		}
		s := cr.settings()
		inner.credits = &s
	}
	if g.Idempotency != nil {
		id := *g.Idempotency
		if id.Logger == nil {
			id.Logger = logger
		}
		s := id.settings()
		inner.idem = &s
	}
	var h http.Handler = inner
	if g.RateLimit != nil {
		rl := *g.RateLimit
		rl.Proxies = orProxies(rl.Proxies, proxies)
		if rl.Logger == nil {
			rl.Logger = logger
		}
		h = rl.Handler(h)
	}
	h = auth.handler(h, true)
	if len(g.Public) > 0 {
		h = &publicSplit{routes: routes, public: publicPatterns(g.Public), open: &routed{routes: routes, public: true}, closed: h}
	}
	if g.CORS != nil {
		h = g.cors(routes).Handler(h)
	}
	if g.TLS != nil {
		t := *g.TLS
		t.Proxies = orProxies(t.Proxies, proxies)
		h = t.Handler(h)
	}
	h = (&Recoverer{Logger: logger}).Handler(h)
	entry := &gateEntry{next: h}
	if g.Errors.Logger == nil && g.Logger != nil {
		wr := g.Errors
		wr.Logger = g.Logger
		entry.writer = &wr
	} else if g.Errors != (apierrors.Writer{}) {
		wr := g.Errors
		entry.writer = &wr
	}
	// With a zero Writer nothing need be installed: it is what
	// apierrors.Write uses when none is.
	return entry
}

// gateEntry is the Gate's outermost layer: what Writer.Middleware and
// RequestID do, in one reqctx.State that the Gate's parts fill in as they
// run (the key, by the Authenticator), so that a request is copied once.
type gateEntry struct {
	next   http.Handler
	writer *apierrors.Writer // nil: none installed
}

// gateRequest is what gateEntry allocates per request.
type gateRequest struct {
	st  reqctx.State
	idv [1]string // the X-Request-Id header's value
}

func (e *gateEntry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	gr := &gateRequest{st: reqctx.State{Context: r.Context(), RequestID: requestID(r)}}
	if e.writer != nil {
		gr.st.Writer = e.writer
	}
	gr.idv[0] = gr.st.RequestID
	w.Header()[requestIDHeader] = gr.idv[:]
	e.next.ServeHTTP(w, r.WithContext(&gr.st))
}

// cors returns the Gate's CORS part with its defaults filled in.
func (g *Gate) cors(routes Router) *CORS {
	c := *g.CORS
	if c.Routes == nil {
		c.Routes = routes
	}
	if len(c.AllowedHeaders) == 0 {
		sources := g.Auth.Sources
		if len(sources) == 0 {
			sources = defaultSources[:]
		}
		var allowed []string
		if slices.ContainsFunc(sources, func(s Source) bool { return s == SourceBearer || s == SourceToken || s == SourceBasic }) {
			allowed = append(allowed, "Authorization")
		}
		allowed = append(allowed, "Content-Type", "Idempotency-Key")
		if slices.Contains(sources, SourceHeader) {
			name := g.Auth.HeaderName
			if name == "" {
				name = "X-API-Key"
			}
			allowed = append(allowed, name)
		}
		c.AllowedHeaders = append(allowed, "X-Request-Id")
	}
	if len(c.ExposedHeaders) == 0 && g.RateLimit != nil && g.RateLimit.LegacyHeaders {
		c.ExposedHeaders = append(corsExposedHeaders[:len(corsExposedHeaders):len(corsExposedHeaders)],
			"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
	}
	return &c
}

func orProxies(own, gate TrustedProxies) TrustedProxies {
	if len(own.Networks) > 0 {
		return own.clone()
	}
	return gate
}

// publicPatterns returns the set of patterns, or panics naming a pattern
// that http.ServeMux would not accept.
func publicPatterns(patterns []string) map[string]bool {
	check := http.NewServeMux()
	set := make(map[string]bool, len(patterns))
	for _, p := range patterns {
		func() {
			defer func() {
				if v := recover(); v != nil {
					panic(fmt.Sprintf("middleware: Gate.Public: %v", v))
				}
			}()
			check.Handle(p, http.NotFoundHandler())
		}()
		set[p] = true
	}
	return set
}

// publicSplit sends the requests for which routes picks a public route one
// way, and the others the other.
type publicSplit struct {
	routes       Router
	public       map[string]bool
	open, closed http.Handler
}

func (p *publicSplit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := match(p.routes, r); pattern != "" && (p.public[pattern] || p.public[r.Method+" "+pattern]) {
		p.open.ServeHTTP(w, r)
		return
	}
	p.closed.ServeHTTP(w, r)
}

// routed is the Gate's innermost step: routing, the per-route checks, and
// the route.
type routed struct {
	routes  Router
	public  bool
	idem    *Idempotency // nil: Idempotency-Key ignored
	credits *Credits     // nil: no metering
}

func (g *routed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := match(g.routes, r)
	if pattern == "" {
		apierrors.Write(w, r, routeError(g.routes, r))
		return
	}
	if !g.public {
		k, ok := KeyFromContext(r.Context())
		if !ok {
			apierrors.Write(w, r, apierrors.NewInternal(errNoKey))
			return
		}
		q := routeRules(h)
		if err := q.check(r, k, true); err != nil {
			apierrors.Write(w, r, err)
			return
		}
		if g.idem != nil {
			// After the checks, before credits, so that a replay spends
			// nothing.
			g.idem.serve(w, r, k, &q, func(w http.ResponseWriter, r *http.Request) bool {
				if g.credits != nil && !g.credits.serve(w, r, k, q.costOr1()) {
					return false
				}
				g.routes.ServeHTTP(w, r)
				return true
			})
			return
		}
		if g.credits != nil && !g.credits.serve(w, r, k, q.costOr1()) {
			return
		}
	}
	g.routes.ServeHTTP(w, r)
}
