package middleware

import (
	"strconv"
	"time"
	"unsafe"

	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/ratelimit"
)

// The RateLimit-Policy and RateLimit headers of the IETF httpapi
// ratelimit-headers draft, in its Structured Fields syntax (RFC 8941).

// named returns a copy of p whose limits all carry their Label as Name, so
// that headers need not derive labels on every request.
func named(p ratelimit.Policy) ratelimit.Policy {
	q := make(ratelimit.Policy, len(p))
	for i, l := range p {
		q[i] = l.WithName(l.Label())
	}
	return q
}

// policyHeader formats a RateLimit-Policy value.
func policyHeader(p ratelimit.Policy) string {
	b := make([]byte, 0, 48*len(p))
	for i, l := range p {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendSFString(b, l.Label())
		b = append(b, ";q="...)
		b = strconv.AppendInt(b, int64(l.Requests), 10)
		b = append(b, ";w="...)
		b = strconv.AppendInt(b, apierrors.DelaySeconds(l.Window), 10)
	}
	return string(b)
}

// rateValues returns the header values of the rate limit for one
// response: the RateLimit value of d (one item per limit of its policy)
// and, if retry >= 0, the Retry-After value of retry. The hot path,
// allowed or refused, costs one allocation for them: both values and
// their bytes share it.
func rateValues(d ratelimit.Decision, retry time.Duration) (rateLimit, retryAfter []string) {
	var buf [128]byte
	b := buf[:0]
	if len(d.States) == 0 {
		b = appendState(b, d.Limit, d.Remaining, d.ResetAfter)
	}
	for i, s := range d.States {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendState(b, s.Limit, s.Remaining, s.ResetAfter)
	}
	n := len(b)
	if retry >= 0 {
		b = strconv.AppendInt(b, apierrors.DelaySeconds(retry), 10)
	}
	var vals *[2]string
	var text []byte
	switch { // sized to fit: most policies have one or two limits
	case len(b) <= 48:
		v := new(struct {
			vals [2]string
			text [48]byte
		})
		vals, text = &v.vals, v.text[:len(b)]
	case len(b) <= 128:
		v := new(struct {
			vals [2]string
			text [128]byte
		})
		vals, text = &v.vals, v.text[:len(b)]
	default:
		vals, text = new([2]string), make([]byte, len(b))
	}
	copy(text, b)
	// text is written once, here, and never again: strings may share it.
	vals[0] = unsafe.String(unsafe.SliceData(text), n)
	if retry < 0 {
		return vals[0:1:1], nil
	}
	vals[1] = unsafe.String(unsafe.SliceData(text[n:]), len(text)-n)
	return vals[0:1:1], vals[1:2:2]
}

func appendState(b []byte, l ratelimit.Limit, remaining int, reset time.Duration) []byte {
	b = appendSFString(b, l.Label())
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, int64(max(remaining, 0)), 10)
	b = append(b, ";t="...)
	return strconv.AppendInt(b, apierrors.DelaySeconds(reset), 10)
}

// appendSFString appends s as a Structured Field string (RFC 8941): quoted,
// with backslash escapes; characters outside printable ASCII are dropped.
func appendSFString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c >= 0x20 && c < 0x7f:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
