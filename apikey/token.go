package apikey

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"unsafe"
)

// Token is a complete plaintext key, as returned once by Generate or
// Manager.Create, or as presented by a client and parsed.
//
// A Token is built to be hard to leak: String, GoString, Format (every
// verb), MarshalText, MarshalJSON and LogValue all produce the redacted form
// (service, type, environment and id, such as "sk_live_4XkT2mZpQa9B…"),
// never a secret character. Reveal is the only way to get the full key.
// The zero Token is empty and reveals "".
//
// The plaintext is not held in a string field: a Token refers to the key's
// bytes through an unsafe.Pointer, so that printers that reflect into
// values instead of calling methods (fmt on a Token inside an unexported
// struct field, slog's text handler on such a struct, go-spew, …) print an
// address, never key characters. For the same reason a Token cannot be
// compared with == (it does not compile: two Tokens with the same key may
// lie at different addresses) and reflect.DeepEqual compares where the
// keys lie, not what they hold: use Equal, which go-cmp also uses.
type Token struct {
	_    [0]func()      // not comparable: == would compare identity
	p    unsafe.Pointer // first byte of the key; nil for the zero Token
	n    uint8          // length of the key
	body uint8          // offset of the body (id) in the key
	svc  uint8          // length of the service tag, 0 if none
	typ  Type
	env  Environment
}

// key returns the plaintext key.
func (t Token) key() string { return unsafe.String((*byte)(t.p), int(t.n)) }

// IsZero reports whether t is the zero Token.
func (t Token) IsZero() bool { return t.n == 0 }

// Service returns the service tag, or "" if the key has none.
func (t Token) Service() string { return t.key()[:t.svc] }

// Type returns the key type.
func (t Token) Type() Type { return t.typ }

// Environment returns the key environment.
func (t Token) Environment() Environment { return t.env }

// ID returns the key's public identifier (12 characters), the primary key of
// its record in a Store.
func (t Token) ID() string {
	if t.n == 0 {
		return ""
	}
	return t.key()[t.body : int(t.body)+IDLen]
}

// Reveal returns the full plaintext key. Show it to its owner once; never
// log or store it.
func (t Token) Reveal() string { return t.key() }

// Equal reports whether t and u hold the same key, in time independent of
// where they differ.
func (t Token) Equal(u Token) bool {
	a, b := t.key(), u.key()
	if len(a) != len(b) {
		return false
	}
	var d byte
	for i := range len(a) {
		d |= a[i] ^ b[i]
	}
	return d == 0
}

// String returns the redacted form of the key, such as "sk_live_4XkT2mZpQa9B…".
func (t Token) String() string {
	if t.n == 0 {
		return ""
	}
	return t.key()[:int(t.body)+IDLen] + "…"
}

// GoString returns a Go-syntax-like form holding only the redacted key.
func (t Token) GoString() string { return "apikey.Token(" + strconv.Quote(t.String()) + ")" }

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s, %q,
// %x, …) formats the redacted form.
func (t Token) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, t.GoString())
		return
	}
	switch verb {
	case 'x', 'X':
		// Hex of the redacted form, without going through fmt.
		s := hex.EncodeToString([]byte(t.String()))
		if verb == 'X' {
			s = upperHex(s)
		}
		io.WriteString(f, s)
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), t.String())
}

func upperHex(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// MarshalText returns the redacted form. There is deliberately no
// UnmarshalText: a Token cannot be restored from its redaction.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// MarshalJSON returns the redacted form as a JSON string.
func (t Token) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// LogValue implements slog.LogValuer with the redacted form.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Redact returns a form of s that is safe to log: for a well-formed key of any
// Format (any service tag, with or without the live label) the redacted form
// "sk_live_<id>…"; for anything else "[redacted]", which reveals nothing.
func Redact(s string) string {
	var p parsed
	if parseShapeTo(s, &p) != nil || !checksumOK(s) {
		return "[redacted]"
	}
	return p.key[:int(p.body)+IDLen] + "…"
}
