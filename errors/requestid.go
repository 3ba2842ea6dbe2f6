package errors

import (
	"context"
	"net/http"
)

// RequestIDHeader is the header that carries request ids in both directions.
const RequestIDHeader = "X-Request-Id"

// MaxRequestIDLen is the longest request id accepted from a client.
const MaxRequestIDLen = 128

type requestIDKey struct{}

// ContextWithRequestID returns a copy of ctx carrying the request id. The
// request-id middleware calls it; Write reads the id back into error bodies.
func ContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the request id stored by ContextWithRequestID.
func RequestIDFromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(requestIDKey{}).(string)
	return id, ok && id != ""
}

// ValidRequestID reports whether id may be used as a request id: 1 to 128
// characters from [A-Za-z0-9._:-]. Anything else (too long, spaces, quotes,
// control or non-ASCII characters) could corrupt logs or headers and is
// replaced by a generated id.
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// requestID returns the id for r: the one in its context, else a
// well-formed X-Request-Id header, else "".
func requestID(r *http.Request) string {
	if r == nil {
		return ""
	}
	if id, ok := RequestIDFromContext(r.Context()); ok {
		return id
	}
	if v := r.Header.Values(RequestIDHeader); len(v) == 1 && ValidRequestID(v[0]) {
		return v[0]
	}
	return ""
}
