package apikey

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// allForms returns one key of every form the formats can produce.
func allForms(t testing.TB, formats ...Format) []string {
	t.Helper()
	r := seeded(7)
	var keys []string
	for _, f := range formats {
		for _, typ := range []Type{SecretKey, PublishableKey} {
			for _, env := range []Environment{Live, Test} {
				tok, err := f.Generate(r, typ, env)
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, tok.Reveal())
			}
		}
	}
	return keys
}

var testFormats = []Format{{}, {Service: "acme"}, {OmitLiveLabel: true}, {Service: "a1", OmitLiveLabel: true}}

func TestPatternMatchesEveryForm(t *testing.T) {
	any := regexp.MustCompile(Pattern)
	for _, f := range testFormats {
		own := regexp.MustCompile(`^` + f.Pattern() + `$`)
		for _, key := range allForms(t, f) {
			if !any.MatchString(key) {
				t.Errorf("Pattern does not match %s", Redact(key))
			}
			if !own.MatchString(key) {
				t.Errorf("%+v.Pattern() does not match %s", f, Redact(key))
			}
		}
		// A format's own pattern matches no key another format produces
		// and f cannot parse.
		for _, g := range testFormats {
			for _, key := range allForms(t, g) {
				_, err := f.Parse(key)
				if own.MatchString(key) != (err == nil) {
					t.Errorf("%+v.Pattern() matches %s: %v; Parse: %v", f, Redact(key), own.MatchString(key), err)
				}
			}
		}
	}
}

func TestFindAll(t *testing.T) {
	keys := allForms(t, testFormats...)
	sk, acme := keys[0], keys[4]
	bad := sk[:len(sk)-1] + string(rune(sk[len(sk)-1])^1) // checksum broken
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"empty", "", nil},
		{"bare", sk, []string{sk}},
		{"env file", "GATEKEY_KEY=" + sk + "\nOTHER=1\n", []string{sk}},
		{"json", `{"key":"` + sk + `","acme":"` + acme + `"}`, []string{sk, acme}},
		{"yaml", "api:\n  key: '" + acme + "'\n", []string{acme}},
		{"curl", "curl -H 'Authorization: Bearer " + sk + "' https://api.example.com/v1/me", []string{sk}},
		{"url", "https://api.example.com/v1/me?key=" + sk + "&x=1", []string{sk}},
		{"non-ASCII around", "«" + sk + "»", []string{sk}},
		{"bad checksum", bad, nil},
		{"glued to a word", "x" + sk, nil},
		{"glued after", sk + "_1", nil},
		{"longer body", sk + "A", nil},
		{"shorter body", sk[:len(sk)-1], nil},
		{"stripe shaped", "sk_live_4eC39HqLyjWDarjtT1zdp7dc sk_test_51H" + strings.Repeat("a", 96), nil},
		{"every form", strings.Join(keys, " "), keys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, tok := range FindAll(tt.text) {
				got = append(got, tok.Reveal())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FindAll: %d keys, want %d", len(got), len(tt.want)) // no diff: it would print keys
			}
		})
	}
}

func TestFormatFindAll(t *testing.T) {
	keys := allForms(t, testFormats...)
	text := strings.Join(keys, "\n")
	for _, f := range testFormats {
		var want, got []string
		for _, k := range keys {
			if _, err := f.Parse(k); err == nil {
				want = append(want, k)
			}
		}
		for _, tok := range f.FindAll(text) {
			got = append(got, tok.Reveal())
		}
		if !slices.Equal(got, want) || len(want) < 4 {
			t.Errorf("%+v.FindAll found %d keys, want %d", f, len(got), len(want))
		}
	}
}

func TestFindAllNoKeyDoesNotAllocate(t *testing.T) {
	text := strings.Repeat("sk_live_"+strings.Repeat("a", 50)+" nothing to see here; ", 20)
	if n := testing.AllocsPerRun(100, func() { FindAll(text) }); n != 0 {
		t.Errorf("FindAll allocates %v times on a text without keys", n)
	}
}

// FuzzFindAll checks FindAll against its specification: the matches of
// Pattern whose checksum is valid.
func FuzzFindAll(f *testing.F) {
	keys := allForms(f, testFormats...)
	f.Add(strings.Join(keys, " "))
	f.Add("x" + keys[0] + "_" + keys[1] + "«" + keys[2])
	f.Add("sk_live_" + strings.Repeat("0", 50))
	re := regexp.MustCompile(Pattern)
	f.Fuzz(func(t *testing.T, s string) {
		var want, got []string
		for _, m := range re.FindAllString(s, -1) {
			if checksumOK(m) {
				want = append(want, m)
			}
		}
		for _, tok := range FindAll(s) {
			got = append(got, tok.Reveal())
		}
		if !slices.Equal(got, want) {
			t.Fatalf("FindAll found %d keys, the pattern %d", len(got), len(want))
		}
	})
}

// BenchmarkFindAll scans 64 KiB of configuration-like text, with no key
// and with one key in every KiB, beside the regular expression a scanner
// would run (which does not check checksums).
func BenchmarkFindAll(b *testing.B) {
	tok, _ := Format{}.Generate(seeded(3), SecretKey, Live)
	line := "GATEKEY_API_KEY=sk_live_not_a_key_at_all DEBUG=true url=https://api.example.com/v1/me?x=1\n"
	clean := strings.Repeat(line, 64<<10/len(line))
	var keyed strings.Builder
	for keyed.Len() < len(clean) {
		keyed.WriteString(strings.Repeat(line, 10) + "KEY=" + tok.Reveal() + "\n")
	}
	re := regexp.MustCompile(Pattern)
	for _, text := range []struct{ name, s string }{{"no-key", clean}, {"key-per-KiB", keyed.String()}} {
		b.Run("FindAll/"+text.name, func(b *testing.B) {
			b.SetBytes(int64(len(text.s)))
			b.ReportAllocs()
			for b.Loop() {
				FindAll(text.s)
			}
		})
		b.Run("regexp/"+text.name, func(b *testing.B) {
			b.SetBytes(int64(len(text.s)))
			b.ReportAllocs()
			for b.Loop() {
				re.FindAllStringIndex(text.s, -1)
			}
		})
	}
}

func TestPatternOfInvalidFormat(t *testing.T) {
	keys := allForms(t, testFormats...)
	for _, svc := range []string{"ACME", "a_b", "1ab", strings.Repeat("a", 21)} {
		re := regexp.MustCompile(Format{Service: svc}.Pattern())
		for _, k := range append(keys, "", "x", svc+"_sk_live_"+keys[0][len("sk_live_"):]) {
			if re.MatchString(k) {
				t.Errorf("the pattern of invalid service %q matches a string", svc)
			}
		}
	}
}
