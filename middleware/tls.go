package middleware

import (
	"net/http"

	apierrors "github.com/gatekey/gatekey/errors"
)

// DefaultHSTS is the Strict-Transport-Security value RequireTLS sends when
// its HSTS field is empty: one year.
const DefaultHSTS = "max-age=31536000"

// RequireTLS rejects plain-HTTP requests with 403 https_required. It never
// redirects: by the time a plain request arrives, its API key has already
// crossed the network in clear text, and a redirect would teach the client
// that this is fine. The zero value is ready to use.
type RequireTLS struct {
	// Proxies decides whether an X-Forwarded-Proto header is believed.
	// The zero value believes none: only r.TLS counts.
	Proxies TrustedProxies

	// HSTS is the Strict-Transport-Security header sent on responses to
	// TLS requests. Empty means DefaultHSTS; "-" sends none.
	HSTS string

	// Errors writes the 403. Nil means apierrors.Write: the Writer installed
	// by apierrors.Writer.Middleware, or the default one.
	Errors *apierrors.Writer
}

// Check returns nil for a request that arrived over TLS, and the
// https_required error otherwise.
func (rt *RequireTLS) Check(r *http.Request) error {
	if rt.Proxies.IsTLS(r) {
		return nil
	}
	return apierrors.ErrHTTPSRequired
}

// Handler returns next behind the TLS requirement.
func (rt *RequireTLS) Handler(next http.Handler) http.Handler {
	hsts := rt.HSTS
	if hsts == "" {
		hsts = DefaultHSTS
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := rt.Check(r); err != nil {
			rt.Errors.Write(w, r, err)
			return
		}
		if hsts != "-" {
			w.Header().Set("Strict-Transport-Security", hsts)
		}
		next.ServeHTTP(w, r)
	})
}
