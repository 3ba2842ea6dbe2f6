package apikey

import (
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	formats := []Format{{}, {Service: "acme"}, {OmitLiveLabel: true}}
	r := seeded(1)
	for _, fm := range formats {
		for _, typ := range []Type{SecretKey, PublishableKey} {
			for _, env := range []Environment{Live, Test} {
				tok, _ := fm.Generate(r, typ, env)
				f.Add(tok.Reveal(), uint8(0), uint8(0))
			}
		}
	}
	f.Add("", uint8(0), uint8(0))
	f.Add("sk_live_", uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, s string, pos, delta uint8) {
		// Arbitrary input: never panics, errors are well-formed.
		for _, fm := range formats {
			tok, err := fm.Parse(s)
			if err != nil {
				var fe *FormatError
				if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("Parse error %v is not a *FormatError", err)
				}
				continue
			}
			if tok.Reveal() != s || Redact(s) != tok.String() {
				t.Fatalf("Parse(%v) does not round-trip", tok)
			}
		}
		_ = Redact(s)

		// Generated keys round-trip, and every single-character change is rejected.
		fm := formats[int(pos)%len(formats)]
		typ, env := Type(1+delta%2), Environment(1+(delta/2)%2)
		tok, err := fm.Generate(seeded(delta), typ, env)
		if err != nil {
			t.Fatal(err)
		}
		key := tok.Reveal()
		got, err := fm.Parse(key)
		if err != nil || !got.Equal(tok) || got.Type() != typ || got.Environment() != env || got.Service() != fm.Service {
			t.Fatalf("generated key %v does not parse back: %v", tok, err)
		}
		i := int(pos) % len(key)
		c := key[i] + 1 + delta%254 // any other byte
		if c == key[i] {
			c++
		}
		mutated := key[:i] + string([]byte{c}) + key[i+1:]
		if _, err := fm.Parse(mutated); err == nil {
			t.Fatalf("key %v with byte %d changed still parses", tok, i)
		}
	})
}
