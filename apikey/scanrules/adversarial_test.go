package scanrules

// Adversarial tests of apikey.Pattern, Format.Pattern, FindAll and of the
// rule files and the checksum webhook generated from them, written from
// the contract (issue 17), not from the code's comments. Every identifier
// here starts with "adv" to stay clear of the package's other tests.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/gatekey/gatekey/apikey"
	"github.com/google/go-cmp/cmp"
)

const advAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// advChecksum is the contract's checksum of head: CRC-32 (IEEE), base62
// in the order 0-9A-Za-z, big-endian, six digits.
func advChecksum(head string) string {
	v := uint64(crc32.ChecksumIEEE([]byte(head)))
	d := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		d[i] = advAlphabet[v%62]
		v /= 62
	}
	return string(d)
}

func advResum(s string) string { return s[:len(s)-6] + advChecksum(s[:len(s)-6]) }

func advWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_'
}

func advService(s string) bool {
	if len(s) < 1 || len(s) > 20 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !(s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9') {
			return false
		}
	}
	return true
}

// advShape reports whether w has the grammar of a key (checksum aside),
// and, if f is not nil, whether it is a key f produces and parses. It is
// the contract's grammar, written out without the package's code.
func advShape(w string, f *apikey.Format) bool {
	if len(w) < 51 || w[len(w)-51] != '_' {
		return false
	}
	for i := len(w) - 50; i < len(w); i++ {
		if !strings.ContainsRune(advAlphabet, rune(w[i])) {
			return false
		}
	}
	segs := strings.Split(w[:len(w)-51], "_")
	svc, env := "", ""
	isType := func(s string) bool { return s == "sk" || s == "pk" }
	isEnv := func(s string) bool { return s == "live" || s == "test" }
	switch len(segs) {
	case 1:
		if !isType(segs[0]) {
			return false
		}
	case 2:
		switch {
		case isType(segs[0]) && isEnv(segs[1]):
			env = segs[1]
		case advService(segs[0]) && isType(segs[1]):
			svc = segs[0]
		default:
			return false
		}
	case 3:
		if !advService(segs[0]) || !isType(segs[1]) || !isEnv(segs[2]) {
			return false
		}
		svc, env = segs[0], segs[2]
	default:
		return false
	}
	if f == nil {
		return true
	}
	if svc != f.Service {
		return false
	}
	if f.OmitLiveLabel {
		return env != "live"
	}
	return env != ""
}

// advFind is the contract's FindAll: every maximal run of [0-9A-Za-z_]
// that is a key with a valid checksum (checksum false: of a key's shape).
func advFind(text string, f *apikey.Format, checksum bool) []string {
	var out []string
	for i := 0; i < len(text); {
		if !advWordByte(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && advWordByte(text[j]) {
			j++
		}
		if w := text[i:j]; advShape(w, f) && (!checksum || advChecksum(w[:len(w)-6]) == w[len(w)-6:]) {
			out = append(out, w)
		}
		i = j
	}
	return out
}

// advFormats are ordinary and edge-case Formats.
var advFormats = []apikey.Format{
	{},
	{OmitLiveLabel: true},
	{Service: "acme"},
	{Service: "a"},
	{Service: "a1", OmitLiveLabel: true},
	{Service: "abcdefghij0123456789"}, // the longest tag
	{Service: "zzzzzzzzzzzzzzzzzzzz", OmitLiveLabel: true},
	{Service: "live"},                    // a tag that is an environment label
	{Service: "sk", OmitLiveLabel: true}, // a tag that is a type label
	{Service: "test"},
}

// advPieces returns keys of every Format and type and environment, and
// strings that are almost keys.
func advPieces(t *testing.T, r *rand.ChaCha8) []string {
	t.Helper()
	var keys []string
	for _, f := range advFormats {
		for _, typ := range []apikey.Type{apikey.SecretKey, apikey.PublishableKey} {
			for _, env := range []apikey.Environment{apikey.Live, apikey.Test} {
				tok, err := f.Generate(r, typ, env)
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, tok.Reveal())
			}
		}
	}
	body := keys[0][len("sk_live_"):]
	pieces := slices.Clone(keys)
	pieces = append(pieces,
		advResum("abcdefghij0123456789x_sk_live_"+body), // 21-character tag
		advResum("Acme_sk_live_"+body),                  // upper-case tag
		advResum("1acme_sk_live_"+body),                 // tag starting with a digit
		advResum("acme_sk_prod_"+body),                  // unknown environment
		advResum("acme_rk_live_"+body),                  // unknown type
		advResum("sk_live_test_"+body),                  // two labels
		advResum("acme_x_sk_live_"+body),                // two tags
		advResum("_sk_live_"+body),                      // empty tag
		advResum("sk__"+body),                           // empty label
		advResum("sk_live_"+body[:49]),                  // short body
		advResum("sk_live_"+body+"A"),                   // long body
		"sk_live_"+body[:44]+"zzzzzz",                   // checksum over 2^32
		keys[0][:len(keys[0])-1]+"!",                    // bad character
		keys[2][:20]+string(keys[2][20]^1)+keys[2][21:], // one character changed
		strings.ToUpper(keys[0][:2])+keys[0][2:],        // SK_
		"sk_live_4eC39HqLyjWDarjtT1zdp7dc",              // Stripe's
		"sk_live_51"+strings.Repeat("a", 97),            // Stripe's, long
	)
	return pieces
}

