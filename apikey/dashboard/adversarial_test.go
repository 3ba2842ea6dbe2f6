package dashboard_test

// The adversarial tests (adversarial_*_test.go) are written from the
// page's contract rather than from its implementation: forged posts,
// account confusion, replays and races, keys leaking, markup injection, odd
// paths and odd bodies. This file holds their helpers.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
)

// advRequest sends method target with body (nil for none) and the given
// headers, as account ("" for none), to the site's handler h (s.h if nil).
func advRequest(s *site, h http.Handler, account, method, target string, body io.Reader, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://bank.example/dashboard/", body)
	// Set the target by hand so that odd paths reach the handler as sent.
	u, err := url.ParseRequestURI(target)
	if err != nil {
		s.t.Fatalf("bad target %q: %v", target, err)
	}
	r.URL, r.RequestURI = u, target
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if account != "" {
		r.Header.Set(accountHeader, account)
	}
	if h == nil {
		h = s.h
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// advState describes every key in the store: what a forged or refused
// request must leave as it was.
func advState(s *site) string {
	s.t.Helper()
	var b strings.Builder
	for _, k := range s.keys("") {
		fmt.Fprintf(&b, "%s owner=%q name=%q revoked=%v expires=%v disabled=%v\n",
			k.ID, k.Owner, k.Name, k.RevokedAt, k.ExpiresAt, k.Disabled)
	}
	return b.String()
}

// advNoKeyIn fails if w shows a key in its body or any header, or is a 5xx.
func advNoKeyIn(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Errorf("%s: %d, want a client error:\n%s", what, w.Code, w.Body)
	}
	body := w.Body.String()
	if toks := apikey.FindAll(body); len(toks) != 0 || apikey.RedactAll(body) != body {
		t.Errorf("%s: the page shows a key", what)
	}
	for name, vs := range w.Header() {
		for _, v := range vs {
			if apikey.RedactAll(v) != v {
				t.Errorf("%s: header %s holds a key", what, name)
			}
		}
	}
}

// sameOrigin are the headers of a form a same-origin browser posts.
var sameOrigin = map[string]string{
	"Content-Type":   "application/x-www-form-urlencoded",
	"Origin":         "http://bank.example",
	"Sec-Fetch-Site": "same-origin",
}
