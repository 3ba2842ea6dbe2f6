package middleware

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
)

// The checks in this file run after Authenticator, per route:
//
//	mux.Handle("GET /v1/keys", middleware.RequireSecret(listKeys))
//	mux.Handle("POST /v1/keys", middleware.RequireSecret(middleware.RequireWrite(createKey)))
//
// Each passes CORS preflights through, like Authenticator, and answers a
// request that carries no key (a route left outside Authenticator, a
// server bug) with 500 internal_error rather than let it through.

var errNoKey = errors.New("middleware: permission check without an authenticated key (is the route behind Authenticator?)")

// IsReadMethod reports whether method only reads: GET, HEAD and OPTIONS.
// Every other method, known or not, writes. Method-override headers such as
// X-HTTP-Method-Override are never consulted.
func IsReadMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// check wraps next with a test of the request's key; test returns the error
// to send, or nil to let the request through.
func check(next http.Handler, test func(r *http.Request, k *apikey.Key) *apierrors.Error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isPreflight(r) {
			next.ServeHTTP(w, r)
			return
		}
		k, ok := KeyFromContext(r.Context())
		if !ok {
			apierrors.Write(w, r, apierrors.NewInternal(errNoKey))
			return
		}
		if err := test(r, k); err != nil {
			apierrors.Write(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireSecret lets only secret keys through; a publishable key gets 403
// secret_key_required. Use it on routes that list or change account data.
func RequireSecret(next http.Handler) http.Handler {
	return check(next, func(_ *http.Request, k *apikey.Key) *apierrors.Error {
		if k.Type != apikey.SecretKey {
			return apierrors.ErrSecretKeyRequired
		}
		return nil
	})
}

// RequireWrite lets only keys that may write through (secret keys with
// read-write permission), whatever the method; others get 403
// insufficient_permissions.
func RequireWrite(next http.Handler) http.Handler {
	return check(next, func(_ *http.Request, k *apikey.Key) *apierrors.Error {
		if !k.CanWrite() {
			return apierrors.ErrInsufficientPermissions
		}
		return nil
	})
}

// RequireMethodPermission lets every key use read methods (see
// IsReadMethod) and only keys that may write use the others; a read-only
// key on a write method gets 403 insufficient_permissions. Wrap a route, or
// a router's matched handlers, so that unknown paths and methods are
// answered 404 and 405 before it runs.
func RequireMethodPermission(next http.Handler) http.Handler {
	return check(next, func(r *http.Request, k *apikey.Key) *apierrors.Error {
		if !IsReadMethod(r.Method) && !k.CanWrite() {
			return apierrors.ErrInsufficientPermissions
		}
		return nil
	})
}

// RequireEnvironment returns middleware that lets only keys of env through
// (live keys on a live-only route, say); others get 403
// environment_not_allowed.
func RequireEnvironment(env apikey.Environment) func(http.Handler) http.Handler {
	if !env.Valid() {
		panic("middleware: RequireEnvironment with an invalid apikey.Environment")
	}
	return func(next http.Handler) http.Handler {
		return check(next, func(_ *http.Request, k *apikey.Key) *apierrors.Error {
			if k.Environment != env {
				return apierrors.ErrEnvironmentNotAllowed
			}
			return nil
		})
	}
}

// RequireScopes returns middleware that lets through only keys holding
// every one of scopes; others get 403 insufficient_scope with the missing
// scopes in the error's details. Scopes are fine-grained grants beyond read
// and write; a publishable key holds only those explicitly granted to it.
func RequireScopes(scopes ...string) func(http.Handler) http.Handler {
	if len(scopes) == 0 {
		panic("middleware: RequireScopes needs at least one scope")
	}
	for _, s := range scopes {
		if s == "" || strings.TrimSpace(s) != s {
			panic("middleware: RequireScopes with an empty or padded scope")
		}
	}
	return func(next http.Handler) http.Handler {
		return check(next, func(_ *http.Request, k *apikey.Key) *apierrors.Error {
			var missing []string
			for _, s := range scopes {
				if !k.HasScope(s) {
					missing = append(missing, s)
				}
			}
			if missing != nil {
				return apierrors.ErrInsufficientScope.WithDetails("missing_scopes", missing)
			}
			return nil
		})
	}
}
