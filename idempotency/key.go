package idempotency

import (
	"errors"
	"fmt"
	"strings"
)

// MaxKeyLen is the longest key ParseKey accepts, in bytes (every byte of a
// key is one visible ASCII character).
const MaxKeyLen = 255

// ErrInvalidKey reports an Idempotency-Key value that ParseKey refuses.
var ErrInvalidKey = errors.New("idempotency: invalid Idempotency-Key")

// ParseKey returns the key an Idempotency-Key header value names. The
// value is either bare, 1 to MaxKeyLen visible ASCII characters (0x21 to
// 0x7E) not starting with a double quote, or a structured-field string
// (RFC 8941) whose content is such a key: "abc" and abc name the same key.
// A structured-field string may escape only a double quote or a
// backslash, and may not carry parameters. Anything else, the empty value
// included, is an error wrapping ErrInvalidKey that does not repeat the
// value.
func ParseKey(v string) (string, error) {
	if v == "" {
		return "", fmt.Errorf("%w: the value is empty", ErrInvalidKey)
	}
	if v[0] != '"' {
		if len(v) > MaxKeyLen {
			return "", errTooLong
		}
		for i := 0; i < len(v); i++ {
			if !visible(v[i]) {
				return "", errNotVisible
			}
		}
		return v, nil
	}
	return parseString(v)
}

var (
	errTooLong    = fmt.Errorf("%w: the key is longer than 255 characters", ErrInvalidKey)
	errNotVisible = fmt.Errorf("%w: the key has a character that is not visible ASCII (0x21 to 0x7E)", ErrInvalidKey)
	errBadString  = fmt.Errorf("%w: the value is not a well-formed structured-field string", ErrInvalidKey)
)

// parseString parses a structured-field string holding a key.
func parseString(v string) (string, error) {
	// Fast path: no escapes.
	if end := strings.IndexAny(v[1:], `"\`); end >= 0 && v[1+end] == '"' && 1+end == len(v)-1 {
		k := v[1 : len(v)-1]
		if k == "" {
			return "", fmt.Errorf("%w: the key is empty", ErrInvalidKey)
		}
		if len(k) > MaxKeyLen {
			return "", errTooLong
		}
		for i := 0; i < len(k); i++ {
			if !visible(k[i]) {
				return "", errNotVisible
			}
		}
		return k, nil
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\':
			i++
			if i == len(v) || v[i] != '"' && v[i] != '\\' {
				return "", errBadString
			}
			b.WriteByte(v[i])
		case c == '"':
			if i != len(v)-1 {
				return "", errBadString // parameters or trailing text
			}
			k := b.String()
			switch {
			case k == "":
				return "", fmt.Errorf("%w: the key is empty", ErrInvalidKey)
			case len(k) > MaxKeyLen:
				return "", errTooLong
			}
			return k, nil
		case c == ' ' || !visible(c):
			// A structured-field string may hold spaces; a key may not.
			return "", errNotVisible
		default:
			b.WriteByte(c)
		}
		if b.Len() > MaxKeyLen {
			return "", errTooLong
		}
	}
	return "", errBadString // no closing quote
}

func visible(c byte) bool { return 0x21 <= c && c <= 0x7e }
