package idempotency

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// A Fingerprint identifies a request for the purpose of its key: a
// SHA-256 of its method, its path with its query, and its body. Two
// requests with one key and different fingerprints are a mismatch.
type Fingerprint [sha256.Size]byte

// String returns f in hexadecimal.
func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// ErrBodyTooLarge reports a request body longer than ReadRequest's limit.
var ErrBodyTooLarge = errors.New("idempotency: request body too large")

// ReadRequest reads r's body to its end and returns r's fingerprint and the
// body, which it also puts back on r (r.Body reads it again, from the
// start), so that the handler reads what was fingerprinted. It keeps at
// most max bytes: a longer body is an error wrapping ErrBodyTooLarge, and
// r.Body is then left partly read. A nil or http.NoBody body is empty.
// The error of a body that fails to read is returned as it is.
func ReadRequest(r *http.Request, max int64) (Fingerprint, error) {
	h := sha256.New()
	io.WriteString(h, r.Method)
	h.Write([]byte{0})
	io.WriteString(h, r.URL.EscapedPath())
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		h.Write([]byte{'?'})
		io.WriteString(h, r.URL.RawQuery)
	}
	h.Write([]byte{0})
	if r.Body != nil && r.Body != http.NoBody {
		var buf bytes.Buffer
		if r.ContentLength > 0 && r.ContentLength <= max {
			buf.Grow(int(r.ContentLength))
		}
		n, err := buf.ReadFrom(io.LimitReader(r.Body, max+1))
		if err != nil {
			return Fingerprint{}, err
		}
		if n > max {
			return Fingerprint{}, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, max)
		}
		r.Body.Close()
		h.Write(buf.Bytes())
		r.Body = io.NopCloser(bytes.NewReader(buf.Bytes()))
		if n == 0 {
			r.Body = http.NoBody
		}
	}
	var f Fingerprint
	h.Sum(f[:0])
	return f, nil
}
