package apikey

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Token is a complete plaintext key, as returned once by Generate or
// Manager.Create, or as presented by a client and parsed.
//
// A Token is built to be hard to leak: String, GoString, Format (every
// verb), MarshalText, MarshalJSON and LogValue all produce the redacted form
// (service, type, environment and id, such as "sk_live_4XkT2mZpQa9B…"),
// never a secret character. Reveal is the only way to get the full key.
// The zero Token is empty and reveals "".
type Token struct {
	key  string
	body uint8 // offset of the body (id) in key
	svc  uint8 // length of the service tag, 0 if none
	typ  Type
	env  Environment
}

// IsZero reports whether t is the zero Token.
func (t Token) IsZero() bool { return t.key == "" }

// Service returns the service tag, or "" if the key has none.
func (t Token) Service() string { return t.key[:t.svc] }

// Type returns the key type.
func (t Token) Type() Type { return t.typ }

// Environment returns the key environment.
func (t Token) Environment() Environment { return t.env }

// ID returns the key's public identifier (12 characters), the primary key of
// its record in a Store.
func (t Token) ID() string {
	if t.key == "" {
		return ""
	}
	return t.key[t.body : int(t.body)+IDLen]
}

// Reveal returns the full plaintext key. Show it to its owner once; never
// log or store it.
func (t Token) Reveal() string { return t.key }

// String returns the redacted form of the key, such as "sk_live_4XkT2mZpQa9B…".
func (t Token) String() string {
	if t.key == "" {
		return ""
	}
	return t.key[:int(t.body)+IDLen] + "…"
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
	p, err := parseParts(s)
	if err != nil {
		return "[redacted]"
	}
	return p.Token.String()
}
