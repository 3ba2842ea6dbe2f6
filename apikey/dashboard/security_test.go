package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/dashboard"
)

// checkSecurityHeaders fails unless w carries the headers every page must.
func checkSecurityHeaders(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	h := w.Header()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %s", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
		t.Errorf("%s: Content-Security-Policy %q allows inline script or another origin", what, csp)
	}
	for name, want := range map[string]string{
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %s %q, want %q", what, name, got, want)
		}
	}
	if c := h.Values("Set-Cookie"); len(c) != 0 {
		t.Errorf("%s: sets a cookie: %q", what, c)
	}
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	s := newSite(t, nil)
	_, other := s.env.Mint(apikey.CreateParams{Name: "theirs", Owner: "acct_2"})
	w := s.do("acct_1", http.MethodPost, "/dashboard/keys", s.createForm("acct_1", "mine"))
	checkSecurityHeaders(t, "the new key", w)
	mine := s.keys("acct_1")[0]

	for _, tt := range []struct {
		name, account, method, path string
		form                        url.Values
	}{
		{"list", "acct_1", "GET", "/dashboard/", nil},
		{"list (HEAD)", "acct_1", "HEAD", "/dashboard/", nil},
		{"stylesheet", "acct_1", "GET", "/dashboard/static/dashboard.css", nil},
		{"script", "acct_1", "GET", "/dashboard/static/dashboard.js", nil},
		{"unknown static file", "acct_1", "GET", "/dashboard/static/x.js", nil},
		{"unknown page", "acct_1", "GET", "/dashboard/x", nil},
		{"wrong method", "acct_1", "DELETE", "/dashboard/", nil},
		{"not signed in", "", "GET", "/dashboard/", nil},
		{"revoke confirmation", "acct_1", "GET", "/dashboard/revoke?id=" + mine.ID, nil},
		{"roll form", "acct_1", "GET", "/dashboard/roll?id=" + mine.ID, nil},
		{"another account's key", "acct_1", "GET", "/dashboard/revoke?id=" + other.ID, nil},
		{"a mistake in the form", "acct_1", "POST", "/dashboard/keys", url.Values{"name": {""}}},
		{"a bad roll", "acct_1", "POST", "/dashboard/roll", url.Values{"id": {mine.ID}, "grace": {"2h"}}},
		{"revocation", "acct_1", "POST", "/dashboard/revoke", url.Values{"id": {mine.ID}}},
		{"the list after it", "acct_1", "GET", "/dashboard/?revoked=" + mine.ID, nil},
	} {
		w := s.do(tt.account, tt.method, tt.path, tt.form)
		checkSecurityHeaders(t, tt.name, w)
		if w.Code >= 500 {
			t.Errorf("%s: %d", tt.name, w.Code)
		}
	}
	w = crossSite(s, "/dashboard/keys", s.createForm("acct_1", "forged"))
	checkSecurityHeaders(t, "cross-origin refusal", w)
}

// crossSite posts form to path as a page of another site would.
func crossSite(s *site, path string, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "http://bank.example"+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "https://evil.example")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set(accountHeader, "acct_1") // the victim's session cookie goes along
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	s := newSite(t, nil)
	_, k := s.env.Mint(apikey.CreateParams{Name: "victim", Owner: "acct_1"})
	for _, tt := range []struct {
		path string
		form url.Values
	}{
		{"/dashboard/keys", s.createForm("acct_1", "forged")},
		{"/dashboard/revoke", url.Values{"id": {k.ID}}},
		{"/dashboard/roll", url.Values{"id": {k.ID}, "grace": {"0"}, "form": {s.nonce("acct_1", "/dashboard/roll?id="+k.ID)}}},
	} {
		w := crossSite(s, tt.path, tt.form)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "nothing was changed") {
			t.Errorf("cross-site POST %s: %d, want 403 saying nothing changed", tt.path, w.Code)
		}
	}
	// An old browser sends no Sec-Fetch-Site: the Origin decides.
	r := httptest.NewRequest(http.MethodPost, "http://bank.example/dashboard/revoke", strings.NewReader("id="+k.ID))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "https://evil.example")
	r.Header.Set(accountHeader, "acct_1")
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Errorf("POST with a foreign Origin: %d, want 403", w.Code)
	}
	keys := s.keys("acct_1")
	if len(keys) != 1 || keys[0].ID != k.ID || !keys[0].RevokedAt.IsZero() {
		t.Errorf("after the forged posts the account holds %d keys, revoked: %v", len(keys), !keys[0].RevokedAt.IsZero())
	}
}

