package middlewaretest

import (
	"net/http"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/internal/keyctx"
)

// WithKey returns a shallow copy of r whose context carries k, exactly as
// if middleware.Authenticator had verified k on r: middleware.KeyFromContext,
// the permission checks (RequireWrite, RequireSecret, RequireScopes,
// RequireEnvironment) and RateLimiter's default key all see k.
//
// FOR TESTS ONLY. WithKey BYPASSES AUTHENTICATION: no credentials are
// read, no store is consulted, and k's revocation, expiry, disabled flag
// and allowed networks are not checked. Calling it on a request from a
// client would let that client act as k's owner. Use it to unit-test a
// handler in isolation; use the real middleware.Authenticator (over an
// apikeytest.Env) to test authentication.
//
// k is stored as given, not copied; handlers must not modify it. A nil k
// makes KeyFromContext report that the request has no key.
func WithKey(r *http.Request, k *apikey.Key) *http.Request {
	return r.WithContext(keyctx.With(r.Context(), k))
}
