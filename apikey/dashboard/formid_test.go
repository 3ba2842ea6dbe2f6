package dashboard_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/dashboard"
	apierrors "github.com/gatekey/gatekey/errors"
)

// A form id is good only for the account and the purpose it was shown for.
func TestFormIDsAreBound(t *testing.T) {
	s := newSite(t, nil)
	_, k := s.env.Mint(apikey.CreateParams{Name: "a", Owner: "acct_1"})
	_, k2 := s.env.Mint(apikey.CreateParams{Name: "b", Owner: "acct_1"})
	createID := s.nonce("acct_1", "/dashboard/")
	rollID := s.nonce("acct_1", "/dashboard/roll?id="+k.ID)
	for _, tt := range []struct {
		name, account, path string
		form                url.Values
	}{
		{"another account's create form", "acct_2", "/dashboard/keys", withForm(s.createForm("acct_2", "n"), createID)},
		{"a roll form as a create form", "acct_1", "/dashboard/keys", withForm(s.createForm("acct_1", "n"), rollID)},
		{"a create form as a roll form", "acct_1", "/dashboard/roll", url.Values{"id": {k.ID}, "grace": {"0"}, "form": {createID}}},
		{"one key's roll form for another", "acct_1", "/dashboard/roll", url.Values{"id": {k2.ID}, "grace": {"0"}, "form": {rollID}}},
	} {
		w := s.do(tt.account, http.MethodPost, tt.path, tt.form)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "The form is out of date") {
			t.Errorf("%s: %d, want 400 saying the form is out of date", tt.name, w.Code)
		}
	}
	if n := len(s.keys("acct_1")) + len(s.keys("acct_2")); n != 2 {
		t.Errorf("%d keys, want the 2 minted", n)
	}
}

func withForm(f url.Values, id string) url.Values {
	f.Set("form", id)
	return f
}

// Replicas that share a FormKey accept each other's forms; a restart
// (a new random key) refuses the old ones.
func TestFormKey(t *testing.T) {
	shared := bytes.Repeat([]byte{7}, 32)
	a := newSite(t, func(p *dashboard.Page) { p.FormKey = shared })
	b := &site{t: t, env: a.env, log: a.log}
	page := *a.page
	b.page = &page
	b.h = mount(b.page.Handler())
	form := a.createForm("acct_1", "from replica a")
	if w := b.do("acct_1", http.MethodPost, "/dashboard/keys", form); w.Code != http.StatusCreated {
		t.Errorf("a form of replica a sent to replica b: %d, want 201", w.Code)
	}

	restarted := *a.page
	restarted.FormKey = nil
	c := &site{t: t, env: a.env, log: a.log, page: &restarted}
	c.h = mount(restarted.Handler())
	if w := c.do("acct_1", http.MethodPost, "/dashboard/keys", a.createForm("acct_1", "before the restart")); w.Code != http.StatusBadRequest {
		t.Errorf("a form from before a restart: %d, want 400", w.Code)
	}
}

// mount serves h at /dashboard/, as newSite does.
func mount(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", h))
	return mux
}

func TestCheckChange(t *testing.T) {
	var asked []string
	s := newSite(t, func(p *dashboard.Page) {
		p.CheckChange = func(_ *http.Request, k *apikey.Key) error {
			asked = append(asked, k.ID)
			return apierrors.New(http.StatusForbidden, apierrors.CodeInsufficientPermissions, "This key runs our own billing.")
		}
	})
	tok, k := s.env.Mint(apikey.CreateParams{Name: "system", Owner: "acct_1"})
	for _, tt := range changeRequests(k.ID) {
		w := s.do("acct_1", tt.method, tt.path, tt.form)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "our own billing") {
			t.Errorf("%s %s: %d, want 403 with the host's message", tt.method, tt.path, w.Code)
		}
	}
	if len(asked) != 4 {
		t.Errorf("CheckChange asked %d times, want 4", len(asked))
	}
	if _, err := s.env.Manager.Verify(t.Context(), tok.Reveal()); err != nil || len(s.keys("acct_1")) != 1 {
		t.Errorf("the key was changed: %v", err)
	}
}

// A form older than an hour is refused, even once its record is gone.
func TestOldFormsAreRefused(t *testing.T) {
	s := newSite(t, nil)
	first := s.createForm("acct_1", "first")
	if w := s.do("acct_1", http.MethodPost, "/dashboard/keys", first); w.Code != http.StatusCreated {
		t.Fatalf("create: %d", w.Code)
	}
	unsent := s.createForm("acct_1", "unsent")
	s.env.Clock.Advance(time.Hour)
	// Another form makes the page forget the records of the first hour.
	if w := s.do("acct_1", http.MethodPost, "/dashboard/keys", s.createForm("acct_1", "second")); w.Code != http.StatusCreated {
		t.Fatalf("create: %d", w.Code)
	}
	for _, f := range []url.Values{first, unsent} {
		w := s.do("acct_1", http.MethodPost, "/dashboard/keys", f)
		if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "more than an hour old") {
			t.Errorf("a form of an hour ago: %d, want 409 saying it is too old", w.Code)
		}
	}
	if n := len(s.keys("acct_1")); n != 2 {
		t.Errorf("%d keys, want 2", n)
	}
}

// A form whose work failed (the host's check, the store) may be sent again.
func TestFailedFormsMayBeSentAgain(t *testing.T) {
	full := true
	s := newSite(t, func(p *dashboard.Page) {
		p.CheckCreate = func(*http.Request, *apikey.CreateParams) error {
			if full {
				return apierrors.New(http.StatusConflict, apierrors.CodeConflict, "Revoke a key first.")
			}
			return nil
		}
	})
	form := s.createForm("acct_1", "n")
	if w := s.do("acct_1", http.MethodPost, "/dashboard/keys", form); w.Code != http.StatusConflict {
		t.Fatalf("create while full: %d, want 409", w.Code)
	}
	full = false
	if w := s.do("acct_1", http.MethodPost, "/dashboard/keys", form); w.Code != http.StatusCreated {
		t.Errorf("the same form once there is room: %d, want 201", w.Code)
	}
	if w := s.do("acct_1", http.MethodPost, "/dashboard/keys", form); w.Code != http.StatusConflict {
		t.Errorf("the form a third time: %d, want 409", w.Code)
	}
}
