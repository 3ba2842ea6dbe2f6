package errors

import (
	"log/slog"
	"net/http"
)

// HandlerFunc is an HTTP handler that returns an error instead of writing
// it. Its ServeHTTP method writes a returned error with Write, that is with
// the Writer installed by Writer.Middleware, or else the zero Writer.
//
// If the function has already started the response when it returns an
// error, the error is logged and not written: a second body would corrupt
// the first.
type HandlerFunc func(http.ResponseWriter, *http.Request) error

// ServeHTTP calls f and writes any error it returns.
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tw := &trackingWriter{ResponseWriter: w}
	err := f(tw, r)
	if err == nil {
		return
	}
	wr := writerFor(r)
	if tw.started {
		wr.logger().LogAttrs(r.Context(), slog.LevelError, "gatekey: handler error after response started",
			requestAttrs(w, r, slog.Any("error", err))...)
		return
	}
	wr.Write(w, r, err)
}

// trackingWriter records whether the response has started. It forwards
// everything, and exposes the writer it wraps to http.ResponseController.
type trackingWriter struct {
	http.ResponseWriter
	started bool
}

func (t *trackingWriter) WriteHeader(code int) {
	// Informational responses (103 Early Hints) do not start the final one.
	if code >= 200 || code == http.StatusSwitchingProtocols {
		t.started = true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.started = true
	return t.ResponseWriter.Write(b)
}

// Flush sends buffered data, starting the response, when the underlying
// writer supports it.
func (t *trackingWriter) Flush() {
	t.started = true
	http.NewResponseController(t.ResponseWriter).Flush() //nolint:errcheck // http.Flusher has no error either
}

// ResponseStarted reports whether a status or body has been written.
func (t *trackingWriter) ResponseStarted() bool { return t.started }

// Unwrap returns the wrapped writer, for http.ResponseController.
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
