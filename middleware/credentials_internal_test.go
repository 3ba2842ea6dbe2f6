package middleware

import (
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseAuthorization(t *testing.T) {
	all := []Source{SourceBearer, SourceToken, SourceBasic}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		header  string
		sources []Source
		key     string
		src     Source
	}{
		{"Bearer abc", all, "abc", SourceBearer},
		{"bearer abc", all, "abc", SourceBearer},
		{"BEARER abc", all, "abc", SourceBearer},
		{"Bearer    abc", all, "abc", SourceBearer},
		{"token abc", all, "abc", SourceToken},
		{"Token abc", all, "abc", SourceToken},
		{"Basic " + b64("abc:"), all, "abc", SourceBasic},
		{"basic " + b64("abc:"), all, "abc", SourceBasic},
		{"Bearer a-b.c_d~e+f/g==", all, "a-b.c_d~e+f/g==", SourceBearer},

		{"Bearer", all, "", 0},
		{"Bearer ", all, "", 0},
		{"Bearer\tabc", all, "", 0},
		{"Bearer \tabc", all, "", 0},
		{"Bearer abc ", all, "", 0},
		{"Bearer abc def", all, "", 0},
		{"Bearer abc, realm=x", all, "", 0},
		{"Bearer a=b", all, "", 0},
		{"Bearer =", all, "", 0},
		{" Bearer abc", all, "", 0},
		{"Bearer ab\x00c", all, "", 0},
		{"Bearer abcé", all, "", 0},
		{"Digest abc", all, "", 0},
		{"abc", all, "", 0},
		{"", all, "", 0},
		{"Basic " + b64("abc:secret"), all, "", 0},
		{"Basic " + b64("abc"), all, "", 0},
		{"Basic " + b64(":"), all, "", 0},
		{"Basic !!!!", all, "", 0},
		{"Basic " + strings.TrimRight(b64("abc:"), "="), all, "", 0},
		{"Basic " + b64("abc:"), []Source{SourceBearer}, "", 0},
		{"token abc", []Source{SourceBearer, SourceBasic}, "", 0},
	}
	for _, tc := range tests {
		key, src, err := parseAuthorization(tc.header, tc.sources)
		if tc.key == "" {
			if err == nil {
				t.Errorf("parseAuthorization(%q) = %q, want error", tc.header, key)
			}
			continue
		}
		if err != nil || key != tc.key || src != tc.src {
			t.Errorf("parseAuthorization(%q) = %q, %v, %v; want %q, %v", tc.header, key, src, err, tc.key, tc.src)
		}
	}
}

func TestCredentials(t *testing.T) {
	all := []Source{SourceBearer, SourceToken, SourceBasic, SourceHeader, SourceQuery}
	tests := []struct {
		name    string
		target  string
		headers [][2]string
		sources []Source
		key     string
		err     error
	}{
		{"none", "/", nil, all, "", errNoCredentials},
		{"bearer", "/", [][2]string{{"Authorization", "Bearer k1"}}, all, "k1", nil},
		{"header", "/", [][2]string{{"X-Api-Key", "k1"}}, all, "k1", nil},
		{"query", "/?api_key=k1", nil, all, "k1", nil},
		{"query disabled", "/?api_key=k1", nil, defaultSources[:], "", errNoCredentials},
		{"header disabled", "/", [][2]string{{"X-Api-Key", "k1"}}, defaultSources[:], "", errNoCredentials},
		{"two authorization", "/", [][2]string{{"Authorization", "Bearer k1"}, {"Authorization", "Bearer k1"}}, all, "", errAmbiguousCredentials},
		{"authorization and header, same key", "/", [][2]string{{"Authorization", "Bearer k1"}, {"X-Api-Key", "k1"}}, all, "", errAmbiguousCredentials},
		{"header and query", "/?api_key=k2", [][2]string{{"X-Api-Key", "k1"}}, all, "", errAmbiguousCredentials},
		{"two headers", "/", [][2]string{{"X-Api-Key", "k1"}, {"X-Api-Key", "k2"}}, all, "", errAmbiguousCredentials},
		{"two query params", "/?api_key=a&api_key=b", nil, all, "", errAmbiguousCredentials},
		{"malformed authorization and header", "/", [][2]string{{"Authorization", "Bearer"}, {"X-Api-Key", "k1"}}, all, "", errAmbiguousCredentials},
		{"malformed authorization", "/", [][2]string{{"Authorization", "Bearer"}}, all, "", errMalformedCredentials},
		{"empty header", "/", [][2]string{{"X-Api-Key", ""}}, all, "", errMalformedCredentials},
		{"empty query", "/?api_key=", nil, all, "", errMalformedCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.target, nil)
			for _, h := range tc.headers {
				r.Header.Add(h[0], h[1])
			}
			key, _, err := credentials(r, tc.sources, "X-Api-Key", "api_key")
			if err != tc.err || key != tc.key {
				t.Errorf("got %q, %v; want %q, %v", key, err, tc.key, tc.err)
			}
		})
	}
}

// FuzzParseAuthorization checks that parsing never panics, that a key it
// returns is a non-empty token68 found in the header (or in its Basic
// payload), and that well-formed Bearer headers always parse.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "token abc", "Basic YWJjOg==", "Bearer\tx", "Basic !", "bearer  a==", ""} {
		f.Add(s)
	}
	all := []Source{SourceBearer, SourceToken, SourceBasic}
	f.Fuzz(func(t *testing.T, header string) {
		key, src, err := parseAuthorization(header, all)
		if err != nil {
			return
		}
		if key == "" || !utf8.ValidString(key) && src != SourceBasic {
			t.Fatalf("parseAuthorization(%q) = %q", header, key)
		}
		if src != SourceBasic && (!isToken68(key) || !strings.HasSuffix(header, " "+key)) {
			t.Fatalf("parseAuthorization(%q) = %q, not the header's token", header, key)
		}
		if _, _, err := parseAuthorization("Bearer "+strings.Repeat(" ", len(header)%3)+key, all); src != SourceBasic && err != nil {
			t.Fatalf("well-formed Bearer with %q rejected: %v", key, err)
		}
	})
}

// TestToken68Masks checks isToken68Char against RFC 9110's grammar,
// character by character.
func TestToken68Masks(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		want := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
			strings.IndexByte("-._~+/", b) >= 0
		if got := isToken68Char(b); got != want {
			t.Errorf("isToken68Char(%q) = %v, want %v", b, got, want)
		}
	}
}
