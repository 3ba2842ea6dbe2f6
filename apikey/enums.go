package apikey

import "fmt"

// Type is the kind of a key. The zero Type is invalid.
type Type uint8

// Key types.
const (
	// SecretKey ("sk") is for server-side use and may be granted write access.
	SecretKey Type = iota + 1
	// PublishableKey ("pk") may ship inside apps and web pages; it is
	// always read-only, whatever its record says.
	PublishableKey
)

// Valid reports whether t is SecretKey or PublishableKey.
func (t Type) Valid() bool { return t == SecretKey || t == PublishableKey }

// String returns "secret" or "publishable" (or "Type(n)" for an invalid value).
func (t Type) String() string {
	switch t {
	case SecretKey:
		return "secret"
	case PublishableKey:
		return "publishable"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// prefix returns the label used in key strings: "sk" or "pk".
func (t Type) prefix() string {
	if t == PublishableKey {
		return "pk"
	}
	return "sk"
}

// MarshalText encodes t as "secret" or "publishable"; an invalid Type is an error.
func (t Type) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("apikey: invalid key type %d", uint8(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText decodes "secret" or "publishable".
func (t *Type) UnmarshalText(b []byte) error {
	switch string(b) {
	case "secret":
		*t = SecretKey
	case "publishable":
		*t = PublishableKey
	default:
		return fmt.Errorf("apikey: invalid key type %q (want secret or publishable)", b)
	}
	return nil
}

// Environment separates production keys from test keys. The zero
// Environment is invalid.
type Environment uint8

// Environments.
const (
	Live Environment = iota + 1 // production ("live")
	Test                        // testing and development ("test")
)

// Valid reports whether e is Live or Test.
func (e Environment) Valid() bool { return e == Live || e == Test }

// String returns "live" or "test" (or "Environment(n)" for an invalid value).
func (e Environment) String() string {
	switch e {
	case Live:
		return "live"
	case Test:
		return "test"
	}
	return fmt.Sprintf("Environment(%d)", uint8(e))
}

// MarshalText encodes e as "live" or "test"; an invalid Environment is an error.
func (e Environment) MarshalText() ([]byte, error) {
	if !e.Valid() {
		return nil, fmt.Errorf("apikey: invalid environment %d", uint8(e))
	}
	return []byte(e.String()), nil
}

// UnmarshalText decodes "live" or "test".
func (e *Environment) UnmarshalText(b []byte) error {
	switch string(b) {
	case "live":
		*e = Live
	case "test":
		*e = Test
	default:
		return fmt.Errorf("apikey: invalid environment %q (want live or test)", b)
	}
	return nil
}

// Permission is what a key may do. The zero value, ReadOnly, is the least
// privilege.
type Permission uint8

// Permissions.
const (
	ReadOnly  Permission = iota // safe methods only (GET, HEAD, OPTIONS)
	ReadWrite                   // every method
)

// Valid reports whether p is ReadOnly or ReadWrite.
func (p Permission) Valid() bool { return p == ReadOnly || p == ReadWrite }

// String returns "read_only" or "read_write" (or "Permission(n)" for an invalid value).
func (p Permission) String() string {
	switch p {
	case ReadOnly:
		return "read_only"
	case ReadWrite:
		return "read_write"
	}
	return fmt.Sprintf("Permission(%d)", uint8(p))
}

// MarshalText encodes p as "read_only" or "read_write"; an invalid Permission is an error.
func (p Permission) MarshalText() ([]byte, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("apikey: invalid permission %d", uint8(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText decodes "read_only" or "read_write".
func (p *Permission) UnmarshalText(b []byte) error {
	switch string(b) {
	case "read_only":
		*p = ReadOnly
	case "read_write":
		*p = ReadWrite
	default:
		return fmt.Errorf("apikey: invalid permission %q (want read_only or read_write)", b)
	}
	return nil
}
