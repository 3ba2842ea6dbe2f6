package scanrules

import (
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
)

// A form is one shape of key a Format produces.
type form struct {
	name   string
	format apikey.Format
	typ    apikey.Type
	env    apikey.Environment
}

// forms are every shape of gatekey key: with and without a service tag,
// both types, with the live label, the test label, and no label.
var forms = func() []form {
	var fs []form
	for _, svc := range []string{"", "acme"} {
		for _, typ := range []apikey.Type{apikey.SecretKey, apikey.PublishableKey} {
			prefix := typ.String()[:1] + "k_"
			if svc != "" {
				prefix = svc + "_" + prefix
			}
			fs = append(fs,
				form{prefix + "live", apikey.Format{Service: svc}, typ, apikey.Live},
				form{prefix + "test", apikey.Format{Service: svc}, typ, apikey.Test},
				form{prefix + "(no label)", apikey.Format{Service: svc, OmitLiveLabel: true}, typ, apikey.Live})
		}
	}
	return fs
}()

// A context is a way a key appears in a file.
type context struct {
	name string
	file string // file name, with its extension
	wrap func(key string) string
}

var contexts = []context{
	{"bare", "key.txt", func(k string) string { return k + "\n" }},
	{".env", ".env", func(k string) string { return "DEBUG=1\nGATEKEY_API_KEY=" + k + "\nPORT=8080\n" }},
	{"JSON", "config.json", func(k string) string { return `{"service": "billing", "api_key": "` + k + `", "retries": 3}` + "\n" }},
	{"YAML", "config.yaml", func(k string) string { return "api:\n  base: https://api.example.com\n  key: '" + k + "'\n" }},
	{"curl", "call.sh", func(k string) string {
		return "curl -sS -H 'Authorization: Bearer " + k + "' https://api.example.com/v1/me\n"
	}},
	{"URL", "links.md", func(k string) string { return "See <https://api.example.com/v1/me?api_key=" + k + "&format=json>.\n" }},
	{"Go source", "client.go", func(k string) string { return "package client\n\nconst apiKey = \"" + k + "\"\n" }},
}

// A nearMiss is a string that looks like a key but is not one.
type nearMiss struct {
	name string
	text string
	// checksum is set for strings whose only fault is the checksum, which
	// scanners that match a regular expression alone report.
	checksum bool
}

// corpus is the keys of every form and the near misses, written to files.
type corpus struct {
	dir    string
	keys   map[string]string // form name -> key
	files  map[string]cell   // file (relative, slash-separated) -> what it holds
	misses []nearMiss
}

// A cell is a file of the corpus: a key of a form in a context, or a near
// miss.
type cell struct {
	form, context string
	key           string // "" for a near miss
	miss          *nearMiss
}

func newCorpus(t *testing.T) *corpus {
	t.Helper()
	r := rand.NewChaCha8([32]byte{'s', 'c', 'a', 'n'})
	c := &corpus{dir: t.TempDir(), keys: map[string]string{}, files: map[string]cell{}}
	for _, f := range forms {
		tok, err := f.format.Generate(r, f.typ, f.env)
		if err != nil {
			t.Fatal(err)
		}
		c.keys[f.name] = tok.Reveal()
		for _, ctx := range contexts {
			name := filepath.ToSlash(filepath.Join(dirName(f.name), ctx.file))
			c.write(t, name, ctx.wrap(tok.Reveal()))
			c.files[name] = cell{form: f.name, context: ctx.name, key: tok.Reveal()}
		}
	}
	c.misses = nearMisses(c.keys["sk_live"], c.keys["acme_pk_test"], r)
	for i := range c.misses {
		m := &c.misses[i]
		name := "miss/" + dirName(m.name) + ".env"
		c.write(t, name, "GATEKEY_API_KEY="+m.text+"\n")
		c.files[name] = cell{form: m.name, context: ".env", miss: m}
	}
	return c
}

// dirName turns a form or near-miss name into a file name.
func dirName(name string) string {
	return strings.NewReplacer(" ", "-", "(", "", ")", "", "_", "-", "/", "-", ",", "").Replace(name)
}

func (c *corpus) write(t *testing.T, name, content string) {
	t.Helper()
	path := filepath.Join(c.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// nearMisses derives strings that resemble the keys sk and tagged (an
// acme_pk_test_ key) without being keys.
func nearMisses(sk, tagged string, r *rand.ChaCha8) []nearMiss {
	body := sk[len("sk_live_"):]
	checksummed := withChecksum // a valid checksum: the fault lies elsewhere
	alnum := func(n int) string {
		const a = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		b := make([]byte, n)
		for i := range b {
			b[i] = a[r.Uint64()%62]
		}
		return string(b)
	}
	flip := func(s string, i int) string { // another base62 character at i
		c := s[i] + 1
		if c == '9'+1 {
			c = 'A'
		} else if c == 'Z'+1 {
			c = 'a'
		} else if c == 'z'+1 {
			c = '0'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	return []nearMiss{
		{name: "body one short", text: checksummed("sk_live_" + body[1:])},
		{name: "body one long", text: checksummed("sk_live_A" + body)},
		{name: "non-base62 character", text: "sk_live_" + body[:20] + "-" + body[21:]},
		{name: "unknown type", text: checksummed("xk_live_" + body)},
		{name: "unknown environment", text: checksummed("sk_prod_" + body)},
		{name: "upper-case service tag", text: checksummed("ACME" + tagged[len("acme"):])},
		{name: "glued to a word", text: "x" + sk},
		{name: "Stripe secret key", text: "sk_live_" + alnum(24)},
		{name: "Stripe key, long", text: "sk_live_51" + alnum(97)},
		{name: "Stripe restricted key", text: "rk_live_" + alnum(50)},
		{name: "Stripe publishable key", text: "pk_test_51" + alnum(97)},
		{name: "bad checksum, last character", text: flip(sk, len(sk)-1), checksum: true},
		{name: "bad checksum, id changed", text: flip(sk, len("sk_live_")+3), checksum: true},
		{name: "bad checksum, tagged", text: flip(tagged, len(tagged)-2), checksum: true},
		{name: "random 50 characters", text: "sk_test_" + alnum(50), checksum: true},
	}
}

// withChecksum replaces the last ChecksumLen characters of s with the
// checksum of the rest, as the key format computes it.
func withChecksum(s string) string {
	const a = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	head := s[:len(s)-apikey.ChecksumLen]
	v := uint64(crc32.ChecksumIEEE([]byte(head)))
	var d [apikey.ChecksumLen]byte
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = a[v%62]
		v /= 62
	}
	return head + string(d[:])
}
