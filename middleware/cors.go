package middleware

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "github.com/gatekey/gatekey/errors"
)

// CORS lets browsers call the API from other origins. Put it before
// Authenticator: browsers send preflight requests without credentials.
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
// answered here and never reaches the handlers: for a path that Routes
// knows, 204 with Access-Control-Allow-Origin (for an allowed origin),
// Access-Control-Allow-Methods (the methods Routes has for the path),
// Access-Control-Allow-Headers, Access-Control-Max-Age and Vary: Origin; for
// a path Routes does not know, the JSON 404 not_found. Other requests from
// an allowed origin go on to the handlers with Access-Control-Allow-Origin
// and Access-Control-Expose-Headers set, so that browsers can read error
// bodies, rate-limit headers and request ids.
//
// Allowing "*" is reasonable for an API authenticated by keys sent in
// headers: no cookie or other ambient credential travels with a
// cross-origin request, so a hostile page can only use a key it already
// has. Publishable keys are the ones meant for browsers; see
// Authenticator.RejectSecretKeysFromBrowsers.
type CORS struct {
	// AllowedOrigins lists origins such as "https://app.example.com", or
	// "*" for any. Empty allows none: preflights get 204 without CORS
	// headers, which browsers treat as a refusal.
	AllowedOrigins []string

	// Routes is the mux whose routes preflights are checked against.
	// Required.
	Routes *http.ServeMux

	// AllowedHeaders are the request headers browsers may send. Empty means
	// DefaultCORSAllowedHeaders.
	AllowedHeaders []string

	// ExposedHeaders are the response headers scripts may read. Empty means
	// DefaultCORSExposedHeaders.
	ExposedHeaders []string

	// MaxAge is how long browsers may cache a preflight answer. 0 means 10
	// minutes.
	MaxAge time.Duration
}

// Default header lists of CORS.
var (
	DefaultCORSAllowedHeaders = []string{"Authorization", "Content-Type", "X-API-Key", "X-Request-Id"}
	DefaultCORSExposedHeaders = []string{"RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-Id"}
)

// corsMethods are the methods a preflight answer may list.
var corsMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// Handler returns next behind the CORS rules. It panics if Routes is nil.
func (c *CORS) Handler(next http.Handler) http.Handler {
	if c.Routes == nil {
		panic("middleware: CORS.Routes is nil")
	}
	anyOrigin := slices.Contains(c.AllowedOrigins, "*")
	origins := make(map[string]bool, len(c.AllowedOrigins))
	for _, o := range c.AllowedOrigins {
		origins[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	allowHeaders := strings.Join(orDefault(c.AllowedHeaders, DefaultCORSAllowedHeaders), ", ")
	expose := []string{strings.Join(orDefault(c.ExposedHeaders, DefaultCORSExposedHeaders), ", ")}
	maxAge := c.MaxAge
	if maxAge == 0 {
		maxAge = 10 * time.Minute
	}
	maxAgeValue := strconv.FormatInt(int64(maxAge/time.Second), 10)
	routes := c.Routes

	allowOrigin := func(origin string) (string, bool) {
		if anyOrigin {
			return "*", true
		}
		return origin, origins[strings.ToLower(origin)]
	}

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		if !isPreflight(r) {
			if v, ok := allowOrigin(origin); ok {
				h.Set("Access-Control-Allow-Origin", v)
				h["Access-Control-Expose-Headers"] = expose
			}
			next.ServeHTTP(w, r)
			return
		}
		methods := routeMethods(routes, r)
		if len(methods) == 0 {
			apierrors.Write(w, r, apierrors.ErrNotFound)
			return
		}
		if v, ok := allowOrigin(origin); ok {
			h.Set("Access-Control-Allow-Origin", v)
			h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
			h.Set("Access-Control-Allow-Headers", allowHeaders)
			h.Set("Access-Control-Max-Age", maxAgeValue)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// routeMethods returns the methods mux routes for r's path.
func routeMethods(mux *http.ServeMux, r *http.Request) []string {
	var methods []string
	probe := r.Clone(r.Context())
	for _, m := range corsMethods {
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" {
			methods = append(methods, m)
		}
	}
	return methods
}

func orDefault(v, def []string) []string {
	if len(v) == 0 {
		return def
	}
	return v
}
