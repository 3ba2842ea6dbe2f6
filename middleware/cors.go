package middleware

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "github.com/gatekey/gatekey/errors"
)

// CORS lets browsers call the API from other origins. Put it in front of
// the Authenticator, as the Gate does: browsers send preflight requests
// without credentials, and CORS answers them itself.
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
// answered here and never reaches the next handler. From an allowed
// origin: for a path that Routes has, 204 with Access-Control-Allow-Origin,
// Access-Control-Allow-Methods (the methods Routes has for the path),
// Access-Control-Allow-Headers and Access-Control-Max-Age; for a path
// Routes does not have, the JSON 404 not_found, with
// Access-Control-Allow-Origin so that the browser lets the page read it.
// From any other origin, 204 without CORS headers, a refusal, whatever the
// path: Routes is not consulted.
// Other requests from an allowed origin go on with
// Access-Control-Allow-Origin and Access-Control-Expose-Headers set, so
// that scripts can read error bodies, challenges, rate-limit headers and
// request ids. Responses to requests with an Origin say "Vary: Origin", and
// so do all responses when not every origin is allowed.
//
// Allowing "*" is reasonable for an API authenticated by keys sent in
// headers: no cookie or other ambient credential travels with a
// cross-origin request, so a hostile page can only use a key it already
// has. Publishable keys are the ones meant for browsers; see
// Authenticator.RejectSecretKeysFromBrowsers.
//
// Routes is required. Handler takes a copy of the configuration.
type CORS struct {
	// AllowedOrigins lists origins such as "https://app.example.com", or
	// "*" for any. Empty allows none: every preflight gets 204 without CORS
	// headers, which browsers treat as a refusal.
	AllowedOrigins []string

	// Routes tells which methods a path has. Required; the Gate sets it to
	// its own Router.
	Routes Router

	// AllowedHeaders are the request headers browsers may send. Empty means
	// Authorization, Content-Type, Idempotency-Key and X-Request-Id; the
	// Gate adds the Authenticator's HeaderName when SourceHeader is
	// enabled, and drops Authorization when no Authorization source is.
	AllowedHeaders []string

	// ExposedHeaders are the response headers scripts may read. Empty means
	// Idempotent-Replayed, RateLimit, RateLimit-Policy, Retry-After,
	// WWW-Authenticate and X-Request-Id; the Gate adds the X-RateLimit headers when its
	// RateLimiter sends them.
	ExposedHeaders []string

	// MaxAge is how long browsers may cache a preflight answer. 0 means 10
	// minutes.
	MaxAge time.Duration
}

// Default header lists of CORS.
var (
	corsAllowedHeaders = [...]string{"Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"}
	corsExposedHeaders = [...]string{"Idempotent-Replayed", "RateLimit", "RateLimit-Policy", "Retry-After", "WWW-Authenticate", "X-Request-Id"}
)

// Handler returns next behind the CORS rules. It panics if Routes is nil
// or an origin is not an origin.
func (c *CORS) Handler(next http.Handler) http.Handler {
	if c.Routes == nil {
		panic("middleware: CORS.Routes is nil")
	}
	anyOrigin := slices.Contains(c.AllowedOrigins, "*")
	origins := make(map[string]bool, len(c.AllowedOrigins))
	for _, o := range c.AllowedOrigins {
		if o != "*" && (strings.ContainsAny(o, " \t\r\n,") || !strings.Contains(o, "://")) {
			panic("middleware: CORS.AllowedOrigins holds " + strconv.Quote(o) + ", which is not an origin such as https://app.example.com")
		}
		origins[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	allowed := c.AllowedHeaders
	if len(allowed) == 0 {
		allowed = corsAllowedHeaders[:]
	}
	exposed := c.ExposedHeaders
	if len(exposed) == 0 {
		exposed = corsExposedHeaders[:]
	}
	allowHeaders := strings.Join(allowed, ", ")
	expose := []string{strings.Join(exposed, ", ")}
	maxAge := c.MaxAge
	if maxAge <= 0 {
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
		h := w.Header()
		origin := r.Header.Get("Origin")
		if origin == "" {
			if !anyOrigin {
				// The answer would differ for a cross-origin request: keep
				// caches from serving it to one.
				h.Add("Vary", "Origin")
			}
			next.ServeHTTP(w, r)
			return
		}
		h.Add("Vary", "Origin")
		acao, ok := allowOrigin(origin)
		if !isPreflight(r) {
			if ok {
				h.Set("Access-Control-Allow-Origin", acao)
				h["Access-Control-Expose-Headers"] = expose
			}
			next.ServeHTTP(w, r)
			return
		}
		if !ok {
			// A refusal, the same for every path: a browser will not send
			// the request, and nobody learns which routes exist.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Allow-Origin", acao)
		methods := allowedMethods(routes, r, r.Header.Get("Access-Control-Request-Method"))
		if len(methods) == 0 {
			apierrors.Write(w, r, apierrors.New(http.StatusNotFound, apierrors.CodeNotFound, "Not found"))
			return
		}
		h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
		h.Set("Access-Control-Allow-Headers", allowHeaders)
		h.Set("Access-Control-Max-Age", maxAgeValue)
		w.WriteHeader(http.StatusNoContent)
	})
}

// isPreflight reports whether r is a CORS preflight request, which browsers
// send without credentials: OPTIONS with Origin and
// Access-Control-Request-Method.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && len(r.Header["Access-Control-Request-Method"]) > 0 &&
		len(r.Header["Origin"]) > 0
}
