package middleware

import (
	"context"
	"crypto/rand"
	"net/http"

	apierrors "github.com/gatekey/gatekey/errors"
)

// RequestID gives every request an id: a well-formed incoming X-Request-Id
// (1 to 128 characters from [A-Za-z0-9._:-]) is kept, anything else is
// replaced by a generated "req_" id. The id is stored in the request's
// context, where RequestIDFromContext and error bodies find it, and echoed in
// the X-Request-Id response header.
//
// Put RequestID near the outside of a chain, inside Recover, so that every
// error response carries the id.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := ""
		if v := r.Header.Values(apierrors.RequestIDHeader); len(v) == 1 && apierrors.ValidRequestID(v[0]) {
			id = v[0]
		} else {
			id = NewRequestID()
		}
		w.Header().Set(apierrors.RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(apierrors.ContextWithRequestID(r.Context(), id)))
	})
}

// RequestIDFromContext returns the request id that RequestID stored in ctx.
func RequestIDFromContext(ctx context.Context) (string, bool) {
	return apierrors.RequestIDFromContext(ctx)
}

const requestIDAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

// NewRequestID returns a new random request id: "req_" and 24 characters
// from [0-9a-z], about 124 bits from crypto/rand.
func NewRequestID() string {
	var raw [24]byte
	rand.Read(raw[:]) // never fails (crypto/rand, Go 1.24+)
	buf := [4 + len(raw)]byte{'r', 'e', 'q', '_'}
	for i, c := range raw {
		// 256 = 7*36 + 4: the tiny bias of c%36 does not matter for an id
		// that needs uniqueness, not secrecy.
		buf[4+i] = requestIDAlphabet[c%36]
	}
	return string(buf[:])
}
