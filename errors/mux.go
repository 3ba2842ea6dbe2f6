package errors

import (
	"bytes"
	"net/http"
)

// Mux returns a handler that routes exactly as mux does, but answers the
// requests that mux itself would reject with plain text, "404 page not
// found" and "405 method not allowed", with JSON errors written by Write.
// The 405 keeps mux's Allow header. Requests that match a pattern, and the
// redirects mux issues for unclean paths, are untouched.
//
// Only mux's own answers are replaced: a routed handler that writes a 404
// itself is not affected. Nested ServeMuxes need wrapping each.
// middleware.Gate does this for any router; Mux is for a ServeMux used
// without it.
func Mux(mux *http.ServeMux) http.Handler {
	if mux == nil {
		panic("apierrors: Mux called with a nil *http.ServeMux")
	}
	return &muxHandler{mux: mux}
}

type muxHandler struct {
	mux *http.ServeMux
}

func (m *muxHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := m.mux.Handler(r)
	if pattern != "" {
		// A registered route (or a redirect to one). Let the mux serve it so
		// that it sets r.Pattern and the path values.
		m.mux.ServeHTTP(w, r)
		return
	}
	// No pattern: mux would answer 404, 405, or redirect to a cleaned path.
	// Run its answer against a recorder and decide from the status.
	rec := recorder{header: make(http.Header)}
	h.ServeHTTP(&rec, r)
	switch rec.status {
	case http.StatusNotFound:
		Write(w, r, New(http.StatusNotFound, CodeNotFound, "Not found"))
	case http.StatusMethodNotAllowed:
		var allowed []string
		if v := rec.header.Get("Allow"); v != "" {
			allowed = []string{v}
		}
		Write(w, r, NewMethodNotAllowed(allowed...))
	default:
		dst := w.Header()
		for k, v := range rec.header {
			dst[k] = v
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		w.WriteHeader(rec.status)
		w.Write(rec.body.Bytes()) //nolint:errcheck // the client is gone; nothing to do
	}
}

// recorder captures the small responses ServeMux writes on its own.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
