package middleware

import (
	"net/http"
	"strings"

	apierrors "github.com/gatekey/gatekey/errors"
)

// defaultHSTS is the Strict-Transport-Security value RequireTLS sends when
// its HSTS field is empty: one year.
const defaultHSTS = "max-age=31536000"

// RequireTLS rejects plain-HTTP requests with 403 https_required. It never
// redirects: by the time a plain request arrives, its API key has already
// crossed the network in clear text, and a redirect would teach the client
// that this is fine. The zero value is ready to use.
type RequireTLS struct {
	// Proxies decides whether an X-Forwarded-Proto header is believed: a
	// request is TLS if r.TLS is set, or if its TCP peer is one of Proxies
	// and says "X-Forwarded-Proto: https" (a list is read by its last
	// entry, the one the nearest proxy added). The zero value believes no
	// header: only r.TLS counts.
	Proxies TrustedProxies

	// HSTS is the Strict-Transport-Security header sent on responses to
	// TLS requests. Empty means "max-age=31536000" (one year); "-" sends
	// none.
	HSTS string
}

// Check returns nil for a request that arrived over TLS, and the
// https_required error otherwise.
func (rt *RequireTLS) Check(r *http.Request) error {
	if rt.Proxies.isTLS(r) {
		return nil
	}
	return apierrors.New(http.StatusForbidden, apierrors.CodeHTTPSRequired, "HTTPS is required")
}

// Handler returns next behind the TLS requirement. It takes a copy of the
// configuration, and panics if HSTS holds a line break.
func (rt *RequireTLS) Handler(next http.Handler) http.Handler {
	c := *rt
	hsts := c.HSTS
	if hsts == "" {
		hsts = defaultHSTS
	}
	if strings.ContainsAny(hsts, "\r\n") {
		panic("middleware: RequireTLS.HSTS holds a line break")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := c.Check(r); err != nil {
			apierrors.Write(w, r, err)
			return
		}
		if hsts != "-" {
			w.Header().Set("Strict-Transport-Security", hsts)
		}
		next.ServeHTTP(w, r)
	})
}
