package idempotency

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// An Answer is what a request's handler answered, as kept for its
// retries: the status, the headers that describe the body, and the body.
// Stores may share a kept Answer between the requests that replay it:
// treat it as read-only.
type Answer struct {
	Status int
	Header http.Header // only the KeptHeaders, in canonical form
	Body   []byte
}

// KeptHeaders returns the names of the response headers an Answer keeps:
// those that describe the body or what the request created. Others (the
// request id, rate-limit state, cookies, caching) belong to each answer
// and are not replayed.
func KeptHeaders() []string {
	return slices.Clone(keptHeaders[:])
}

var keptHeaders = [...]string{
	"Content-Disposition",
	"Content-Encoding",
	"Content-Language",
	"Content-Location",
	"Content-Type",
	"Location",
}

// KeepHeaders returns the KeptHeaders of h, in a new Header, or nil if h
// has none of them.
func KeepHeaders(h http.Header) http.Header {
	var kept http.Header
	for _, name := range keptHeaders {
		if v, ok := h[name]; ok {
			if kept == nil {
				kept = make(http.Header, 2)
			}
			kept[name] = slices.Clone(v)
		}
	}
	return kept
}

// Size returns about how many bytes a kept a takes: its body and headers.
func (a *Answer) Size() int {
	n := len(a.Body) + 8
	for k, vs := range a.Header {
		n += len(k) + 16
		for _, v := range vs {
			n += len(v) + 16
		}
	}
	return n
}

// The binary encoding: a version byte, the status as a uvarint, the
// number of header lines as a uvarint, each line's name and value as
// uvarint-length-prefixed bytes, then the body, length-prefixed too, so
// that a value cut short is an error rather than a shorter body.
const answerVersion = 1

// ErrBadAnswer reports an encoded Answer that UnmarshalBinary cannot read.
var ErrBadAnswer = errors.New("idempotency: malformed encoded answer")

// AppendBinary appends a's binary encoding to b, for stores that keep
// bytes. Header names are kept in their canonical form.
func (a *Answer) AppendBinary(b []byte) ([]byte, error) {
	if a.Status < 100 || a.Status > 999 {
		return b, fmt.Errorf("idempotency: answer status %d is not a valid HTTP status", a.Status)
	}
	b = append(b, answerVersion)
	b = binary.AppendUvarint(b, uint64(a.Status))
	lines := 0
	for _, vs := range a.Header {
		lines += len(vs)
	}
	b = binary.AppendUvarint(b, uint64(lines))
	names := make([]string, 0, len(a.Header))
	for k := range a.Header {
		names = append(names, k)
	}
	slices.Sort(names) // one answer, one encoding
	for _, k := range names {
		for _, v := range a.Header[k] {
			b = appendString(b, http.CanonicalHeaderKey(k))
			b = appendString(b, v)
		}
	}
	return appendString(b, a.Body), nil
}

// MarshalBinary returns a's binary encoding.
func (a *Answer) MarshalBinary() ([]byte, error) {
	return a.AppendBinary(make([]byte, 0, 16+len(a.Body)+64*len(a.Header)))
}

// UnmarshalBinary sets a to the Answer data encodes. The body is a copy.
func (a *Answer) UnmarshalBinary(data []byte) error {
	if len(data) == 0 || data[0] != answerVersion {
		return fmt.Errorf("%w: unknown version", ErrBadAnswer)
	}
	p := data[1:]
	status, p, ok := uvarint(p)
	if !ok || status < 100 || status > 999 {
		return fmt.Errorf("%w: bad status", ErrBadAnswer)
	}
	lines, p, ok := uvarint(p)
	if !ok || lines > uint64(len(p))/2 {
		return fmt.Errorf("%w: bad header count", ErrBadAnswer)
	}
	var h http.Header
	if lines > 0 {
		h = make(http.Header, lines)
	}
	for range lines {
		var k, v string
		if k, p, ok = readString(p); !ok || k == "" || http.CanonicalHeaderKey(k) != k {
			return fmt.Errorf("%w: bad header name", ErrBadAnswer)
		}
		if v, p, ok = readString(p); !ok {
			return fmt.Errorf("%w: bad header value", ErrBadAnswer)
		}
		h[k] = append(h[k], v)
	}
	n, p, ok := uvarint(p)
	if !ok || n != uint64(len(p)) {
		return fmt.Errorf("%w: the body is not the length it says", ErrBadAnswer)
	}
	*a = Answer{Status: int(status), Header: h, Body: slices.Clone(p)}
	if len(p) == 0 {
		a.Body = nil
	}
	return nil
}

func appendString[T string | []byte](b []byte, s T) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func uvarint(p []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(p)
	if n <= 0 {
		return 0, p, false
	}
	return v, p[n:], true
}

func readString(p []byte) (string, []byte, bool) {
	n, p, ok := uvarint(p)
	if !ok || n > uint64(len(p)) {
		return "", p, false
	}
	return string(p[:n]), p[n:], true
}
