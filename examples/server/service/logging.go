package service

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
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
				slog.String("path", redactPath(r.URL.Path)),
				slog.Int("status", sw.status()),
				slog.Duration("duration", now().Sub(start)),
				slog.String("request_id", id),
				slog.String("key_id", entry.keyID))
		})
	}
}

// redactPath replaces every path segment that could hold a key (a run of
// 20 or more letters and digits, as a key pasted into a URL would have)
// with its redacted form, so that such a mistake does not put the key in
// the logs. Ids of keys (12 characters) and monitors pass unchanged.
func redactPath(path string) string {
	if !hasLongRun(path) {
		return path
	}
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if hasLongRun(seg) {
			segs[i] = apikey.Redact(seg)
		}
	}
	return strings.Join(segs, "/")
}

// hasLongRun reports whether s has 20 or more consecutive ASCII letters
// and digits.
func hasLongRun(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' {
			if n++; n >= 20 {
				return true
			}
		} else {
			n = 0
		}
	}
	return false
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
