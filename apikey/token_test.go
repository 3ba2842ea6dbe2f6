package apikey

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTokenRedaction(t *testing.T) {
	tok, err := Format{Service: "acme"}.Generate(seeded(9), SecretKey, Test)
	if err != nil {
		t.Fatal(err)
	}
	full := tok.Reveal()
	secret := full[len(full)-SecretLen-ChecksumLen : len(full)-ChecksumLen]
	want := "acme_sk_test_" + tok.ID() + "…"
	if got := tok.String(); got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	type wrapper struct {
		Key Token `json:"key"`
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("issued", "key", tok)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("issued", "key", tok, "w", wrapper{tok})
	js, _ := json.Marshal(wrapper{tok})
	txt, _ := tok.MarshalText()
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", tok), "%+v": fmt.Sprintf("%+v", tok), "%#v": fmt.Sprintf("%#v", tok),
		"%s": fmt.Sprintf("%s", tok), "%q": fmt.Sprintf("%q", tok), "%x": fmt.Sprintf("%x", tok),
		"%X": fmt.Sprintf("%X", tok), "%d": fmt.Sprintf("%d", tok), "%20s": fmt.Sprintf("%20s", tok),
		"struct %v": fmt.Sprintf("%v", wrapper{tok}), "struct %+v": fmt.Sprintf("%+v", wrapper{tok}),
		"struct %#v": fmt.Sprintf("%#v", wrapper{tok}), "pointer %v": fmt.Sprintf("%v", &tok),
		"slice %v": fmt.Sprint([]Token{tok}), "Println": fmt.Sprintln(tok), "GoString": tok.GoString(),
		"json": string(js), "text": string(txt), "slog": logBuf.String(),
		"error %w": fmt.Errorf("bad %w %v", fmt.Errorf("x"), tok).Error(),
	}
	for name, out := range outputs {
		// Any 8 consecutive secret characters would be a leak (a shorter run
		// can occur by chance in the id).
		for i := 0; i+8 <= len(secret); i++ {
			if strings.Contains(out, secret[i:i+8]) {
				t.Errorf("%s output leaks secret characters", name)
				break
			}
		}
		if name != "%x" && name != "%X" && !strings.Contains(out, tok.ID()) {
			t.Errorf("%s output %q lacks the id", name, out)
		}
	}
	if got := fmt.Sprintf("%q", tok); got != `"`+want+`"` {
		t.Errorf("%%q = %s", got)
	}
	if got := fmt.Sprintf("%#v", tok); got != `apikey.Token("`+want+`")` {
		t.Errorf("%%#v = %s", got)
	}
	if string(js) != `{"key":"`+want+`"}` {
		t.Errorf("JSON = %s", js)
	}
	var zero Token
	if zero.String() != "" || zero.ID() != "" || !zero.IsZero() || zero.Reveal() != "" {
		t.Errorf("zero Token: %q %q", zero.String(), zero.ID())
	}
}

func TestRedact(t *testing.T) {
	sk, _ := Format{}.Generate(seeded(2), SecretKey, Live)
	pk, _ := Format{Service: "acme", OmitLiveLabel: true}.Generate(seeded(2), PublishableKey, Live)
	for _, tc := range []struct {
		name string
		in   string
		want string
	}{
		{"key", sk.Reveal(), sk.String()},
		{"other format", pk.Reveal(), pk.String()},
		{"bad checksum", sk.Reveal()[:len(sk.Reveal())-1] + "!", "[redacted]"},
		{"garbage", "hunter2", "[redacted]"},
		{"empty", "", "[redacted]"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%s) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A Token inside a struct that is printed by reflection (fmt reflects into
// unexported fields without calling their methods; slog's text handler
// formats structs with fmt) stays redacted at any depth.
func TestTokenRedactedInUnexportedField(t *testing.T) {
	tok, err := Format{}.Generate(seeded(42), SecretKey, Live)
	if err != nil {
		t.Fatal(err)
	}
	full := tok.Reveal()
	secret := full[len(full)-SecretLen-ChecksumLen : len(full)-ChecksumLen]
	type holder struct {
		name string
		tok  Token
		toks []Token
		ptr  *Token
		m    map[string]Token
		any  any
	}
	h := holder{"x", tok, []Token{tok}, &tok, map[string]Token{"k": tok}, tok}
	outer := struct{ h holder }{h}
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("x", "h", h)
	outputs := map[string]string{"slog text": logBuf.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		outputs[verb] = fmt.Sprintf(verb, h)
		outputs["nested "+verb] = fmt.Sprintf(verb, outer)
		outputs["pointer "+verb] = fmt.Sprintf(verb, &h)
	}
	hexSecret := fmt.Sprintf("%x", secret[:8])
	for name, out := range outputs {
		for i := 0; i+8 <= len(secret); i++ {
			if strings.Contains(out, secret[i:i+8]) {
				t.Errorf("%s of a struct holding a Token prints secret characters", name)
				break
			}
		}
		if strings.Contains(out, hexSecret) {
			t.Errorf("%s of a struct holding a Token prints the secret in hex", name)
		}
	}
}

// Equal compares content; == and reflect.DeepEqual compare identity.
func TestTokenEqual(t *testing.T) {
	a, _ := Format{}.Generate(seeded(1), SecretKey, Live)
	b, _ := Format{}.Generate(seeded(2), SecretKey, Live)
	copyA, err := Parse(string([]byte(a.Reveal()))) // same key, other memory
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := Parse(wrongSecret(a, 0)) // same id and labels, other secret
	for _, tc := range []struct {
		name string
		x, y Token
		want bool
	}{
		{"same", a, a, true},
		{"copy", a, copyA, true},
		{"other key", a, b, false},
		{"same id, other secret", a, forged, false},
		{"zero", Token{}, Token{}, true},
		{"zero and key", Token{}, a, false},
	} {
		if got := tc.x.Equal(tc.y); got != tc.want {
			t.Errorf("%s: Equal = %v, want %v", tc.name, got, tc.want)
		}
		if tc.want == false && reflect.DeepEqual(tc.x, tc.y) {
			t.Errorf("%s: DeepEqual reports different keys as equal", tc.name)
		}
		if got := cmp.Equal(tc.x, tc.y); got != tc.want {
			t.Errorf("%s: cmp.Equal = %v, want %v (it should use Equal)", tc.name, got, tc.want)
		}
	}
	// == would compare where the keys lie: it must not compile.
	if reflect.TypeFor[Token]().Comparable() {
		t.Error("Token is comparable")
	}
}