var advSeps = []string{"", "", " ", "_", "-", ".", "=", "\"", "'", "/", "\n", "\x00", "é", "\xff", "a", "Z", "0", "__", "://", "?k="}

// TestAdvFindAllAgreesWithTheContract compares FindAll, Format.FindAll,
// Pattern and Format.Pattern with the contract's grammar over random texts
// built from keys, near misses and separators.
func TestAdvFindAllAgreesWithTheContract(t *testing.T) {
	r := rand.NewChaCha8([32]byte{'a', 'd', 'v'})
	rr := rand.New(r)
	pieces := advPieces(t, r)
	anyRE := regexp.MustCompile(apikey.Pattern)
	ownRE := make([]*regexp.Regexp, len(advFormats))
	for i, f := range advFormats {
		ownRE[i] = regexp.MustCompile(f.Pattern())
	}
	reveal := func(toks []apikey.Token, text string) []string {
		var out []string
		lo := uintptr(unsafe.Pointer(unsafe.StringData(text)))
		for _, tok := range toks {
			k := tok.Reveal()
			if p := uintptr(unsafe.Pointer(unsafe.StringData(k))); p < lo || p+uintptr(len(k)) > lo+uintptr(len(text)) {
				t.Errorf("a Token does not refer to the text")
			}
			out = append(out, k)
		}
		return out
	}
	mismatches, keys := 0, 0
	defer func() {
		if keys < 1000 {
			t.Errorf("only %d keys in the texts: the comparison proves little", keys)
		}
	}()
	for n := range 4000 {
		var b strings.Builder
		for range 1 + rr.IntN(5) {
			b.WriteString(advSeps[rr.IntN(len(advSeps))])
			b.WriteString(pieces[rr.IntN(len(pieces))])
		}
		b.WriteString(advSeps[rr.IntN(len(advSeps))])
		text := b.String()
		check := func(what string, got, want []string) {
			if !cmp.Equal(got, want, cmp.Comparer(func(a, b string) bool { return a == b })) && mismatches < 10 {
				mismatches++
				t.Errorf("text %d, %s: found %d keys, want %d (lengths %v, want %v)", n, what, len(got), len(want), advLens(got), advLens(want))
			}
		}
		keys += len(advFind(text, nil, true))
		check("FindAll", reveal(apikey.FindAll(text), text), advFind(text, nil, true))
		check("Pattern (checksum aside)", anyRE.FindAllString(text, -1), advFind(text, nil, false))
		for i := range advFormats {
			f := advFormats[i]
			check(fmt.Sprintf("%+v.FindAll", f), reveal(f.FindAll(text), text), advFind(text, &f, true))
			check(fmt.Sprintf("%+v.Pattern()", f), ownRE[i].FindAllString(text, -1), advFind(text, &f, false))
		}
	}
}

