package dashboard_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/apikeytest"
	"github.com/gatekey/gatekey/apikey/dashboard"
)

// accountHeader names the account a test request signs in as: a stand-in
// for the host's session cookie.
const accountHeader = "X-Test-Account"

// site is a dashboard mounted at /dashboard/ of a test host, with a fake
// clock and a log that the tests read.
type site struct {
	t    *testing.T
	env  *apikeytest.Env
	page *dashboard.Page
	h    http.Handler
	log  *syncBuffer
}

// newSite returns a site whose Page is changed by edit (if not nil)
// before its Handler is built.
func newSite(t *testing.T, edit func(*dashboard.Page)) *site {
	t.Helper()
	s := &site{t: t, env: apikeytest.New(t, apikeytest.Config{}), log: new(syncBuffer)}
	s.page = &dashboard.Page{
		Manager: s.env.Manager,
		Account: func(r *http.Request) (string, error) { return r.Header.Get(accountHeader), nil },
		Logger:  slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     s.env.Clock.Now,
	}
	if edit != nil {
		edit(s.page)
	}
	mux := http.NewServeMux()
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", s.page.Handler()))
	s.h = mux
	t.Cleanup(func() {
		if got := apikey.RedactAll(s.log.String()); got != s.log.String() {
			t.Errorf("the log holds a key:\n%s", got)
		}
	})
	return s
}

// do sends a request as account ("" for none) and returns the answer.
// A form body is sent as a same-origin browser would send it.
func (s *site) do(account, method, path string, form url.Values) *httptest.ResponseRecorder {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, "http://bank.example"+path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", "http://bank.example")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if account != "" {
		r.Header.Set(accountHeader, account)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

// nonceRE finds a form's id in a page.
var nonceRE = regexp.MustCompile(`name="form" value="([0-9a-f]{32}\.[0-9]+\.[0-9a-f]{32})"`)

// nonce returns the form id of the page at path, as account sees it.
func (s *site) nonce(account, path string) string {
	s.t.Helper()
	w := s.do(account, http.MethodGet, path, nil)
	m := nonceRE.FindStringSubmatch(w.Body.String())
	if m == nil {
		s.t.Fatalf("GET %s: %d, no form id in the page:\n%s", path, w.Code, w.Body)
	}
	return m[1]
}

// createForm returns a valid create form for a read-only test key named
// name, with a fresh form id.
func (s *site) createForm(account, name string) url.Values {
	return url.Values{
		"form": {s.nonce(account, "/dashboard/")}, "name": {name}, "type": {"secret"},
		"permission": {"read_only"}, "environment": {"test"}, "expires": {"never"},
	}
}

// shownKey returns the one key a page shows, failing if it shows none or
// more than one.
func (s *site) shownKey(body string) apikey.Token {
	s.t.Helper()
	toks := apikey.Format{}.FindAll(body)
	if len(toks) != 1 {
		s.t.Fatalf("the page shows %d keys, want 1", len(toks))
	}
	return toks[0]
}

// keys lists the account's keys, straight from the store.
func (s *site) keys(account string) []*apikey.Key {
	s.t.Helper()
	ks, err := s.env.Manager.List(context.Background(), apikey.ListFilter{Owner: account})
	if err != nil {
		s.t.Fatal(err)
	}
	return ks
}

// request is a request a test sends.
type request struct {
	method, path string
	form         url.Values
}

// changeRequests are the four requests that ask to revoke or roll the key
// id: both confirmation pages and both forms (the roll's with a made-up
// form id: whatever refuses them must do so before the form id counts).
func changeRequests(id string) []request {
	return []request{
		{"GET", "/dashboard/revoke?id=" + id, nil},
		{"POST", "/dashboard/revoke", url.Values{"id": {id}}},
		{"GET", "/dashboard/roll?id=" + id, nil},
		{"POST", "/dashboard/roll", url.Values{"id": {id}, "grace": {"0"}, "form": {strings.Repeat("a", 32)}}},
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// day is 24 hours.
const day = 24 * time.Hour
