package main

import (
	"net/http"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/gatekey/gatekey/middleware"
)

// Router adapts a chi router to middleware.Router, so that it can stand
// behind a middleware.Gate. Copy it into a service that routes with chi:
// it is all the glue there is.
//
// Handler asks chi which pattern a request matches (chi.Mux.Find) and
// returns the handler registered for that pattern, which chi.Walk lists.
// Register every route before calling NewRouter: a route added later is
// still served, but the Gate does not see its Require wrappers, only
// applies its default checks before it. Adapt the top-level router, the
// one the Gate serves: a chi router mounted inside another routes on its
// parent's route context, which Handler does not have.
type Router struct {
	mux      chi.Router
	handlers map[string]http.Handler // "METHOD pattern" → the registered handler
	ctxs     sync.Pool               // *chi.Context, reused by Handler
}

// NewRouter returns r adapted to middleware.Router.
func NewRouter(r chi.Router) *Router {
	rt := &Router{mux: r, handlers: make(map[string]http.Handler)}
	rt.ctxs.New = func() any { return chi.NewRouteContext() }
	chi.Walk(r, func(method, route string, h http.Handler, _ ...func(http.Handler) http.Handler) error {
		rt.handlers[method+" "+route] = h
		return nil
	})
	return rt
}

var _ middleware.Router = (*Router)(nil)

// ServeHTTP serves r with the chi router.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) { rt.mux.ServeHTTP(w, r) }

// Handler returns the handler chi would run for r, and its pattern; the
// pattern is "" when no route matches r's method and path.
func (rt *Router) Handler(r *http.Request) (http.Handler, string) {
	path := r.URL.RawPath // what chi routes on
	if path == "" {
		path = r.URL.Path
	}
	rctx := rt.ctxs.Get().(*chi.Context)
	rctx.Reset()
	pattern := rt.mux.Find(rctx, r.Method, path)
	rt.ctxs.Put(rctx)
	if pattern == "" {
		return nil, ""
	}
	return rt.handlers[r.Method+" "+pattern], pattern
}