func advLens(s []string) []int {
	var n []int
	for _, x := range s {
		n = append(n, len(x))
	}
	return n
}

// TestAdvFindAllNeverPanics feeds FindAll arbitrary bytes.
func TestAdvFindAllNeverPanics(t *testing.T) {
	r := rand.New(rand.NewChaCha8([32]byte{'p'}))
	alphabet := []byte("sklivetp_0aZ\x00\xff é-")
	for range 20000 {
		b := make([]byte, r.IntN(200))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		for _, f := range advFormats {
			f.FindAll(string(b))
		}
		apikey.FindAll(string(b))
	}
	apikey.FindAll(strings.Repeat("_", 1<<20))
	apikey.FindAll(strings.Repeat("sk_live_", 1<<16))
}

// TestAdvInvalidFormatPattern: Format.Pattern matches only the keys the
// Format parses. A Format with an invalid service tag parses none, so its
// Pattern must match no key either (and certainly not the keys of the
// zero Format).
func TestAdvInvalidFormatPattern(t *testing.T) {
	plain, _ := apikey.Format{}.Generate(nil, apikey.SecretKey, apikey.Live)
	omit, _ := apikey.Format{OmitLiveLabel: true}.Generate(nil, apikey.SecretKey, apikey.Live)
	for _, svc := range []string{"ACME", "a_b", "1abc", strings.Repeat("a", 21), "a.b", "a|sk"} {
		for _, f := range []apikey.Format{{Service: svc}, {Service: svc, OmitLiveLabel: true}} {
			re, err := regexp.Compile(f.Pattern())
			if err != nil {
				t.Errorf("%q: the pattern does not compile: %v", svc, err)
				continue
			}
			for _, k := range []string{plain.Reveal(), omit.Reveal()} {
				_, perr := f.Parse(k)
				if re.MatchString(k) && perr != nil {
					t.Errorf("Format{Service: %q, OmitLiveLabel: %v}.Pattern() matches %s, which the Format does not parse (%v)",
						svc, f.OmitLiveLabel, apikey.Redact(k), perr)
				}
			}
		}
	}
}

// --- generated files -------------------------------------------------------------

// advBetween returns the text of s between the first before and the next
// after.
func advBetween(t *testing.T, s, before, after string) string {
	t.Helper()
	i := strings.Index(s, before)
	if i < 0 {
		t.Fatalf("no %q in the file", before)
	}
	rest := s[i+len(before):]
	j := strings.Index(rest, after)
	if j < 0 {
		t.Fatalf("no %q after %q", after, before)
	}
	return rest[:j]
}

