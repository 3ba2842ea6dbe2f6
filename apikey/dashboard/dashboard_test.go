package dashboard_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/dashboard"
	apierrors "github.com/gatekey/gatekey/errors"
)

func TestCreateShowsTheKeyOnce(t *testing.T) {
	s := newSite(t, nil)
	form := s.createForm("acct_1", "billing server")
	w := s.do("acct_1", http.MethodPost, "/dashboard/keys", form)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d, want 201:\n%s", w.Code, w.Body)
	}
	tok := s.shownKey(w.Body.String())
	if !strings.Contains(w.Body.String(), "shown only once") {
		t.Error("the new key's page does not warn that it is shown only once")
	}
	k, err := s.env.Manager.Verify(context.Background(), tok.Reveal())
	if err != nil {
		t.Fatalf("the key shown does not verify: %v", err)
	}
	if k.Owner != "acct_1" || k.Permission != apikey.ReadOnly || k.Environment != apikey.Test || k.Name != "billing server" {
		t.Errorf("created %+v, want a read-only test key of acct_1 named billing server", k)
	}

	// A reload sends the same form again: refused, and the key is not shown.
	again := s.do("acct_1", http.MethodPost, "/dashboard/keys", form)
	if again.Code != http.StatusConflict {
		t.Errorf("the same form again: %d, want 409", again.Code)
	}
	if len(apikey.Format{}.FindAll(again.Body.String())) != 0 {
		t.Error("the form sent again shows a key")
	}
	if n := len(s.keys("acct_1")); n != 1 {
		t.Errorf("the form sent twice made %d keys, want 1", n)
	}

	list := s.do("acct_1", http.MethodGet, "/dashboard/", nil).Body.String()
	if strings.Contains(list, tok.Reveal()) {
		t.Error("the list shows the key in full")
	}
	if !strings.Contains(list, tok.String()) {
		t.Errorf("the list does not show the redacted key %s", tok)
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	leaked := "sk_test_" + strings.Repeat("A", apikey.BodyLen)
	tests := []struct {
		name   string
		edit   func(url.Values)
		status int
		code   apierrors.Code
		param  string
	}{
		{"blank name", func(f url.Values) { f.Set("name", "  ") }, 400, apierrors.CodeInvalidParameter, "name"},
		{"long name", func(f url.Values) { f.Set("name", strings.Repeat("n", 201)) }, 400, apierrors.CodeInvalidParameter, "name"},
		{"control in name", func(f url.Values) { f.Set("name", "a\x00b") }, 400, apierrors.CodeInvalidParameter, "name"},
		{"not UTF-8", func(f url.Values) { f.Set("name", "\xff") }, 400, apierrors.CodeInvalidParameter, "name"},
		{"key in name", func(f url.Values) { f.Set("name", "mine "+leaked) }, 400, apierrors.CodeInvalidParameter, "name"},
		{"bad type", func(f url.Values) { f.Set("type", "admin") }, 400, apierrors.CodeInvalidParameter, "type"},
		{"bad permission", func(f url.Values) { f.Set("permission", "root") }, 400, apierrors.CodeInvalidParameter, "permission"},
		{"publishable read-write", func(f url.Values) { f.Set("type", "publishable"); f.Set("permission", "read_write") }, 400, apierrors.CodeInvalidParameter, "permission"},
		{"bad environment", func(f url.Values) { f.Set("environment", "staging") }, 400, apierrors.CodeInvalidParameter, "environment"},
		{"bad expiry", func(f url.Values) { f.Set("expires", "7") }, 400, apierrors.CodeInvalidParameter, "expires"},
		{"bad date", func(f url.Values) { f.Set("expires", "date"); f.Set("expires_on", "tomorrow") }, 400, apierrors.CodeInvalidParameter, "expires_on"},
		{"key as date", func(f url.Values) { f.Set("expires", "date"); f.Set("expires_on", leaked) }, 400, apierrors.CodeInvalidParameter, "expires_on"},
		{"past date", func(f url.Values) { f.Set("expires", "date"); f.Set("expires_on", "2029-12-31") }, 400, apierrors.CodeInvalidParameter, "expires_on"},
		{"repeated field", func(f url.Values) { f.Add("name", "second") }, 400, apierrors.CodeInvalidParameter, "name"},
		{"no form id", func(f url.Values) { f.Del("form") }, 400, apierrors.CodeInvalidParameter, "form"},
		{"forged form id", func(f url.Values) { f.Set("form", "zz") }, 400, apierrors.CodeInvalidParameter, "form"},
		{"too large", func(f url.Values) { f.Set("name", strings.Repeat("n", 20<<10)) }, 413, apierrors.CodeRequestTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, nil)
			form := s.createForm("acct_1", "ok")
			tt.edit(form)
			w := s.do("acct_1", http.MethodPost, "/dashboard/keys", form)
			body := w.Body.String()
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d:\n%s", w.Code, tt.status, body)
			}
			want := "Error code <code>" + string(tt.code) + "</code>"
			if tt.param != "" {
				want += " for <code>" + tt.param + "</code>"
			}
			if !strings.Contains(body, want) {
				t.Errorf("the page does not say %q:\n%s", want, body)
			}
			if strings.Contains(body, leaked) || apikey.RedactAll(body) != body {
				t.Error("the page echoes a key")
			}
			if n := len(s.keys("acct_1")); n != 0 {
				t.Errorf("%d keys made, want none", n)
			}
		})
	}
}

