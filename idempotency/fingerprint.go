package idempotency

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
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
	// One buffer holds what is hashed: the method, the target, then the
	// body, which is read in place after them, so that the fingerprint is
	// one SHA-256 pass and the body one allocation.
	path, query := r.URL.EscapedPath(), r.URL.RawQuery
	head := len(r.Method) + 1 + len(path) + 1
	if query != "" || r.URL.ForceQuery {
		head += 1 + len(query)
	}
	size := head + 512
	if r.ContentLength > 0 && r.ContentLength <= max {
		size = head + int(r.ContentLength) + 1 // +1: room to see the end without growing
	}
	buf := make([]byte, 0, size)
	buf = append(buf, r.Method...)
	buf = append(buf, 0)
	buf = append(buf, path...)
	if query != "" || r.URL.ForceQuery {
		buf = append(buf, '?')
		buf = append(buf, query...)
	}
	buf = append(buf, 0)
	if r.Body != nil && r.Body != http.NoBody {
		for {
			if len(buf) == cap(buf) {
				buf = slices.Grow(buf, cap(buf)) // double
			}
			n, err := r.Body.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if int64(len(buf)-head) > max {
				return Fingerprint{}, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, max)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return Fingerprint{}, err
			}
		}
		r.Body.Close()
		if len(buf) == head {
			r.Body = http.NoBody
		} else {
			b := &body{}
			b.Reset(buf[head:])
			r.Body = b
		}
	}
	return sha256.Sum256(buf), nil
}

// body is a request body read again from memory.
type body struct{ bytes.Reader }

func (*body) Close() error { return nil }