// TestAdvRuleFilesForEdgeFormats: every file For writes is well formed
// for edge-case Formats, and the pattern each holds is exactly the
// Format's.
func TestAdvRuleFilesForEdgeFormats(t *testing.T) {
	for _, f := range advFormats {
		t.Run(fmt.Sprintf("%q omit=%v", f.Service, f.OmitLiveLabel), func(t *testing.T) {
			r, err := For(f)
			if err != nil {
				t.Fatal(err)
			}
			want := f.Pattern()
			if r.Pattern != want {
				t.Fatalf("rule pattern differs from Format.Pattern")
			}
			files := r.Files()

			// gitleaks: a TOML literal string holds it verbatim.
			gl := string(files[FileGitleaks])
			if got := advBetween(t, gl, "regex = '", "'\n"); got != want {
				t.Errorf("gitleaks regex %q, want %q", got, want)
			}
			for _, line := range strings.Split(gl, "\n") {
				if line != "" && !strings.HasPrefix(line, "#") && !regexp.MustCompile(`^(\[\[rules\]\]|[a-z]+ = .*)$`).MatchString(line) {
					t.Errorf("gitleaks: unexpected line %q", line)
				}
			}
			for _, kw := range r.Keywords {
				if kw != strings.ToLower(kw) || !strings.Contains(gl, "'"+kw+"'") {
					t.Errorf("gitleaks keyword %q", kw)
				}
			}

			// TruffleHog: a YAML single-quoted scalar.
			for _, name := range []string{FileTruffleHog, FileTruffleHogChecksum} {
				y := string(files[name])
				got := strings.ReplaceAll(advBetween(t, y, "key: '", "'\n"), "''", "'")
				if got != "("+want+")" {
					t.Errorf("%s: regex %q, want %q", name, got, "("+want+")")
				}
				if strings.Contains(y, "\t") {
					t.Errorf("%s holds a tab, which YAML forbids in indentation", name)
				}
			}

			// secretlint: a JavaScript string (JSON) given to RegExp.
			js := string(files[FileSecretlintRule])
			var lit string
			if err := json.Unmarshal([]byte(advBetween(t, js, "const KEY = new RegExp(", `, "g");`+"\n")), &lit); err != nil || lit != want {
				t.Errorf("secretlint regex %q (%v), want %q", lit, err, want)
			}
			var pkg map[string]any
			if err := json.Unmarshal(files[FileSecretlintPackage], &pkg); err != nil {
				t.Errorf("package.json: %v", err)
			} else if name, _ := pkg["name"].(string); !regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`).MatchString(name) || len(name) > 214 {
				t.Errorf("package.json name %q is not a valid npm name", name)
			}

			// Keywords: every key of the Format holds one.
			for _, typ := range []apikey.Type{apikey.SecretKey, apikey.PublishableKey} {
				for _, env := range []apikey.Environment{apikey.Live, apikey.Test} {
					tok, _ := f.Generate(nil, typ, env)
					k := tok.Reveal()
					if !slices.ContainsFunc(r.Keywords, func(w string) bool { return strings.Contains(strings.ToLower(k), w) }) {
						t.Errorf("no keyword in %s", apikey.Redact(k))
					}
				}
			}
		})
	}
}

// TestAdvHandMadeRuleCannotBreakOut: a Rule is a plain struct with
// exported fields, and its methods write any Rule; one built by hand (a
// pattern with a '/', a quote, a newline) must still give files that hold
// the pattern as data, not as code or configuration.
func TestAdvHandMadeRuleCannotBreakOut(t *testing.T) {
	tests := []struct {
		name, pattern string
	}{
		{"slash in the JavaScript literal", `a/;process.exit(3);/`},
		{"newline in the JavaScript literal", "a\nprocess.exit(3)\n"},
		{"triple quote in the TOML literal", "a'''\n[[rules]]\nid = 'x'\nregex = '''b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Rule{ID: "x-api-key", Description: "x", Pattern: tt.pattern, Keywords: []string{"a"}}
			js := string(r.SecretlintRule())
			var lit string
			line := advBetween(t, js, "const KEY = new RegExp(", `, "g");`+"\n")
			if err := json.Unmarshal([]byte(line), &lit); err != nil || lit != tt.pattern {
				t.Errorf("secretlint: the pattern is not held as a string (%v)", err)
			}
			gl := string(r.Gitleaks())
			if strings.Count(gl, "\n[[rules]]\n") != 1 || strings.Count(gl, "\nid = ") != 1 || strings.Count(gl, "\nregex = ") != 1 {
				t.Errorf("gitleaks: the pattern escapes its TOML string")
			}
		})
	}
}

// advRunNode runs the generated secretlint rule module in Node with a
// stand-in for secretlint's context and returns the keys it reports (by
// the range it reports, so never printed).
func advRunNode(t *testing.T, node string, rule []byte, content string) []string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "rule"), 0o755)
	os.WriteFile(filepath.Join(dir, "rule", "index.js"), rule, 0o644)
	os.WriteFile(filepath.Join(dir, "rule", "package.json"), []byte(`{"type":"module"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "content.txt"), []byte(content), 0o644)
	harness := `import { creator } from "./rule/index.js";
import { readFileSync } from "node:fs";
const content = readFileSync("content.txt", "utf8");
const found = [];
const ctx = { createTranslator: () => (id) => id, report: (r) => { if (r.message === "KEY") found.push(content.slice(r.range[0], r.range[1])); } };
creator.create(ctx, {}).file({ content });
process.stdout.write(JSON.stringify(found));
`
	os.WriteFile(filepath.Join(dir, "harness.mjs"), []byte(harness), 0o644)
	cmd := exec.Command(node, "harness.mjs")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("node: %v", err) // stderr is not printed: it may quote a key
	}
	var found []string
	if err := json.Unmarshal(out.Bytes(), &found); err != nil {
		t.Fatalf("node output: %v", err)
	}
	return found
}

