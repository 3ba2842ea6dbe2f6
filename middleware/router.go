package middleware

import (
	"net/http"

	apierrors "github.com/gatekey/gatekey/errors"
)

// A Router is an http.Handler that can say, without serving a request,
// which of its routes would serve it. The Gate routes through it, so that
// unknown paths and wrong methods get JSON 404 and 405 answers from any
// router and the per-route checks run after routing; CORS asks it which
// methods a path allows.
//
// *http.ServeMux is a Router as it is. Other routers take a few lines: for
// chi, Handler can call chi.Mux.Find with a fresh chi.RouteContext and
// return the handler registered for the pattern it finds.
type Router interface {
	http.Handler

	// Handler returns the handler that ServeHTTP would run for r and the
	// pattern it was registered with. The pattern is "" when no route
	// matches r's method and path; the handler then does not matter. The
	// handler may be nil when the router cannot tell it: the Gate then
	// applies its default checks only, and the route's own Require
	// wrappers still run when it is served.
	Handler(r *http.Request) (h http.Handler, pattern string)
}

// probeMethods are the methods tried to list what a path allows, for the
// Allow header of a 405 and the Access-Control-Allow-Methods of a
// preflight answer.
var probeMethods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// allowedMethods returns the methods rt routes for r's path, trying
// probeMethods and extra (a method named by a preflight). It does not
// change r.
func allowedMethods(rt Router, r *http.Request, extra string) []string {
	var methods []string
	probe := *r // a shallow copy; only Method changes
	try := func(m string) {
		probe.Method = m
		if _, pattern := rt.Handler(&probe); pattern != "" {
			methods = append(methods, m)
		}
	}
	known := false
	for _, m := range probeMethods {
		try(m)
		known = known || m == extra
	}
	if extra != "" && !known && validMethod(extra) {
		try(extra)
	}
	return methods
}

// validMethod reports whether m is an RFC 9110 token of at most 32 bytes,
// so that a method named in a header can be echoed safely.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		switch c {
		case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
			continue
		}
		return false
	}
	return true
}

// routeError returns the 404 or 405 for a request no route of rt matches.
func routeError(rt Router, r *http.Request) *apierrors.Error {
	allowed := allowedMethods(rt, r, "")
	if len(allowed) == 0 {
		return apierrors.New(http.StatusNotFound, apierrors.CodeNotFound, "Not found")
	}
	return apierrors.NewMethodNotAllowed(allowed...)
}
