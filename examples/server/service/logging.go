package service

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/middleware"
)

// logEntry collects what the request log line needs from inner layers.
type logEntry struct{ keyID string }

type logEntryKey struct{}

// noteKey is the Authenticator's OnSuccess hook: it tells the request log
// which key was used, by id only.
func noteKey(r *http.Request, k *apikey.Key) {
	if e, ok := r.Context().Value(logEntryKey{}).(*logEntry); ok {
		e.keyID = k.ID
	}
}

// logRequests writes one structured line per request: method, path (never
// the query, which may hold a key), status, duration, request id and the
// id of the key used. Keys themselves are never logged. It wraps the Gate,
// so it sees every answer, and learns the key from the Authenticator's
// OnSuccess hook and the request id from the response.
func logRequests(logger *slog.Logger, now func() time.Time) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := now()
			entry := &logEntry{}
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), logEntryKey{}, entry)))
			id := sw.Header().Get("X-Request-Id") // set by the Gate's RequestID
			logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path), // redacted, as every line is (redact.go)
				slog.Int("status", sw.status()),
				slog.Duration("duration", now().Sub(start)),
				slog.String("request_id", id),
				slog.String("key_id", entry.keyID))
		})
	}
}

// statusWriter records the response status.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Unwrap lets http.ResponseController and the error writer reach the
// underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logKeyEvent returns the Manager's OnEvent hook: it logs each change in a
// key's life, by key id (a real service would tell the key's owner, by
// email or webhook).
func logKeyEvent(logger *slog.Logger) func(context.Context, apikey.Event) {
	return func(ctx context.Context, e apikey.Event) {
		level := slog.LevelInfo
		if e.Reason == apikey.RevokedLeaked {
			level = slog.LevelWarn
		}
		logger.LogAttrs(ctx, level, "key event", slog.Any("event", e))
	}
}

// logCreditsEvent returns the credits part's OnEvent hook: it logs when an
// account's credits run low or out.
func logCreditsEvent(logger *slog.Logger) func(*http.Request, *apikey.Key, middleware.CreditsEvent) {
	return func(r *http.Request, k *apikey.Key, e middleware.CreditsEvent) {
		logger.LogAttrs(r.Context(), slog.LevelInfo, "credits event", slog.String("kind", e.Kind.String()),
			slog.String("account", e.Account), slog.Int64("remaining", e.Balance.Remaining), slog.String("key_id", k.ID))
	}
}
