package middleware

import (
	"context"
	"math/rand/v2"
	"net/http"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/internal/reqctx"
)

// requestIDHeader carries request ids in both directions.
const requestIDHeader = "X-Request-Id"

// maxRequestIDLen is the longest request id accepted from a client.
const maxRequestIDLen = 128

// RequestID gives every request an id: a well-formed incoming X-Request-Id
// (1 to 128 characters from [A-Za-z0-9._:-], and nothing shaped like an
// API key, which would be echoed and logged: see apikey.RedactAll) is
// kept, anything else is replaced by a generated "req_" id. The id is stored in the request's
// context, where RequestIDFromContext finds it, and set on the response's
// X-Request-Id header before the next handler runs, where error bodies
// find it (package errors copies it into their request_id).
//
// Put RequestID outermost, as the Gate does, so that every response
// carries an id.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := requestID(r)
		w.Header()[requestIDHeader] = []string{id}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), reqctx.RequestIDKey{}, id)))
	})
}

// requestID returns the id of r: its own, if well-formed, or a new one.
func requestID(r *http.Request) string {
	if v := r.Header[requestIDHeader]; len(v) == 1 && validRequestID(v[0]) {
		return v[0]
	}
	return newRequestID()
}

// RequestIDFromContext returns the request id that RequestID, or the Gate,
// stored in ctx.
func RequestIDFromContext(ctx context.Context) (string, bool) {
	switch v := ctx.Value(reqctx.RequestIDKey{}).(type) {
	case string:
		return v, v != ""
	case *reqctx.State:
		return v.RequestID, v.RequestID != ""
	}
	return "", false
}

// validRequestID reports whether id may be used as a request id: 1 to 128
// characters from [A-Za-z0-9._:-], not shaped like a key. Anything else
// (too long, spaces, quotes, control or non-ASCII characters) could corrupt
// logs or headers, and a key sent in its place would be echoed and logged.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
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
	return apikey.RedactAll(id) == id
}

const requestIDAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

// newRequestID returns a new random request id: "req_" and 24 characters
// from [0-9a-z], twice 12 base-36 digits of a math/rand/v2 Uint64, about
// 124 bits. An id needs uniqueness, not secrecy, so it comes from the
// runtime's generator, seeded by the system's: a crypto/rand read was 6 %
// of BenchmarkGate's CPU profile.
func newRequestID() string {
	buf := [4 + 24]byte{'r', 'e', 'q', '_'}
	for half := 0; half < 2; half++ {
		x := rand.Uint64() // 36^12 < 2^64: 12 digits, each nearly uniform
		for i := range 12 {
			buf[4+12*half+i] = requestIDAlphabet[x%36]
			x /= 36
		}
	}
	return string(buf[:])
}
