package idempotency_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/idempotency"
)

func TestParseKey(t *testing.T) {
	long := strings.Repeat("a", idempotency.MaxKeyLen)
	tests := []struct {
		in   string
		want string // "" means an error
	}{
		{"abc", "abc"},
		{`"abc"`, "abc"},
		{"8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"},
		{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`, "8e03978e-40d5-43e8-bc93-6894a57f9324"},
		{"!~", "!~"},
		{`a"b`, `a"b`},    // bare: any visible character after the first
		{`a\b`, `a\b`},    // bare backslash
		{`"a\"b"`, `a"b`}, // escaped quote
		{`"a\\b"`, `a\b`}, // escaped backslash
		{`"\\"`, `\`},     // only an escape
		{long, long},      // 255
		{`"` + long + `"`, long},
		{"", ""},
		{`""`, ""},
		{`"`, ""},
		{`"abc`, ""},
		{`"abc"x`, ""},
		{`"abc";a=1`, ""}, // parameters
		{`"a b"`, ""},     // a space is a string's, not a key's
		{"a b", ""},
		{"a\tb", ""},
		{"ab\x7f", ""},
		{"é", ""},
		{`"é"`, ""},
		{`"a\b"`, ""}, // escapes only " and \
		{`"a\"`, ""},
		{long + "a", ""},
		{`"` + long + `a"`, ""},
		{`"` + strings.Repeat(`\\`, 256) + `"`, ""},
		{`"` + strings.Repeat(`\\`, 255) + `"`, strings.Repeat(`\`, 255)},
	}
	for _, tt := range tests {
		got, err := idempotency.ParseKey(tt.in)
		if tt.want == "" {
			if err == nil || !errors.Is(err, idempotency.ErrInvalidKey) {
				t.Errorf("ParseKey(%q) = %q, %v; want an error wrapping ErrInvalidKey", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseKey(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestParseKeyErrorHidesValue checks that no error repeats the value,
// which a confused client may have filled with a secret.
func TestParseKeyErrorHidesValue(t *testing.T) {
	for _, in := range []string{"sk_live_secret value", `"sk_live_secret`, `"sk_live_secret";p=1`, strings.Repeat("sk_live_secret", 30)} {
		_, err := idempotency.ParseKey(in)
		if err == nil {
			t.Fatalf("ParseKey(%q): no error", in)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseKey(%q) error %q repeats the value", in, err)
		}
		if !strings.HasPrefix(err.Error(), "idempotency: ") {
			t.Errorf("ParseKey(%q) error %q lacks the package prefix", in, err)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"abc", `"abc"`, `"a\"b"`, `"a\\"`, `"`, `""`, `"a";b`, "a b", strings.Repeat("x", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		k, err := idempotency.ParseKey(in)
		if err != nil {
			if !errors.Is(err, idempotency.ErrInvalidKey) {
				t.Fatalf("ParseKey(%q): error %v does not wrap ErrInvalidKey", in, err)
			}
			return
		}
		if len(k) == 0 || len(k) > idempotency.MaxKeyLen {
			t.Fatalf("ParseKey(%q) = %q: length %d", in, k, len(k))
		}
		for i := 0; i < len(k); i++ {
			if k[i] < 0x21 || k[i] > 0x7e {
				t.Fatalf("ParseKey(%q) = %q: byte %#x is not visible ASCII", in, k, k[i])
			}
		}
		// The key, bare if it can be and as a string always, names itself.
		quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k) + `"`
		forms := []string{quoted}
		if k[0] != '"' {
			forms = append(forms, k)
		}
		for _, form := range forms {
			if k2, err := idempotency.ParseKey(form); err != nil || k2 != k {
				t.Fatalf("ParseKey(%q) = %q, %v; want %q (the key of %q)", form, k2, err, k, in)
			}
		}
	})
}
