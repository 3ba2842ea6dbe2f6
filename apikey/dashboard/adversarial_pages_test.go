package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/dashboard"
)

func TestAdversarialKeysAreNeverEchoed(t *testing.T) {
	s := newSite(t, nil)
	tok, k := s.env.Mint(apikey.CreateParams{Name: "mine", Owner: "acct_1"})
	leaked := tok.Reveal()
	variants := map[string]string{
		"the key":            leaked,
		"glued to text":      "x" + leaked + "y",
		"bad checksum":       leaked[:len(leaked)-1] + "0",
		"with service tag":   "acme_" + leaked,
		"surrounded by tags": "<b>" + leaked + "</b>",
	}
	createFields := []string{"form", "name", "type", "permission", "environment", "expires", "expires_on"}
	for what, v := range variants {
		for _, field := range createFields {
			form := s.createForm("acct_1", "ok")
			form.Set("expires", "date")
			form.Set("expires_on", "not a date") // an error, so the form comes back filled in
			form.Set(field, v)
			w := s.do("acct_1", http.MethodPost, "/dashboard/keys", form)
			advNoKeyIn(t, fmt.Sprintf("create with %s in %s", what, field), w)
			if strings.Contains(w.Body.String(), v) || strings.Contains(w.Body.String(), leaked[8:]) {
				t.Errorf("create with %s in %s: echoed", what, field)
			}
		}
		rollNonce := s.nonce("acct_1", "/dashboard/roll?id="+k.ID)
		for _, tt := range []struct {
			method, path string
			form         url.Values
		}{
			{http.MethodPost, "/dashboard/revoke", url.Values{"id": {v}}},
			{http.MethodPost, "/dashboard/roll", url.Values{"id": {v}, "grace": {"0"}, "form": {rollNonce}}},
			{http.MethodPost, "/dashboard/roll", url.Values{"id": {k.ID}, "grace": {v}, "form": {rollNonce}}},
			{http.MethodPost, "/dashboard/roll", url.Values{"id": {k.ID}, "grace": {"0"}, "form": {v}}},
			{http.MethodPost, "/dashboard/revoke", url.Values{"id": {"000000000000"}, v: {v}}},
			{http.MethodGet, "/dashboard/revoke?id=" + url.QueryEscape(v), nil},
			{http.MethodGet, "/dashboard/roll?id=" + url.QueryEscape(v), nil},
			{http.MethodGet, "/dashboard/?revoked=" + url.QueryEscape(v), nil},
			{http.MethodGet, "/dashboard/" + url.PathEscape(v), nil},
			{http.MethodGet, "/dashboard/static/" + url.PathEscape(v), nil},
			{http.MethodPost, "/dashboard/" + url.PathEscape(v), url.Values{}},
		} {
			w := s.do("acct_1", tt.method, tt.path, tt.form)
			advNoKeyIn(t, fmt.Sprintf("%s %s with %s", tt.method, tt.path, what), w)
		}
	}
	// None of it changed the key (grace=<key> and form=<key> were refused).
	if got, _ := s.env.Manager.Get(context.Background(), k.ID); !got.RevokedAt.IsZero() || !got.ExpiresAt.IsZero() {
		t.Errorf("the key was changed: %+v", got)
	}
}

// tagRE finds a start tag, with its attributes.
var tagRE = regexp.MustCompile(`(?is)<([a-z][a-z0-9]*)\b([^>]*)>`)

// advMarkupOK fails if page holds markup that the CSP would have to
// allow, or that came from a key's name: an inline script, an event
// handler, a style attribute, a javascript: URL, a tag other than the
// page's own.
func advMarkupOK(t *testing.T, what, page string) {
	t.Helper()
	allowed := []string{"html", "head", "meta", "title", "link", "script", "body", "header", "p", "a", "strong", "main",
		"h1", "h2", "div", "section", "table", "thead", "tbody", "tr", "th", "td", "code", "span", "form", "input",
		"label", "fieldset", "legend", "button", "dl", "dt", "dd"}
	for _, m := range tagRE.FindAllStringSubmatch(page, -1) {
		tag, attrs := strings.ToLower(m[1]), strings.ToLower(m[2])
		if !slices.Contains(allowed, tag) {
			t.Errorf("%s: an unexpected tag %s", what, m[0])
		}
		if tag == "script" && !strings.Contains(attrs, `src="static/dashboard.js"`) {
			t.Errorf("%s: an inline or foreign script %s", what, m[0])
		}
		if regexp.MustCompile(`(^|\s)(on[a-z]+|style|srcdoc|formaction)\s*=`).MatchString(attrs) {
			t.Errorf("%s: an event handler or inline style %s", what, m[0])
		}
		if strings.Contains(attrs, "javascript:") || strings.Contains(attrs, "data:") {
			t.Errorf("%s: a script URL %s", what, m[0])
		}
	}
	if n := strings.Count(strings.ToLower(page), "<script"); n != 1 {
		t.Errorf("%s: %d script tags, want 1", what, n)
	}
}

