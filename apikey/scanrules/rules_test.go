package scanrules

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
)

// TestShippedRules holds the rule files in the repository's scanners
// directory to what Any writes: regenerate them with go generate.
func TestShippedRules(t *testing.T) {
	dir := filepath.Join("..", "..", "scanners")
	for name, want := range Any().Files() {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			t.Errorf("%v (run go generate ./apikey/scanrules)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("scanners/%s is not what scanrules writes: run go generate ./apikey/scanrules", name)
		}
	}
}

func TestFor(t *testing.T) {
	tests := []struct {
		f        apikey.Format
		id       string
		keywords []string
	}{
		{apikey.Format{}, "gatekey-api-key", []string{"sk_", "pk_"}},
		{apikey.Format{OmitLiveLabel: true}, "gatekey-api-key", []string{"sk_", "pk_"}},
		{apikey.Format{Service: "acme"}, "acme-api-key", []string{"acme_sk_", "acme_pk_"}},
	}
	for _, tt := range tests {
		r, err := For(tt.f)
		if err != nil {
			t.Fatal(err)
		}
		if r.ID != tt.id || !slices.Equal(r.Keywords, tt.keywords) || r.Pattern != tt.f.Pattern() {
			t.Errorf("For(%+v) = %+v", tt.f, r)
		}
		// Every key the format makes contains a keyword and matches.
		re := regexp.MustCompile(r.Pattern)
		for _, typ := range []apikey.Type{apikey.SecretKey, apikey.PublishableKey} {
			for _, env := range []apikey.Environment{apikey.Live, apikey.Test} {
				tok, _ := tt.f.Generate(nil, typ, env)
				k := tok.Reveal()
				if !re.MatchString(k) || !slices.ContainsFunc(r.Keywords, func(w string) bool { return strings.Contains(k, w) }) {
					t.Errorf("For(%+v): the rule misses %v", tt.f, tok)
				}
			}
		}
	}
	if _, err := For(apikey.Format{Service: "Acme"}); err == nil || !strings.HasPrefix(err.Error(), "scanrules: ") {
		t.Errorf("For of an invalid format: %v", err)
	}
}

func TestRuleFilesQuoteThePattern(t *testing.T) {
	r := Any()
	files := r.Files()
	for name, want := range map[string]string{
		FileGitleaks:           "regex = '" + r.Pattern + "'",
		FileTruffleHog:         "key: '(" + r.Pattern + ")'",
		FileTruffleHogChecksum: "endpoint: '" + DefaultWebhook + "'",
		FileSecretlintRule:     "const KEY = new RegExp(" + jsString(r.Pattern) + `, "g");`,
		FileSecretlintConfig:   `path.join(__dirname, "rule", "index.js")`,
	} {
		if !strings.Contains(string(files[name]), want) {
			t.Errorf("%s does not hold %s", name, want)
		}
	}
	if strings.Contains(string(files[FileTruffleHog]), "verify:") {
		t.Errorf("the pattern-only TruffleHog rules ask a webhook")
	}
}

func TestChecksumWebhook(t *testing.T) {
	good, _ := apikey.Format{Service: "acme"}.Generate(nil, apikey.PublishableKey, apikey.Test)
	k := good.Reveal()
	bad := k[:len(k)-1] + string(k[len(k)-1]^1)
	tests := []struct {
		name, method, body string
		status             int
	}{
		{"key", "POST", `{"gatekey-api-key":{"key":["` + k + `","` + k + `"]}}`, 200},
		{"bad checksum", "POST", `{"gatekey-api-key":{"key":["` + bad + `","` + bad + `"]}}`, 403},
		{"one bad value", "POST", `{"gatekey-api-key":{"key":["` + k + `","` + bad + `"]}}`, 403},
		{"key inside text", "POST", `{"gatekey-api-key":{"key":["x ` + k + `"]}}`, 403},
		{"no values", "POST", `{"gatekey-api-key":{"key":[]}}`, 403},
		{"no groups", "POST", `{"gatekey-api-key":{}}`, 403},
		{"empty", "POST", `{}`, 400},
		{"not JSON", "POST", `key=` + k, 400},
		{"a string, as TruffleHog's docs say", "POST", `{"gatekey-api-key":{"key":"` + k + `"}}`, 400},
		{"GET", "GET", "", 405},
		{"huge", "POST", `{"a":{"key":["` + strings.Repeat("a", maxWebhookBody) + `"]}}`, 400},
	}
	h := ChecksumWebhook()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tt.method, "/verify", strings.NewReader(tt.body)))
			if w.Code != tt.status {
				t.Errorf("got %d, want %d", w.Code, tt.status)
			}
			if strings.Contains(w.Body.String(), k) || strings.Contains(w.Body.String(), bad) {
				t.Errorf("the answer echoes the key")
			}
		})
	}
}

var _ http.Handler = ChecksumWebhook()

// FuzzChecksumWebhook: whatever TruffleHog (or anyone) sends, the webhook
// never panics, answers 200, 400, 403 or 405, never echoes the body, and
// answers 200 only when every value is a key with a valid checksum.
func FuzzChecksumWebhook(f *testing.F) {
	good, _ := apikey.Format{}.Generate(nil, apikey.SecretKey, apikey.Live)
	f.Add(`{"gatekey-api-key":{"key":["` + good.Reveal() + `","` + good.Reveal() + `"]}}`)
	f.Add(`{"a":{"key":[]}}`)
	f.Add(`{"a":{"key":"x"}}`)
	h := ChecksumWebhook()
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/verify", strings.NewReader(body)))
		switch w.Code {
		case 200:
			var req map[string]map[string][]string
			if json.Unmarshal([]byte(body), &req) != nil {
				t.Fatalf("200 for a body that is not a verification request")
			}
			for _, groups := range req {
				for _, values := range groups {
					for _, v := range values {
						if found := apikey.FindAll(v); len(found) != 1 || found[0].Reveal() != v {
							t.Fatalf("200 for a value that is not a key")
						}
					}
				}
			}
		case 400, 403:
		default:
			t.Fatalf("status %d", w.Code)
		}
		if len(body) > 8 && strings.Contains(w.Body.String(), body) {
			t.Fatalf("the answer echoes the body")
		}
	})
}
