package dashboard_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/dashboard"
)

func TestAdversarialCreateReadsOnlyTheBody(t *testing.T) {
	s := newSite(t, nil)
	q := url.Values{"form": {strings.Repeat("e", 32)}, "name": {"from the query"}, "type": {"secret"},
		"permission": {"read_write"}, "environment": {"test"}, "expires": {"never"}}
	w := s.do("acct_1", http.MethodPost, "/dashboard/keys?"+q.Encode(), url.Values{})
	if w.Code != http.StatusBadRequest {
		t.Errorf("a create form in the query: %d, want 400", w.Code)
	}
	if n := len(s.keys("")); n != 0 {
		t.Errorf("a create form in the query made %d keys", n)
	}
	// The body's fields win over the query's, and the query's form id does
	// not make a used one fresh.
	form := s.createForm("acct_1", "from the body")
	if w := s.do("acct_1", http.MethodPost, "/dashboard/keys", form); w.Code != http.StatusCreated {
		t.Fatalf("create: %d", w.Code)
	}
	w = s.do("acct_1", http.MethodPost, "/dashboard/keys?form="+strings.Repeat("f", 32), form)
	if w.Code != http.StatusConflict {
		t.Errorf("the used form again, a fresh id in the query: %d, want 409", w.Code)
	}
	advNoKeyIn(t, "the used form again", w)
	if n := len(s.keys("")); n != 1 {
		t.Errorf("%d keys, want 1", n)
	}
}

func TestAdversarialRepeatedCreateFields(t *testing.T) {
	for _, field := range []string{"form", "name", "type", "permission", "environment", "expires", "expires_on"} {
		t.Run(field, func(t *testing.T) {
			s := newSite(t, nil)
			form := s.createForm("acct_1", "n")
			form.Set("expires", "date")
			form.Set("expires_on", "2031-01-01")
			form[field] = []string{form.Get(field), form.Get(field)} // the same value twice
			w := s.do("acct_1", http.MethodPost, "/dashboard/keys", form)
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "<code>invalid_parameter</code> for <code>"+field+"</code>") {
				t.Errorf("%s twice: %d, want 400 invalid_parameter for %s:\n%s", field, w.Code, field, w.Body)
			}
			if n := len(s.keys("")); n != 0 {
				t.Errorf("%d keys made", n)
			}
		})
	}
}

func TestAdversarialConcurrentResubmits(t *testing.T) {
	const n = 16
	s := newSite(t, nil)
	_, k := s.env.Mint(apikey.CreateParams{Name: "to roll", Owner: "acct_1"})
	create := s.createForm("acct_1", "double click")
	roll := url.Values{"id": {k.ID}, "grace": {"1h"}, "form": {s.nonce("acct_1", "/dashboard/roll?id="+k.ID)}}
	for _, tt := range []struct {
		name, path string
		form       url.Values
	}{
		{"create", "/dashboard/keys", create},
		{"roll", "/dashboard/roll", roll},
	} {
		var wg sync.WaitGroup
		start := make(chan struct{})
		answers := make([]*httptest.ResponseRecorder, n)
		for i := range n {
			wg.Go(func() {
				<-start
				answers[i] = s.do("acct_1", http.MethodPost, tt.path, tt.form)
			})
		}
		close(start)
		wg.Wait()
		var created int
		var shown []string
		for _, w := range answers {
			switch w.Code {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
			default:
				t.Errorf("%s sent %d times at once: a %d", tt.name, n, w.Code)
			}
			for _, tok := range apikey.FindAll(w.Body.String()) {
				shown = append(shown, tok.Reveal())
			}
		}
		if created != 1 || len(shown) != 1 {
			t.Errorf("%s sent %d times at once: %d created, %d keys shown; want 1 and 1", tt.name, n, created, len(shown))
		}
	}
	if got := len(s.keys("acct_1")); got != 3 {
		t.Errorf("the account holds %d keys, want 3 (the rolled one, its successor, the new one)", got)
	}
}

