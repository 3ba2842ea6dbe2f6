package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	apierrors "github.com/gatekey/gatekey/errors"
)

// Recoverer turns panics into JSON 500 internal_error responses. The zero
// value is ready to use.
//
// The panic value and stack go to the logger, never to the client. If the
// handler had already started its response, nothing more is written. A
// panic with http.ErrAbortHandler is re-panicked, so that net/http aborts
// the response as the handler asked.
//
// The 500 carries the request id, in its body and its X-Request-Id
// header, whether RequestID runs outside or inside the Recoverer: the id
// is on the response before anything can panic.
type Recoverer struct {
	// Logger receives the panic value and stack. Nil means slog.Default().
	// The error writer's Logger gets the short "server error" line.
	Logger *slog.Logger
}

// Handler returns next wrapped so that its panics become JSON errors.
func (rc *Recoverer) Handler(next http.Handler) http.Handler {
	logger := rc.Logger
	if logger == nil {
		logger = slog.Default()
	}
	// The errors adapter knows whether the response has started and writes
	// the returned error only if it has not.
	return apierrors.HandlerFunc(func(w http.ResponseWriter, r *http.Request) (err error) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if e, ok := v.(error); ok && errors.Is(e, http.ErrAbortHandler) {
				panic(v)
			}
			logger.LogAttrs(r.Context(), slog.LevelError, "gatekey: panic serving request",
				slog.String("request_id", w.Header().Get(requestIDHeader)),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("panic", fmt.Sprint(v)),
				slog.String("stack", string(debug.Stack())))
			err = apierrors.NewInternal(fmt.Errorf("middleware: panic: %v", v))
		}()
		next.ServeHTTP(w, r)
		return nil
	})
}
