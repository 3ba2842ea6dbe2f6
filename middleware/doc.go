// Package middleware is the net/http glue of gatekey: it authenticates API
// keys, checks what a key may do, limits request rates, assigns request ids
// and turns panics into JSON errors.
//
// Every middleware has the standard shape func(http.Handler) http.Handler,
// so it composes with http.ServeMux, chi, gorilla/mux or plain function
// calls. Middleware that needs configuration is a struct with a Handler
// method, in the manner of http.CrossOriginProtection; its optional fields
// have working zero values, and a missing required one (Authenticator's
// Verifier, RateLimiter's Policy, CORS's Routes) panics when Handler is
// called. Rejections are written with apierrors.Write, so every failure
// reaches the client as a typed JSON error in the service's chosen encoding.
//
// A typical chain, outermost first, in DESIGN.md's order (TLS, CORS,
// authentication with its failed-auth throttle, rate limit, routing, then
// per-route checks):
//
//	handler := middleware.Chain(
//		middleware.Recover,
//		middleware.RequestID,
//		(&middleware.RequireTLS{}).Handler,
//		(&middleware.CORS{AllowedOrigins: []string{"*"}, Routes: mux}).Handler,
//		(&middleware.Authenticator{Verifier: keys, Throttle: throttle}).Handler,
//		(&middleware.RateLimiter{Policy: ratelimit.MustParsePolicy("100/minute")}).Handler,
//	)(apierrors.Mux(mux))
//	mux.Handle("POST /v1/monitors", middleware.RequireWrite(createMonitor))
package middleware