// A form is refused when sent again, however late and whatever else
// happened meanwhile: the contract says a reload never shows a key again.
// (The page used to forget a used form after a day, or after 1<<14 forms of
// any account, and then took it once more.)
func TestAdversarialResubmitLater(t *testing.T) {
	for _, tt := range []struct {
		name      string
		meanwhile func(t *testing.T, s *site)
	}{
		{"an hour later", func(t *testing.T, s *site) { s.env.Clock.Advance(time.Hour) }},
		{"a day later", func(t *testing.T, s *site) { s.env.Clock.Advance(24*time.Hour + time.Second) }},
		{"six days later", func(t *testing.T, s *site) { s.env.Clock.Advance(6 * 24 * time.Hour) }},
		{"after another account's flood of forms", func(t *testing.T, s *site) {
			// Forms the page never issued are refused without a record.
			for i := range 200 {
				f := s.createForm("acct_2", "flood")
				f.Set("form", fmt.Sprintf("%032x", i+1))
				if w := s.do("acct_2", http.MethodPost, "/dashboard/keys", f); w.Code != http.StatusBadRequest {
					t.Fatalf("forged form %d: %d, want 400", i, w.Code)
				}
			}
			// Issued forms are remembered, up to a bound per account.
			for i := 0; ; i++ {
				w := s.do("acct_2", http.MethodPost, "/dashboard/keys", s.createForm("acct_2", "flood"))
				if w.Code == http.StatusTooManyRequests {
					break
				}
				if w.Code != http.StatusCreated || i > 1000 {
					t.Fatalf("flood form %d: %d", i, w.Code)
				}
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, nil)
			_, k := s.env.Mint(apikey.CreateParams{Name: "deploy", Owner: "acct_1"})
			forms := []struct {
				path string
				form url.Values
			}{
				{"/dashboard/keys", s.createForm("acct_1", "ci")},
				{"/dashboard/roll", url.Values{"id": {k.ID}, "grace": {"168h"}, "form": {s.nonce("acct_1", "/dashboard/roll?id="+k.ID)}}},
			}
			for _, f := range forms {
				if w := s.do("acct_1", http.MethodPost, f.path, f.form); w.Code != http.StatusCreated {
					t.Fatalf("POST %s: %d", f.path, w.Code)
				}
			}
			tt.meanwhile(t, s)
			for _, f := range forms {
				w := s.do("acct_1", http.MethodPost, f.path, f.form)
				if shown := len(apikey.FindAll(w.Body.String())); w.Code != http.StatusConflict || shown != 0 {
					t.Errorf("POST %s again %s: %d showing %d keys, want 409 showing none", f.path, tt.name, w.Code, shown)
				}
			}
			if n := len(s.keys("acct_1")); n != 3 {
				t.Errorf("the account holds %d keys, want 3", n)
			}
		})
	}
}

// A key that stops being rollable between the page's check and the roll
// itself (revoked through the API, or expiring, at that moment) is a
// conflict, not a server error. (The Manager's ErrRevoked and ErrExpired
// used to reach the page as a 500.)
func TestAdversarialRollRacingTheKeysEnd(t *testing.T) {
	for _, tt := range []struct {
		name     string
		meantime func(s *site, id string)
	}{
		{"revoked meanwhile", func(s *site, id string) { s.env.Revoke(id) }},
		{"expired meanwhile", func(s *site, id string) { s.env.Clock.Advance(2 * time.Minute) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s *site
			var id string
			s = newSite(t, func(p *dashboard.Page) {
				// The hook runs after the page found the key rollable: it
				// stands for whatever else happens at that moment.
				p.CheckCreate = func(*http.Request, *apikey.CreateParams) error {
					tt.meantime(s, id)
					return nil
				}
			})
			_, k := s.env.Mint(apikey.CreateParams{Name: "racing", Owner: "acct_1", ExpiresAt: s.env.Clock.Now().Add(time.Minute)})
			id = k.ID
			w := s.do("acct_1", http.MethodPost, "/dashboard/roll",
				url.Values{"id": {k.ID}, "grace": {"0"}, "form": {s.nonce("acct_1", "/dashboard/roll?id="+k.ID)}})
			if w.Code != http.StatusConflict {
				t.Errorf("roll of a key that ended meanwhile: %d, want 409 conflict:\n%s", w.Code, w.Body)
			}
			if n := len(s.keys("acct_1")); n != 1 {
				t.Errorf("the account holds %d keys, want 1", n)
			}
		})
	}
}

