// Package middleware is the net/http glue of gatekey: it authenticates API
// keys, checks what a key may do, limits request rates, makes retried
// writes safe with idempotency keys, meters credits, answers CORS
// preflights, assigns request ids and turns panics into JSON errors.
//
// Most services need one value of it, the [Gate], which composes every part
// in the one right order in front of any router:
//
//	mux := http.NewServeMux()
//	mux.Handle("GET /v1/monitors", listMonitors)
//	mux.Handle("POST /v1/keys", middleware.RequireSecret(createKey))
//
//	gate := &middleware.Gate{
//		Auth:      middleware.Authenticator{Verifier: keys, Throttle: &middleware.AuthThrottle{}},
//		RateLimit: &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("100/minute")},
//		CORS:      &middleware.CORS{AllowedOrigins: []string{"*"}},
//	}
//	http.ListenAndServe(addr, gate.Handler(mux))
//
// An *http.ServeMux is a [Router] as it is; another router takes a few
// lines (see Router).
//
// Each part is also usable, and safe, on its own, in any order:
//
//   - [Authenticator] lets a request through only with a verified key; it
//     never waves a request through because it looks like a CORS
//     preflight. [CORS], in front of it, answers those.
//   - [RequireSecret], [RequireWrite], [RequireMethodPermission],
//     [RequireScopes], [RequireEnvironment] and [RequireTier] never skip a
//     request: with no key in the context they answer 500, not the
//     handler. [Cost] only declares a route's price in credits.
//   - [Credits] spends only for a request that carries a verified key
//     (without one it answers 500), and answers 503 when its store is
//     down unless told to fail open.
//   - [Idempotency] runs a write with an Idempotency-Key once per account
//     and key, answers 503 when its store is down, and needs a verified
//     key (500 without one). [RequireIdempotencyKey] answers a write 500
//     when no idempotency step ran for it; [IgnoreIdempotencyKey] only
//     declares that a route opts out. Its decision is a claim in its
//     store, so it has no decision method without side effects;
//     idempotency.ParseKey and idempotency.ReadRequest are its pure parts.
//   - [RateLimiter], [RequireTLS], [Recoverer] and [RequestID] work
//     wherever they are put; the Gate's order is the one that gives the
//     right answer for every request.
//
// Every part follows one contract, the one of net/http's
// CrossOriginProtection: it is a struct whose zero value works (required
// fields, such as Authenticator.Verifier, panic in Handler with a message
// naming the package and the field); Handler takes a copy of the
// configuration; and beside Handler sits a decision method without
// side effects ([Authenticator.Authenticate], [RateLimiter.Take],
// [Credits.Spend], [RequireTLS.Check]) for tests and for services that
// answer themselves (Take and Spend do take what they decide to).
// Rejections are written with apierrors.Write, through the one Writer that
// the Gate (or apierrors.Writer.Middleware) installs. A nil Logger means
// slog.Default(), in every part and in every gatekey package.
package middleware