// TestAdvSecretlintRuleInNode runs the generated JavaScript itself over
// texts holding keys of every Format and near misses: it must report
// exactly the keys of its Format (checksum checked).
func TestAdvSecretlintRuleInNode(t *testing.T) {
	node := lookTool(t, scanner{tool: "node", install: "apt-get install nodejs"})
	r := rand.NewChaCha8([32]byte{'n', 'o', 'd', 'e'})
	pieces := advPieces(t, r)
	var b strings.Builder
	for i, p := range pieces {
		b.WriteString(advSeps[(i*7)%len(advSeps)])
		b.WriteString(p)
		b.WriteString(" ")
	}
	content := strings.ToValidUTF8(b.String(), "?")
	rules := []struct {
		name string
		rule Rule
		f    *apikey.Format
	}{{"Any", Any(), nil}}
	for i := range advFormats {
		f := advFormats[i]
		rule, _ := For(f)
		rules = append(rules, struct {
			name string
			rule Rule
			f    *apikey.Format
		}{fmt.Sprintf("%q omit=%v", f.Service, f.OmitLiveLabel), rule, &f})
	}
	for _, tt := range rules {
		t.Run(tt.name, func(t *testing.T) {
			got := advRunNode(t, node, tt.rule.SecretlintRule(), content)
			want := advFind(content, tt.f, true)
			if len(want) == 0 {
				t.Fatal("no key of the rule's Format in the text")
			}
			if !slices.Equal(got, want) {
				t.Errorf("the rule reports %d keys (lengths %v), want %d (lengths %v)", len(got), advLens(got), len(want), advLens(want))
			}
		})
	}
}

// TestAdvGitleaksEdgeFormats runs gitleaks with the rules For writes for
// the edge-case Formats: it must report every key of the Format, and
// nothing that is not of the Format's shape.
func TestAdvGitleaksEdgeFormats(t *testing.T) {
	bin := lookTool(t, scanners[0])
	r := rand.NewChaCha8([32]byte{'g', 'l'})
	pieces := advPieces(t, r)
	dir := t.TempDir()
	var content strings.Builder
	for _, p := range pieces {
		content.WriteString("KEY=" + p + "\n")
	}
	os.WriteFile(filepath.Join(dir, "keys.env"), []byte(content.String()), 0o644)
	for _, f := range advFormats {
		if f.Service == "" || len(f.Service) < 20 && !f.OmitLiveLabel {
			continue // the ordinary ones are TestScanners'
		}
		t.Run(fmt.Sprintf("%q omit=%v", f.Service, f.OmitLiveLabel), func(t *testing.T) {
			rule, _ := For(f)
			rules := writeRules(t, rule, DefaultWebhook)
			found := runGitleaks(t, bin, rules, dir)
			got := slices.Sorted(slices.Values(found["keys.env"]))
			want := slices.Sorted(slices.Values(advFind(content.String(), &f, false)))
			if len(want) == 0 {
				t.Fatal("no key of the rule's Format in the text")
			}
			if !slices.Equal(got, want) {
				t.Errorf("gitleaks reports %d strings (lengths %v), want %d (lengths %v)", len(got), advLens(got), len(want), advLens(want))
			}
		})
	}
}