func TestAdversarialMarkupInNames(t *testing.T) {
	payloads := []string{
		`<script>alert(1)</script>`,
		`"><img src=x onerror=alert(1)>`,
		`</title><script>alert(1)</script>`,
		`</textarea></style></code><svg onload=alert(1)>`,
		`' onmouseover='alert(1)`,
		`javascript:alert(1)`,
		`{{.Title}}{{template "layout" .}}`,
		`<!--`,
		`]]><![CDATA[<script>`,
		"\u202egnp.exe", // a right-to-left override: shown, but as text
	}
	for i, name := range payloads {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			s := newSite(t, nil)
			// Once through the form, once as the API (or anything else)
			// may have stored it.
			w := s.do("acct_1", http.MethodPost, "/dashboard/keys", s.createForm("acct_1", name))
			if w.Code != http.StatusCreated {
				t.Fatalf("create named %q: %d:\n%s", name, w.Code, w.Body)
			}
			advMarkupOK(t, "the new key", w.Body.String())
			_, k := s.env.Mint(apikey.CreateParams{Name: name, Owner: "acct_1"})
			pages := map[string]string{"the new key": w.Body.String()}
			for what, path := range map[string]string{
				"list": "/dashboard/", "revoke": "/dashboard/revoke?id=" + k.ID, "roll": "/dashboard/roll?id=" + k.ID,
			} {
				pages[what] = s.do("acct_1", http.MethodGet, path, nil).Body.String()
			}
			rolled := s.do("acct_1", http.MethodPost, "/dashboard/roll",
				url.Values{"id": {k.ID}, "grace": {"0"}, "form": {s.nonce("acct_1", "/dashboard/roll?id="+k.ID)}})
			pages["rolled"] = rolled.Body.String()
			for what, page := range pages {
				advMarkupOK(t, what, page)
				if strings.Contains(page, name) && strings.ContainsAny(name, `<>"'&`) {
					t.Errorf("%s: the name is in the page unescaped", what)
				}
			}
		})
	}
}

func TestAdversarialEveryPageKeepsToTheCSP(t *testing.T) {
	s := newSite(t, func(p *dashboard.Page) { p.Title = `<script>alert("title")</script>` })
	_, k := s.env.Mint(apikey.CreateParams{Name: "k", Owner: "acct_1"})
	created := s.do("acct_1", http.MethodPost, "/dashboard/keys", s.createForm("acct_1", "n"))
	for what, w := range map[string]*httptest.ResponseRecorder{
		"list":            s.do("acct_1", http.MethodGet, "/dashboard/", nil),
		"list, a mistake": s.do("acct_1", http.MethodPost, "/dashboard/keys", url.Values{"name": {"<x>"}}),
		"new key":         created,
		"revoke":          s.do("acct_1", http.MethodGet, "/dashboard/revoke?id="+k.ID, nil),
		"roll":            s.do("acct_1", http.MethodGet, "/dashboard/roll?id="+k.ID, nil),
		"not found":       s.do("acct_1", http.MethodGet, "/dashboard/nope", nil),
		"not signed in":   s.do("", http.MethodGet, "/dashboard/", nil),
		"wrong method":    s.do("acct_1", http.MethodPatch, "/dashboard/", nil),
		"forged":          crossSite(s, "/dashboard/revoke", url.Values{"id": {k.ID}}),
	} {
		checkSecurityHeaders(t, what, w)
		advMarkupOK(t, what, w.Body.String())
		if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", what, ct)
		}
	}
}