func TestAdversarialOddCreateValues(t *testing.T) {
	// The clock is at 2030-01-01 00:00 UTC.
	for _, tt := range []struct {
		name   string
		edit   func(url.Values)
		status int
		param  string
	}{
		{"today", func(f url.Values) { f.Set("expires", "date"); f.Set("expires_on", "2030-01-01") }, 400, "expires_on"},
		{"leap day that is not", func(f url.Values) { f.Set("expires", "date"); f.Set("expires_on", "2031-02-29") }, 400, "expires_on"},
		{"year 0", func(f url.Values) { f.Set("expires", "date"); f.Set("expires_on", "0000-01-01") }, 400, "expires_on"},
		{"year 10000", func(f url.Values) { f.Set("expires", "date"); f.Set("expires_on", "10000-01-01") }, 400, "expires_on"},
		{"date with a time", func(f url.Values) { f.Set("expires", "date"); f.Set("expires_on", "2031-01-01T00:00:00Z") }, 400, "expires_on"},
		{"date with a space", func(f url.Values) { f.Set("expires", "date"); f.Set("expires_on", " 2031-01-01") }, 400, "expires_on"},
		{"negative days", func(f url.Values) { f.Set("expires", "-30") }, 400, "expires"},
		{"days with spaces", func(f url.Values) { f.Set("expires", " 30") }, 400, "expires"},
		{"type by number", func(f url.Values) { f.Set("type", "1") }, 400, "type"},
		{"type upper case", func(f url.Values) { f.Set("type", "SECRET") }, 400, "type"},
		{"environment by number", func(f url.Values) { f.Set("environment", "2") }, 400, "environment"},
		{"environment not offered", func(f url.Values) { f.Set("environment", "live") }, 400, "environment"},
		{"permission by number", func(f url.Values) { f.Set("permission", "2") }, 400, "permission"},
		{"empty permission", func(f url.Values) { f.Set("permission", "") }, 400, "permission"},
		{"name of 200 bytes", func(f url.Values) { f.Set("name", strings.Repeat("é", 100)) }, 201, ""},
		{"name of 201 bytes", func(f url.Values) { f.Set("name", "x"+strings.Repeat("é", 100)) }, 400, "name"},
		{"name with a DEL", func(f url.Values) { f.Set("name", "a\x7fb") }, 400, "name"},
		{"name with a newline", func(f url.Values) { f.Set("name", "a\r\nb") }, 400, "name"},
		{"name with C1 control", func(f url.Values) { f.Set("name", "a\u0085b") }, 400, "name"},
		{"far date", func(f url.Values) { f.Set("expires", "date"); f.Set("expires_on", "9999-12-31") }, 201, ""},
		{"nonce in upper case", func(f url.Values) { f.Set("form", strings.ToUpper(f.Get("form"))) }, 400, "form"},
		{"nonce without its signature", func(f url.Values) { f.Set("form", f.Get("form")[:32]) }, 400, "form"},
		{"nonce with another time", func(f url.Values) {
			n := strings.Split(f.Get("form"), ".")
			f.Set("form", n[0]+"."+n[1]+"0."+n[2])
		}, 400, "form"},
		{"nonce too long", func(f url.Values) { f.Set("form", f.Get("form")+"0") }, 400, "form"},
		{"nonce with a sign", func(f url.Values) { f.Set("form", "+"+f.Get("form")[1:]) }, 400, "form"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, func(p *dashboard.Page) { p.Environments = []apikey.Environment{apikey.Test} })
			form := s.createForm("acct_1", "n")
			tt.edit(form)
			w := s.do("acct_1", http.MethodPost, "/dashboard/keys", form)
			if w.Code != tt.status {
				t.Fatalf("%d, want %d:\n%s", w.Code, tt.status, w.Body)
			}
			if tt.param != "" && !strings.Contains(w.Body.String(), "<code>invalid_parameter</code> for <code>"+tt.param+"</code>") {
				t.Errorf("the page does not blame %s:\n%s", tt.param, w.Body)
			}
			want := 0
			if tt.status == http.StatusCreated {
				want = 1
			}
			if n := len(s.keys("")); n != want {
				t.Errorf("%d keys made, want %d", n, want)
			}
		})
	}
}

func TestAdversarialRollInputs(t *testing.T) {
	for _, tt := range []struct {
		name   string
		form   func(id, nonce string) url.Values
		status int
	}{
		{"grace negative", func(id, n string) url.Values { return url.Values{"id": {id}, "grace": {"-1h"}, "form": {n}} }, 400},
		{"grace in seconds", func(id, n string) url.Values { return url.Values{"id": {id}, "grace": {"3600"}, "form": {n}} }, 400},
		{"grace too long", func(id, n string) url.Values { return url.Values{"id": {id}, "grace": {"169h"}, "form": {n}} }, 400},
		{"grace 1h0m0s", func(id, n string) url.Values { return url.Values{"id": {id}, "grace": {"1h0m0s"}, "form": {n}} }, 400},
		{"grace empty", func(id, n string) url.Values { return url.Values{"id": {id}, "grace": {""}, "form": {n}} }, 400},
		{"no grace", func(id, n string) url.Values { return url.Values{"id": {id}, "form": {n}} }, 400},
		{"grace twice", func(id, n string) url.Values { return url.Values{"id": {id}, "grace": {"0", "0"}, "form": {n}} }, 400},
		{"no form id", func(id, n string) url.Values { return url.Values{"id": {id}, "grace": {"0"}} }, 400},
		{"short form id", func(id, n string) url.Values { return url.Values{"id": {id}, "grace": {"0"}, "form": {n[:31]}} }, 400},
		{"good", func(id, n string) url.Values { return url.Values{"id": {id}, "grace": {"24h"}, "form": {n}} }, 201},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, nil)
			_, k := s.env.Mint(apikey.CreateParams{Name: "mine", Owner: "acct_1"})
			w := s.do("acct_1", http.MethodPost, "/dashboard/roll", tt.form(k.ID, s.nonce("acct_1", "/dashboard/roll?id="+k.ID)))
			if w.Code != tt.status {
				t.Fatalf("%d, want %d:\n%s", w.Code, tt.status, w.Body)
			}
			want := 1
			if tt.status == http.StatusCreated {
				want = 2
			} else {
				advNoKeyIn(t, tt.name, w)
				if !strings.Contains(w.Body.String(), "invalid_parameter") {
					t.Errorf("no invalid_parameter code:\n%s", w.Body)
				}
			}
			if n := len(s.keys("acct_1")); n != want {
				t.Errorf("%d keys, want %d", n, want)
			}
		})
	}
}