func TestTrustedOrigins(t *testing.T) {
	s := newSite(t, func(p *dashboard.Page) { p.TrustedOrigins = []string{"https://evil.example"} })
	if w := crossSite(s, "/dashboard/keys", s.createForm("acct_1", "from a trusted origin")); w.Code != http.StatusCreated {
		t.Errorf("POST from a trusted origin: %d, want 201", w.Code)
	}
}

func TestOtherAccountsKeysAreUnknown(t *testing.T) {
	s := newSite(t, nil)
	_, theirs := s.env.Mint(apikey.CreateParams{Name: "theirs", Owner: "acct_2"})
	_, ownerless := s.env.Mint(apikey.CreateParams{Name: "no owner"})
	for _, k := range []*apikey.Key{theirs, ownerless} {
		for _, tt := range changeRequests(k.ID) {
			w := s.do("acct_1", tt.method, tt.path, tt.form)
			if w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), k.Name) {
				t.Errorf("%s %s of %q: %d, want 404 without the key's name", tt.method, tt.path, k.Owner, w.Code)
			}
		}
	}
	list := s.do("acct_1", http.MethodGet, "/dashboard/?revoked="+theirs.ID, nil).Body.String()
	if strings.Contains(list, theirs.ID) || strings.Contains(list, "theirs") {
		t.Error("the list shows another account's key")
	}
	got, err := s.env.Manager.Get(t.Context(), theirs.ID)
	if err != nil || !got.RevokedAt.IsZero() {
		t.Errorf("the other account's key: %v, revoked %v", err, got.RevokedAt)
	}
	if n := len(s.keys("acct_2")); n != 1 {
		t.Errorf("the other account holds %d keys, want 1 (none rolled)", n)
	}
}

func TestKeysNeverInAURL(t *testing.T) {
	s := newSite(t, nil)
	w := s.do("acct_1", http.MethodPost, "/dashboard/keys", s.createForm("acct_1", "k"))
	tok := s.shownKey(w.Body.String())
	k := s.keys("acct_1")[0]
	roll := s.do("acct_1", http.MethodPost, "/dashboard/roll", url.Values{"id": {k.ID}, "grace": {"0"}, "form": {s.nonce("acct_1", "/dashboard/roll?id="+k.ID)}})
	next := s.shownKey(roll.Body.String())
	var successor string
	for _, x := range s.keys("acct_1") {
		if x.ID != k.ID {
			successor = x.ID
		}
	}
	rev := s.do("acct_1", http.MethodPost, "/dashboard/revoke", url.Values{"id": {successor}})
	if rev.Code != http.StatusSeeOther {
		t.Errorf("revoke: %d, want 303", rev.Code)
	}
	for _, w := range []*httptest.ResponseRecorder{w, roll, rev} {
		for name, vs := range w.Header() {
			for _, v := range vs {
				if apikey.RedactAll(v) != v {
					t.Errorf("header %s holds a key", name)
				}
			}
		}
	}
	for _, page := range []string{w.Body.String(), roll.Body.String()} {
		for _, href := range []string{"href=\"", "action=\"", "src=\""} {
			for _, part := range strings.Split(page, href)[1:] {
				link, _, _ := strings.Cut(part, "\"")
				if strings.Contains(link, tok.Reveal()) || strings.Contains(link, next.Reveal()) {
					t.Errorf("a link holds a key: %s", href)
				}
			}
		}
	}
}