func TestAdversarialPaths(t *testing.T) {
	s := newSite(t, nil)
	// Straight to the handler, as a host without a ServeMux (or one that
	// does not clean paths) would pass them on.
	bare := http.StripPrefix("/dashboard", s.page.Handler())
	for _, tt := range []struct {
		method, target string
		want           int // 0: anything but 2xx and 5xx
	}{
		{"GET", "/dashboard/static/dashboard.css", 200},
		{"GET", "/dashboard/static/../static/dashboard.css", 0},
		{"GET", "/dashboard/static/./dashboard.css", 0},
		{"GET", "/dashboard/static//dashboard.css", 0},
		{"GET", "/dashboard/static/dashboard.css/", 0},
		{"GET", "/dashboard/static/DASHBOARD.CSS", 0},
		{"GET", "/dashboard/static/dashboard.css%00", 0},
		{"GET", "/dashboard/static/%2e%2e/templates/layout.html", 0},
		{"GET", "/dashboard/static/..%2ftemplates%2flayout.html", 0},
		{"GET", "/dashboard/static/../templates/list.html", 0},
		{"GET", "/dashboard/static/", 0},
		{"GET", "/dashboard/static", 0},
		{"GET", "/dashboard/templates/layout.html", 0},
		{"GET", "/dashboard//", 0},
		{"GET", "/dashboard//static/dashboard.js", 0},
		{"GET", "/dashboard", 0},
		{"GET", "/dashboard/?%zz", 200},
		{"GET", "/dashboard/revoke?id=%zz", 0},
		{"POST", "/dashboard//keys", 0},
		{"POST", "/dashboard/keys/", 0},
		{"POST", "/dashboard/keys%2f", 0},
		{"POST", "/dashboard/./keys", 0},
		{"POST", "/dashboard/keys?%zz", 0},
		{"POST", "/dashboard/static/dashboard.css", 0},
		{"PUT", "/dashboard/static/dashboard.js", 0},
	} {
		for name, h := range map[string]http.Handler{"bare": bare, "mux": nil} {
			w := advRequest(s, h, "acct_1", tt.method, tt.target, strings.NewReader(""), sameOrigin)
			what := fmt.Sprintf("%s %s (%s)", tt.method, tt.target, name)
			if tt.want != 0 && w.Code != tt.want {
				t.Errorf("%s: %d, want %d", what, w.Code, tt.want)
			}
			if tt.want == 0 && (w.Code < 300 || w.Code >= 500) {
				t.Errorf("%s: %d, want a refusal", what, w.Code)
			}
			if body := w.Body.String(); strings.Contains(body, "{{") || strings.Contains(body, "package dashboard") {
				t.Errorf("%s: serves a source file", what)
			}
			if name == "bare" {
				checkSecurityHeaders(t, what, w)
			}
		}
	}
	if n := len(s.keys("")); n != 0 {
		t.Errorf("%d keys made", n)
	}
}

func TestAdversarialOddBodies(t *testing.T) {
	s := newSite(t, nil)
	_, k := s.env.Mint(apikey.CreateParams{Name: "mine", Owner: "acct_1"})
	valid := s.createForm("acct_1", "n").Encode()
	big := strings.Repeat("a", 17<<10)
	for _, tt := range []struct {
		name, path, ctype, body string
		status                  int // 0: any 4xx
	}{
		{"multipart create", "/dashboard/keys", "multipart/form-data; boundary=b",
			"--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nn\r\n--b--\r\n", 0},
		{"text/plain create", "/dashboard/keys", "text/plain", valid, 0},
		{"JSON create", "/dashboard/keys", "application/json", `{"name":"n","type":"secret"}`, 0},
		{"no content type", "/dashboard/keys", "", valid, 0},
		{"malformed content type", "/dashboard/keys", "application/x-www-form-urlencoded;;;=", valid, 0},
		{"semicolon separators", "/dashboard/keys", "application/x-www-form-urlencoded", strings.ReplaceAll(valid, "&", ";"), 0},
		{"bad escape", "/dashboard/keys", "application/x-www-form-urlencoded", valid + "&%zz=1", 400},
		{"NUL bytes", "/dashboard/keys", "application/x-www-form-urlencoded", "\x00\x00=\x00", 0},
		{"oversized create", "/dashboard/keys", "application/x-www-form-urlencoded", valid + "&pad=" + big, 413},
		{"oversized revoke", "/dashboard/revoke", "application/x-www-form-urlencoded", "id=" + k.ID + "&pad=" + big, 413},
		{"oversized roll", "/dashboard/roll", "application/x-www-form-urlencoded", "id=" + k.ID + "&grace=0&form=" + strings.Repeat("9", 32) + "&pad=" + big, 413},
		{"too many fields", "/dashboard/revoke", "application/x-www-form-urlencoded", "id=" + k.ID + strings.Repeat("&", 12000), 0},
		{"many empty fields", "/dashboard/revoke", "application/x-www-form-urlencoded", "id=" + k.ID + strings.Repeat("&", 2000), 303},
		{"many ids", "/dashboard/revoke", "application/x-www-form-urlencoded", strings.Repeat("id="+k.ID+"&", 1000), 400},
		{"header injection in id", "/dashboard/revoke", "application/x-www-form-urlencoded", "id=" + url.QueryEscape("\r\nX-Injected: 1"), 404},
	} {
		before := advState(s)
		hdr := map[string]string{"Content-Type": tt.ctype, "Origin": "http://bank.example", "Sec-Fetch-Site": "same-origin"}
		w := advRequest(s, nil, "acct_1", http.MethodPost, tt.path, strings.NewReader(tt.body), hdr)
		if tt.status != 0 && w.Code != tt.status || tt.status == 0 && (w.Code < 400 || w.Code >= 500) {
			t.Errorf("%s: %d, want %d (0: a 4xx):\n%s", tt.name, w.Code, tt.status, w.Body)
		}
		if w.Header().Get("X-Injected") != "" {
			t.Errorf("%s: a header was injected", tt.name)
		}
		advNoKeyIn(t, tt.name, w)
		if tt.status != 303 && advState(s) != before {
			t.Errorf("%s: the store changed", tt.name)
		}
	}
	if n := len(s.keys("")); n != 1 {
		t.Errorf("%d keys, want 1", n)
	}
}
