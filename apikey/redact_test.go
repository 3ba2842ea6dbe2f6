package apikey

import (
	"strings"
	"testing"
)

func TestRedactAll(t *testing.T) {
	keys := allForms(t, testFormats...)
	sk, acme := keys[0], keys[4]
	bad := sk[:len(sk)-1] + string(rune(sk[len(sk)-1])^1)
	red := func(k string) string { return Redact(k) }
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"no key", "GET /v1/me 200 req_4f3c2b1a9d8e7f6a5b4c3d2e1f0a9b8c", "GET /v1/me 200 req_4f3c2b1a9d8e7f6a5b4c3d2e1f0a9b8c"},
		{"Stripe key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
		{"key", sk, red(sk)},
		{"in a path", "/v1/keys/" + sk + "/roll", "/v1/keys/" + red(sk) + "/roll"},
		{"in a query", "?a=1&key=" + acme + "&b=2", "?a=1&key=" + red(acme) + "&b=2"},
		{"two", sk + "," + acme, red(sk) + "," + red(acme)},
		{"bad checksum", "x=" + bad, "x=[redacted]"},
		{"glued", "req_" + sk + "_x", "[redacted]"},
		{"glued to letters", "xx" + sk, "[redacted]"},
		{"cut short", sk[:len(sk)-6], "[redacted]"},
		{"every form", strings.Join(keys, " "), func() string {
			var r []string
			for _, k := range keys {
				r = append(r, Redact(k))
			}
			return strings.Join(r, " ")
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedactAll(tt.in)
			if got != tt.want {
				t.Errorf("RedactAll = %q, want %q", Redact(got), Redact(tt.want)) // never the input
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { RedactAll("GET /v1/monitors?limit=10 sk_live_short pk_ 200") }); n != 0 {
		t.Errorf("RedactAll allocates %v times on text without keys", n)
	}
}

// FuzzRedactAll: wherever a key is put in a text, it does not survive (nor
// its secret), and text without "k_" is unchanged.
func FuzzRedactAll(f *testing.F) {
	keys := allForms(f, testFormats...)
	f.Add(strings.Join(keys, "/"), uint8(0))
	f.Add("xsk_live_"+keys[0][8:]+"?a=b", uint8(3))
	f.Fuzz(func(t *testing.T, s string, pos uint8) {
		// Plant a key somewhere in s.
		key := keys[int(pos)%len(keys)]
		i := int(pos) % (len(s) + 1)
		in := s[:i] + key + s[i:]
		out := RedactAll(in)
		// (The text may hold the secret on its own, which is not
		// shaped like a key: only the planted copy must go.)
		if secret := key[len(key)-38 : len(key)-6]; strings.Count(out, secret) > strings.Count(s, secret) {
			t.Fatalf("the secret of a key survives RedactAll")
		}
		if !strings.Contains(s, "k_") && RedactAll(s) != s {
			t.Fatalf("text without k_ was changed")
		}
		if RedactAll(out) != out {
			t.Fatalf("RedactAll is not idempotent")
		}
	})
}
