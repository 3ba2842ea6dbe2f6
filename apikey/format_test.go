package apikey

import (
	"errors"
	"hash/crc32"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGenerateParseRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		f      Format
		typ    Type
		env    Environment
		prefix string
	}{
		{Format{}, SecretKey, Live, "sk_live_"},
		{Format{}, SecretKey, Test, "sk_test_"},
		{Format{}, PublishableKey, Live, "pk_live_"},
		{Format{}, PublishableKey, Test, "pk_test_"},
		{Format{Service: "acme"}, SecretKey, Test, "acme_sk_test_"},
		{Format{Service: "acme"}, PublishableKey, Live, "acme_pk_live_"},
		{Format{OmitLiveLabel: true}, SecretKey, Live, "sk_"},
		{Format{OmitLiveLabel: true}, SecretKey, Test, "sk_test_"},
		{Format{Service: "a1234567890123456789", OmitLiveLabel: true}, PublishableKey, Live, "a1234567890123456789_pk_"},
	} {
		tok, err := tc.f.Generate(seeded(7), tc.typ, tc.env)
		if err != nil {
			t.Fatalf("%+v.Generate(%v, %v) = %v", tc.f, tc.typ, tc.env, err)
		}
		s := tok.Reveal()
		if !strings.HasPrefix(s, tc.prefix) || len(s) != len(tc.prefix)+BodyLen {
			t.Errorf("%+v.Generate(%v, %v) = %v, want prefix %q and a %d-character body", tc.f, tc.typ, tc.env, tok, tc.prefix, BodyLen)
		}
		got, err := tc.f.Parse(s)
		if err != nil {
			t.Fatalf("Parse(%v) = %v", tok, err)
		}
		if !got.Equal(tok) {
			t.Errorf("Parse(%v) = %#v, want %#v", tok, got, tok)
		}
		if got.Service() != tc.f.Service || got.Type() != tc.typ || got.Environment() != tc.env || got.ID() != s[len(tc.prefix):len(tc.prefix)+IDLen] {
			t.Errorf("Parse(%v) parts = %q %v %v %q", tok, got.Service(), got.Type(), got.Environment(), got.ID())
		}
		// The checksum is the CRC-32 of everything before it, written in
		// base62, big-endian, 6 digits.
		var v uint64
		for _, c := range []byte(s[len(s)-ChecksumLen:]) {
			v = v*62 + uint64(strings.IndexByte(alphabet, c))
		}
		if want := crc32.ChecksumIEEE([]byte(s[:len(s)-ChecksumLen])); v != uint64(want) {
			t.Errorf("checksum of %v = %d, want crc32 %d", tok, v, want)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, tc := range []struct {
		f   Format
		typ Type
		env Environment
	}{
		{Format{Service: "Acme"}, SecretKey, Live},
		{Format{Service: "1acme"}, SecretKey, Live},
		{Format{Service: "ac_me"}, SecretKey, Live},
		{Format{Service: strings.Repeat("a", 21)}, SecretKey, Live},
		{Format{}, 0, Live},
		{Format{}, 3, Live},
		{Format{}, SecretKey, 0},
	} {
		if tok, err := tc.f.Generate(nil, tc.typ, tc.env); err == nil {
			t.Errorf("%+v.Generate(%d, %d) = %v, want an error", tc.f, tc.typ, tc.env, tok)
		}
	}
	if _, err := (Format{}).Generate(strings.NewReader("short"), SecretKey, Live); err == nil {
		t.Errorf("Generate with an exhausted reader succeeded")
	}
}

func TestChecksumEncoding(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want string
	}{
		{0, "000000"}, {61, "00000z"}, {62, "000010"}, {math.MaxUint32, "4gfFC3"},
	} {
		if got := string(appendChecksum(nil, tc.in)); got != tc.want {
			t.Errorf("appendChecksum(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, s := range []string{"", "a", "sk_live_0123", strings.Repeat("xyz", 40)} {
		if got, want := crc32String(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Errorf("crc32String(%q) = %d, want %d", s, got, want)
		}
	}
}

// withChecksum replaces the last 6 characters of s with a valid checksum.
func withChecksum(s string) string {
	s = s[:len(s)-ChecksumLen]
	return string(appendChecksum([]byte(s), crc32String(s)))
}

func TestParseErrors(t *testing.T) {
	good, _ := Format{}.Generate(seeded(3), SecretKey, Live)
	body := good.Reveal()[len("sk_live_"):]
	for _, tc := range []struct {
		name string
		f    Format
		in   string
		want FormatField
	}{
		{"empty", Format{}, "", FieldLength},
		{"short body", Format{}, "sk_live_" + body[1:], FieldLength},
		{"long body", Format{}, "sk_live_0" + body, FieldLength},
		{"huge", Format{}, strings.Repeat("a", 10000), FieldLength},
		{"no prefix", Format{}, body, FieldLength},
		{"bad type", Format{}, withChecksum("xk_live_" + body), FieldType},
		{"no type", Format{}, withChecksum("live_" + body), FieldType},
		{"bad env", Format{}, withChecksum("sk_prod_" + body), FieldEnv},
		{"missing live label", Format{}, withChecksum("sk_" + body), FieldEnv},
		{"live label not wanted", Format{OmitLiveLabel: true}, good.Reveal(), FieldEnv},
		{"unexpected service", Format{}, withChecksum("acme_sk_live_" + body), FieldService},
		{"missing service", Format{Service: "acme"}, good.Reveal(), FieldService},
		{"other service", Format{Service: "acme"}, withChecksum("acne_sk_live_" + body), FieldService},
		{"bad service", Format{}, withChecksum("Acme_sk_live_" + body), FieldService},
		{"empty service", Format{}, withChecksum("_sk_live_" + body), FieldService},
		{"bad char", Format{}, "sk_live_" + body[:20] + "-" + body[21:], FieldAlphabet},
		{"underscore in body", Format{}, "sk_live_" + body[:20] + "_" + body[21:], FieldAlphabet},
		{"non-ascii", Format{}, "sk_live_" + body[:20] + "é" + body[22:], FieldAlphabet},
		{"checksum", Format{}, "sk_live_" + body[:49] + string(body[49]^1), FieldChecksum},
		{"other type same body", Format{}, "pk_live_" + body, FieldChecksum},
		{"other env same body", Format{}, "sk_test_" + body, FieldChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.f.Parse(tc.in)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse = %v, want a *FormatError", err)
			}
			if fe.Field != tc.want {
				t.Errorf("Parse error field = %v, want %v", fe.Field, tc.want)
			}
			if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Parse error %v does not match ErrMalformed and ErrInvalidKey", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "apikey: malformed key: ") || strings.Contains(msg, body[IDLen:IDLen+4]) {
				t.Errorf("Parse error message %q is not a fixed description", msg)
			}
		})
	}
}