// --- the checksum webhook -------------------------------------------------------

func TestAdvChecksumWebhook(t *testing.T) {
	mk := func(f apikey.Format) string {
		tok, err := f.Generate(nil, apikey.SecretKey, apikey.Live)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Reveal()
	}
	k := mk(apikey.Format{})
	long := mk(apikey.Format{Service: "abcdefghij0123456789", OmitLiveLabel: true})
	bad := k[:len(k)-1] + string(k[len(k)-1]^1)
	secrets := []string{k, long, bad}
	q := func(vals ...string) string {
		b, _ := json.Marshal(map[string]map[string][]string{"gatekey-api-key": {"key": vals}})
		return string(b)
	}
	esc := func(s string) string {
		var b strings.Builder
		for _, c := range s {
			fmt.Fprintf(&b, `\u%04x`, c)
		}
		return b.String()
	}
	fill := func(n int) string { // a request of exactly n bytes, all keys
		head, tail := `{"d":{"key":["`+k+`"`, `]}}`
		var b strings.Builder
		b.WriteString(head)
		for b.Len()+len(`,"`+k+`"`)+len(tail) <= n {
			b.WriteString(`,"` + k + `"`)
		}
		for b.Len()+len(tail) < n {
			b.WriteString(" ")
		}
		b.WriteString(tail)
		return b.String()
	}
	tests := []struct {
		name   string
		method string
		body   string
		status int
	}{
		{"a key of the longest tag, no label", "POST", q(long, long), 200},
		{"two detectors, both good", "POST", `{"a":{"key":["` + k + `"]},"b":{"key":["` + long + `"],"x":["` + k + `"]}}`, 200},
		{"two detectors, one bad", "POST", `{"a":{"key":["` + k + `"]},"b":{"key":["` + bad + `"]}}`, 403},
		{"escaped key", "POST", `{"a":{"key":["` + esc(k) + `"]}}`, 200},
		{"key with a trailing newline", "POST", q(k + "\n"), 403},
		{"key with a leading space", "POST", q(" " + k), 403},
		{"key with a BOM", "POST", q("\ufeff" + k), 403},
		{"key and a letter", "POST", q(k + "a"), 403},
		{"two keys in one value", "POST", q(k + " " + k), 403},
		{"a key-shaped string with another tag length", "POST", q(advResum("abcdefghij0123456789x_sk_" + k[len("sk_live_"):])), 403},
		{"null value", "POST", `{"a":{"key":[null]}}`, 403},
		{"empty value", "POST", q(""), 403},
		{"null group", "POST", `{"a":{"key":null}}`, 403},
		{"null detector", "POST", `{"a":null}`, 403},
		{"a number", "POST", `{"a":{"key":[1]}}`, 400},
		{"null", "POST", `null`, 400},
		{"an array", "POST", `[` + q(k) + `]`, 400},
		{"trailing data", "POST", q(k) + `{}`, 400},
		{"BOM before the JSON", "POST", "\ufeff" + q(k), 400},
		{"deeply nested", "POST", strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat(`}`, 20000), 400},
		{"exactly at the limit", "POST", fill(maxWebhookBody), 200},
		{"one byte over the limit", "POST", fill(maxWebhookBody + 1), 400},
		{"PUT", "PUT", q(k), 405},
	}
	h := ChecksumWebhook()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tt.method, "/verify", strings.NewReader(tt.body)))
			if w.Code != tt.status {
				t.Errorf("got %d, want %d", w.Code, tt.status)
			}
			for i, s := range secrets {
				if strings.Contains(w.Body.String(), s) || strings.Contains(fmt.Sprint(w.Header()), s) {
					t.Errorf("the answer echoes secret #%d", i)
				}
			}
		})
	}
}
