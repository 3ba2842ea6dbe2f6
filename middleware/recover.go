package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	apierrors "github.com/gatekey/gatekey/errors"
)

// Recover turns a panic in next into a JSON 500 internal_error with
// Recoverer{}. See Recoverer.
func Recover(next http.Handler) http.Handler {
	return (&Recoverer{}).Handler(next)
}

// Recoverer turns panics into JSON 500 internal_error responses. The zero
// value is ready to use.
//
// The panic value and stack go to the logger, never to the client. If the
// handler had already started its response, nothing more is written. A
// panic with http.ErrAbortHandler is re-panicked, so that net/http aborts
// the response as the handler asked.
type Recoverer struct {
	// Errors writes the 500 response. Nil means apierrors.Write: the Writer
	// installed by apierrors.Writer.Middleware, or the default one. That
	// Writer's Logger gets the short "server error" line; Logger below gets
	// the panic and its stack.
	Errors *apierrors.Writer

	// Logger receives the panic value and stack. Nil means slog.Default().
	Logger *slog.Logger
}

// Handler returns next wrapped so that its panics become JSON errors.
func (rc *Recoverer) Handler(next http.Handler) http.Handler {
	// The errors adapter knows whether the response has started and writes
	// the returned error only if it has not.
	f := func(w http.ResponseWriter, r *http.Request) (err error) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if e, ok := v.(error); ok && errors.Is(e, http.ErrAbortHandler) {
				panic(v)
			}
			logger := rc.Logger
			if logger == nil {
				logger = slog.Default()
			}
			id, _ := apierrors.RequestIDFromContext(r.Context())
			logger.LogAttrs(r.Context(), slog.LevelError, "gatekey: panic serving request",
				slog.String("request_id", id),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("panic", fmt.Sprint(v)),
				slog.String("stack", string(debug.Stack())))
			err = apierrors.NewInternal(fmt.Errorf("middleware: panic: %v", v))
		}()
		next.ServeHTTP(w, r)
		return nil
	}
	if rc.Errors != nil {
		return rc.Errors.Handler(f)
	}
	return apierrors.HandlerFunc(f)
}