// TestErrorMessagesRevealNoSecret checks that no error message contains any
// character of the secret part (every message is built from fixed text).
func TestErrorMessagesRevealNoSecret(t *testing.T) {
	for f := FieldLength; f <= FieldChecksum; f++ {
		msg := (&FormatError{Field: f}).Error()
		rest := strings.TrimPrefix(msg, "apikey: malformed key: ")
		if rest == msg || f.String() == "unknown" {
			t.Errorf("FormatError{%d} = %q", f, msg)
		}
	}
	// Only fixed errors are ever returned, so nothing from the input can appear.
	for _, in := range []string{"sk_live_" + strings.Repeat("Q", 50), "Q", "sk_live_" + strings.Repeat("Q", 49) + "$"} {
		_, err := Parse(in)
		if strings.Contains(err.Error(), "Q") {
			t.Errorf("Parse error %q contains input characters", err)
		}
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	tok, _ := Format{Service: "acme"}.Generate(seeded(1), SecretKey, Test)
	s := tok.Reveal()
	f := Format{Service: "acme"}
	if n := testing.AllocsPerRun(100, func() { f.Parse(s) }); n != 0 {
		t.Errorf("Parse of a valid key: %v allocs, want 0", n)
	}
	bad := s[:len(s)-1] + "!"
	if n := testing.AllocsPerRun(100, func() { f.Parse(bad) }); n != 0 {
		t.Errorf("Parse of a malformed key: %v allocs, want 0", n)
	}
}

// TestGenerateUniform is a chi-square test of the character distribution of
// generated ids and secrets (61 degrees of freedom).
func TestGenerateUniform(t *testing.T) {
	const n = 20000
	var counts [62]int
	r := seeded(42)
	for range n {
		tok, err := Format{}.Generate(r, SecretKey, Live)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []byte(tok.Reveal()[len("sk_live_") : len("sk_live_")+IDLen+SecretLen]) {
			counts[strings.IndexByte(alphabet, c)]++
		}
	}
	expected := float64(n*(IDLen+SecretLen)) / 62
	var chi2 float64
	for _, c := range counts {
		d := float64(c) - expected
		chi2 += d * d / expected
	}
	// P(chi2 > 100) ≈ 0.0012 for 61 degrees of freedom; the seed is fixed,
	// so the test is deterministic, and a modulo bias (bytes 248-255 folded
	// onto 0-7) would give a chi2 in the thousands.
	if chi2 > 100 {
		t.Errorf("chi-square = %.1f over 61 degrees of freedom; the distribution is not uniform: %v", chi2, counts)
	}
	// The same test must catch a biased generator.
	var biased [62]int
	r2 := seeded(42)
	var buf [1]byte
	for range n * (IDLen + SecretLen) {
		r2.Read(buf[:])
		biased[buf[0]%62]++
	}
	chi2 = 0
	for _, c := range biased {
		d := float64(c) - expected
		chi2 += d * d / expected
	}
	if chi2 <= 100 {
		t.Errorf("chi-square of a modulo-biased generator = %.1f; the test has no power", chi2)
	}
}

// TestGenerateRandomness: Generate draws every id and secret from its
// Reader (the same seed gives the same keys), and by default from
// crypto/rand (a thousand ids are all distinct: a generator that ignored
// its source, or reused one, would repeat). The distribution of the
// characters is TestGenerateUniform's.
func TestGenerateRandomness(t *testing.T) {
	a, b := seeded(42), seeded(42)
	for range 50 {
		x, err := Format{}.Generate(a, SecretKey, Live)
		if err != nil {
			t.Fatal(err)
		}
		y, _ := Format{}.Generate(b, SecretKey, Live)
		if !x.Equal(y) {
			t.Fatalf("two Readers with one seed gave different keys %v and %v", x, y)
		}
	}
	seen := make(map[string]bool)
	for range 1000 {
		tok, err := Format{}.Generate(nil, SecretKey, Live)
		if err != nil {
			t.Fatal(err)
		}
		if seen[tok.ID()] {
			t.Fatalf("crypto/rand gave the id %s twice in %d keys", tok.ID(), len(seen))
		}
		seen[tok.ID()] = true
	}
}

func TestEnumText(t *testing.T) {
	type texter interface{ MarshalText() ([]byte, error) }
	for _, tc := range []struct {
		v    texter
		want string
	}{
		{SecretKey, "secret"}, {PublishableKey, "publishable"},
		{Live, "live"}, {Test, "test"},
		{ReadOnly, "read_only"}, {ReadWrite, "read_write"},
	} {
		b, err := tc.v.MarshalText()
		if err != nil || string(b) != tc.want {
			t.Errorf("%v.MarshalText() = %q, %v; want %q", tc.v, b, err, tc.want)
		}
	}
	var (
		ty  Type
		env Environment
		p   Permission = ReadWrite
	)
	if ty.UnmarshalText([]byte("publishable")); ty != PublishableKey {
		t.Errorf("Type.UnmarshalText(publishable) = %v", ty)
	}
	if env.UnmarshalText([]byte("test")); env != Test {
		t.Errorf("Environment.UnmarshalText(test) = %v", env)
	}
	if p.UnmarshalText([]byte("read_only")); p != ReadOnly {
		t.Errorf("Permission.UnmarshalText(read_only) = %v", p)
	}
	for _, err := range []error{ty.UnmarshalText([]byte("sk")), env.UnmarshalText([]byte("prod")), p.UnmarshalText([]byte("admin"))} {
		if err == nil {
			t.Errorf("UnmarshalText of a bad value succeeded")
		}
	}
	for _, v := range []texter{Type(0), Environment(0), Permission(9)} {
		if _, err := v.MarshalText(); err == nil {
			t.Errorf("MarshalText of invalid %v succeeded", v)
		}
	}
	if diff := cmp.Diff([]string{"Type(0)", "Environment(0)", "read_only"}, []string{Type(0).String(), Environment(0).String(), Permission(0).String()}); diff != "" {
		t.Errorf("zero values (-want +got):\n%s", diff)
	}
}
