package middleware

import (
	"net/http"
	"path"
	"strings"

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
// return the handler registered for the pattern it finds (examples/chi
// does so).
//
// Routers nest: when the handler a Router returns is itself a Router, the
// Gate asks that one in turn, so a ServeMux mounted inside another, or one
// mounted under a path prefix with StripPrefix, is routed as one router.
type Router interface {
	http.Handler

	// Handler returns the handler that ServeHTTP would run for r, with r
	// as it is, and the pattern it was registered with. The pattern is "" when no route
	// matches r's method and path; the handler then does not matter. The
	// handler may be nil when the router cannot tell it: the Gate then
	// applies its default checks only, and the route's own Require
	// wrappers still run when it is served.
	Handler(r *http.Request) (h http.Handler, pattern string)
}

// maxNesting bounds how deep match follows Routers inside Routers.
const maxNesting = 8

// match returns the handler and pattern that rt, and the Routers nested in
// it, pick for r: those of the innermost Router, or a nil handler and ""
// when one of them has no route for r.
//
// A path that is not canonical (see canonical), or that a ServeMux
// matches only by adding a trailing slash, has no route: ServeMux would
// answer it with a redirect whose Location repeats the path and query,
// and so whatever a client put there (its API key, say); the Gate
// answers 404 instead, with a body that does not echo the path.
func match(rt Router, r *http.Request) (http.Handler, string) {
	if !canonical(r.URL.Path) {
		return nil, ""
	}
	h, pattern := rt.Handler(r)
	for range maxNesting {
		inner, ok := h.(Router)
		if pattern == "" || !ok {
			break
		}
		rt = inner
		h, pattern = rt.Handler(r)
	}
	if pattern == "" || slashRedirect(pattern, r.URL.Path) {
		return nil, ""
	}
	return h, pattern
}

// canonical reports whether p is a path ServeMux serves as it is: rooted,
// with no empty, "." or ".." segments (a trailing slash is kept).
func canonical(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// slashRedirect reports whether pattern ("[METHOD ][HOST]/PATH") is a
// subtree pattern that ServeMux matched for path p only by adding the
// trailing slash, as it does ("/v1/things" for "/v1/things/"), answering
// with a redirect.
func slashRedirect(pattern, p string) bool {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = pattern[i+1:]
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:]
	}
	return strings.HasSuffix(pattern, "/") && !strings.HasSuffix(p, "/") &&
		strings.Count(p, "/") == strings.Count(pattern, "/")-1
}

// StripPrefix is http.StripPrefix for a Router: it serves requests whose
// path begins with prefix by removing the prefix and letting rt serve
// them, and it tells the Gate which of rt's routes a request takes, so
// that a router mounted under a prefix is routed, checked and answered
// 404 or 405 like the outer one. Its patterns are rt's with the prefix put
// back ("GET /things" of a router mounted under "/v2" is "GET /v2/things"),
// which is how Gate.Public names them.
//
//	mux.Handle("/v2/", middleware.StripPrefix("/v2", v2))
func StripPrefix(prefix string, rt Router) Router {
	if rt == nil {
		panic("middleware: StripPrefix called with a nil Router")
	}
	return &prefixRouter{prefix: prefix, rt: rt, h: http.StripPrefix(prefix, rt)}
}

type prefixRouter struct {
	prefix string
	rt     Router
	h      http.Handler // http.StripPrefix(prefix, rt)
}

func (p *prefixRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.h.ServeHTTP(w, r) }

func (p *prefixRouter) Handler(r *http.Request) (http.Handler, string) {
	path, ok := strings.CutPrefix(r.URL.Path, p.prefix)
	rawPath, rawOK := strings.CutPrefix(r.URL.RawPath, p.prefix)
	if !ok || r.URL.RawPath != "" && !rawOK {
		return nil, "" // http.StripPrefix answers 404
	}
	// The request that http.StripPrefix hands to rt.
	inner := *r
	u := *r.URL
	u.Path, u.RawPath = path, rawPath
	inner.URL = &u
	h, pattern := match(p.rt, &inner)
	if pattern == "" {
		return nil, ""
	}
	return h, p.prefixed(pattern)
}

// prefixed puts the prefix back into an inner pattern: after the method,
// if the pattern has one.
func (p *prefixRouter) prefixed(pattern string) string {
	method, path, ok := strings.Cut(pattern, " ")
	if ok && strings.HasPrefix(path, "/") {
		return method + " " + p.prefix + path
	}
	if strings.HasPrefix(pattern, "/") {
		return p.prefix + pattern
	}
	return pattern // a host pattern: leave it as the inner router wrote it
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
		if _, pattern := match(rt, &probe); pattern != "" {
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
