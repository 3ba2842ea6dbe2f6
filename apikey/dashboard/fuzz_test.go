package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
)

// FuzzForms posts arbitrary bodies to every form of the page: whatever
// arrives, the answer is a page with a status below 500 and no key but
// one the answer itself made.
func FuzzForms(f *testing.F) {
	f.Add("keys", "form=0123456789abcdef0123456789abcdef&name=n&type=secret&permission=read_only&environment=test&expires=never")
	f.Add("keys", "form=0123456789abcdef0123456789abcdef&name=n&type=publishable&permission=read_only&environment=live&expires=date&expires_on=2031-02-30")
	f.Add("keys", "name=%ff%00&name=&type=secret;permission=x")
	f.Add("revoke", "id=KEYID")
	f.Add("revoke", "id=0123456789AB&id=")
	f.Add("roll", "id=KEYID&grace=1h&form=0123456789abcdef0123456789abcdef")
	f.Add("keys", "%zz=1&&=")
	f.Fuzz(func(t *testing.T, path, body string) {
		s := newSite(t, nil)
		_, k := s.env.Mint(apikey.CreateParams{Name: "n", Owner: "acct_1"})
		switch {
		case strings.HasPrefix(path, "revoke"):
			path = "revoke"
		case strings.HasPrefix(path, "roll"):
			path = "roll"
		default:
			path = "keys"
		}
		body = strings.ReplaceAll(body, "KEYID", k.ID)
		r := httptest.NewRequest(http.MethodPost, "http://bank.example/dashboard/"+path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set(accountHeader, "acct_1")
		w := httptest.NewRecorder()
		s.h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("POST %s %q: %d:\n%s", path, body, w.Code, w.Body)
		}
		if toks := (apikey.Format{}).FindAll(w.Body.String()); len(toks) > 0 && w.Code != http.StatusCreated {
			t.Fatalf("POST %s %q: %d shows a key", path, body, w.Code)
		}
	})
}