func TestCreateKeepsTheFormAfterAMistake(t *testing.T) {
	s := newSite(t, nil)
	form := s.createForm("acct_1", "ci runner")
	form.Set("expires", "date")
	form.Set("expires_on", "someday")
	body := s.do("acct_1", http.MethodPost, "/dashboard/keys", form).Body.String()
	for _, want := range []string{`value="ci runner"`, `value="someday"`, `id="exp-date" name="expires" value="date" checked`} {
		if !strings.Contains(body, want) {
			t.Errorf("the form filled in again lacks %s", want)
		}
	}
	if strings.Contains(body, `value="`+form.Get("form")+`"`) {
		t.Error("the form filled in again reuses the form id")
	}
}

func TestCheckCreate(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   apierrors.Code
	}{
		{"the host's own refusal", apierrors.New(http.StatusConflict, apierrors.CodeConflict, "You have 100 keys already."), 409, apierrors.CodeConflict},
		{"a failure", errors.New("host: database down"), 500, apierrors.CodeInternalError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *apikey.CreateParams
			s := newSite(t, func(p *dashboard.Page) {
				p.CheckCreate = func(_ *http.Request, cp *apikey.CreateParams) error { got = cp; return tt.err }
			})
			w := s.do("acct_1", http.MethodPost, "/dashboard/keys", s.createForm("acct_1", "n"))
			if w.Code != tt.status || !strings.Contains(w.Body.String(), string(tt.code)) {
				t.Errorf("status %d, want %d with %s:\n%s", w.Code, tt.status, tt.code, w.Body)
			}
			if got == nil || got.Owner != "acct_1" || got.Name != "n" {
				t.Errorf("CheckCreate was asked about %+v", got)
			}
			if n := len(s.keys("acct_1")); n != 0 {
				t.Errorf("%d keys made, want none", n)
			}
		})
	}
}

func TestNotSignedIn(t *testing.T) {
	for _, tt := range []struct {
		name    string
		account func(*http.Request) (string, error)
	}{
		{"error", func(*http.Request) (string, error) { return "", errors.New("host: no session") }},
		{"empty", func(*http.Request) (string, error) { return "", nil }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, func(p *dashboard.Page) { p.Account = tt.account })
			for _, path := range []string{"/dashboard/", "/dashboard/revoke?id=0123456789AB"} {
				w := s.do("acct_1", http.MethodGet, path, nil)
				if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "not signed in") {
					t.Errorf("GET %s: %d, want 401 saying so", path, w.Code)
				}
			}
			if !strings.Contains(s.log.String(), "no account") {
				t.Errorf("nothing logged:\n%s", s.log)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	s := newSite(t, nil)
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/dashboard/", 200, ""},
		{http.MethodHead, "/dashboard/", 200, ""},
		{http.MethodGet, "/dashboard/nope", 404, ""},
		{http.MethodGet, "/dashboard/keys", 405, "POST"},
		{http.MethodDelete, "/dashboard/", 405, "GET, HEAD"},
		{http.MethodPut, "/dashboard/revoke", 405, "GET, HEAD, POST"},
		{http.MethodGet, "/dashboard/static/dashboard.css", 200, ""},
		{http.MethodGet, "/dashboard/static/dashboard.js", 200, ""},
		{http.MethodGet, "/dashboard/static/layout.html", 404, ""},
		{http.MethodGet, "/dashboard/revoke?id=short", 404, ""},
		{http.MethodGet, "/dashboard/roll?id=0123456789AB", 404, ""},
	}
	for _, tt := range tests {
		w := s.do("acct_1", tt.method, tt.path, nil)
		if w.Code != tt.status {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, w.Code, tt.status)
		}
		if got := w.Header().Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
		if tt.method == http.MethodHead && w.Body.Len() != 0 {
			t.Errorf("HEAD %s has a body", tt.path)
		}
	}
}

func TestHandlerPanicsOnMisconfiguration(t *testing.T) {
	s := newSite(t, nil)
	account := func(*http.Request) (string, error) { return "a", nil }
	tests := []struct {
		name string
		page dashboard.Page
		want string
	}{
		{"no manager", dashboard.Page{Account: account}, "dashboard: Page.Manager is nil"},
		{"no account", dashboard.Page{Manager: s.env.Manager}, "dashboard: Page.Account is nil"},
		{"bad environment", dashboard.Page{Manager: s.env.Manager, Account: account, Environments: []apikey.Environment{9}}, "dashboard: Page.Environments[0]"},
		{"environment twice", dashboard.Page{Manager: s.env.Manager, Account: account, Environments: []apikey.Environment{apikey.Test, apikey.Test}}, "dashboard: Page.Environments lists test twice"},
		{"bad origin", dashboard.Page{Manager: s.env.Manager, Account: account, TrustedOrigins: []string{"not an origin"}}, "dashboard: Page.TrustedOrigins"},
		{"short form key", dashboard.Page{Manager: s.env.Manager, Account: account, FormKey: []byte("short")}, "dashboard: Page.FormKey is shorter than 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, tt.want) {
					t.Errorf("panic %q, want one starting %q", msg, tt.want)
				}
			}()
			tt.page.Handler()
		})
	}
}
