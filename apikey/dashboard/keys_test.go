package dashboard_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/dashboard"
	"github.com/gatekey/gatekey/credits"
)

func TestRevoke(t *testing.T) {
	s := newSite(t, nil)
	tok, k := s.env.Mint(apikey.CreateParams{Name: "n", Owner: "acct_1"})

	confirm := s.do("acct_1", http.MethodGet, "/dashboard/revoke?id="+k.ID, nil)
	if confirm.Code != http.StatusOK || !strings.Contains(confirm.Body.String(), "immediate and irreversible") {
		t.Fatalf("confirmation: %d, want 200 warning that revoking is irreversible:\n%s", confirm.Code, confirm.Body)
	}
	if _, err := s.env.Manager.Verify(context.Background(), tok.Reveal()); err != nil {
		t.Fatalf("asking to confirm revoked the key: %v", err)
	}

	w := s.do("acct_1", http.MethodPost, "/dashboard/revoke", url.Values{"id": {k.ID}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "./?revoked="+k.ID {
		t.Fatalf("revoke: %d to %q, want 303 to the list", w.Code, w.Header().Get("Location"))
	}
	if _, err := s.env.Manager.Verify(context.Background(), tok.Reveal()); !errors.Is(err, apikey.ErrRevoked) {
		t.Errorf("Verify after the revocation: %v, want ErrRevoked", err)
	}
	list := s.do("acct_1", http.MethodGet, "/dashboard/?revoked="+k.ID, nil).Body.String()
	if !strings.Contains(list, "was revoked") || !strings.Contains(list, tok.String()) {
		t.Error("the list does not say which key was revoked")
	}
	if strings.Contains(list, `revoke?id=`+k.ID) {
		t.Error("the list still offers to revoke the revoked key")
	}
	if w := s.do("acct_1", http.MethodPost, "/dashboard/revoke", url.Values{"id": {k.ID}}); w.Code != http.StatusConflict {
		t.Errorf("revoking again: %d, want 409", w.Code)
	}
	if w := s.do("acct_1", http.MethodPost, "/dashboard/revoke", url.Values{"id": {k.ID, k.ID}}); w.Code != http.StatusBadRequest {
		t.Errorf("revoking with the id twice: %d, want 400", w.Code)
	}
}

func TestRoll(t *testing.T) {
	s := newSite(t, nil)
	old, k := s.env.Mint(apikey.CreateParams{Name: "deploy", Owner: "acct_1", Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadOnly})
	form := s.nonce("acct_1", "/dashboard/roll?id="+k.ID)
	for _, bad := range []url.Values{
		{"id": {k.ID}, "grace": {"2h"}, "form": {form}},
		{"id": {k.ID}, "grace": {"1h"}},
		{"id": {k.ID}, "grace": {"1h", "0"}, "form": {form}},
	} {
		if w := s.do("acct_1", http.MethodPost, "/dashboard/roll", bad); w.Code != http.StatusBadRequest {
			t.Errorf("roll with %v: %d, want 400", bad, w.Code)
		}
	}
	sent := url.Values{"id": {k.ID}, "grace": {"1h"}, "form": {form}}
	w := s.do("acct_1", http.MethodPost, "/dashboard/roll", sent)
	if w.Code != http.StatusCreated {
		t.Fatalf("roll: %d, want 201:\n%s", w.Code, w.Body)
	}
	tok := s.shownKey(w.Body.String())
	nk, err := s.env.Manager.Verify(context.Background(), tok.Reveal())
	if err != nil {
		t.Fatalf("the rolled key does not verify: %v", err)
	}
	if nk.Owner != "acct_1" || nk.Permission != apikey.ReadOnly || nk.Environment != apikey.Live || nk.Name != "deploy" {
		t.Errorf("the rolled key is %+v, want a copy of the old one", nk)
	}
	if !strings.Contains(w.Body.String(), old.String()) {
		t.Error("the page does not name the key replaced")
	}
	if w := s.do("acct_1", http.MethodPost, "/dashboard/roll", sent); w.Code != http.StatusConflict || len(apikey.Format{}.FindAll(w.Body.String())) != 0 {
		t.Errorf("the roll form sent again: %d, want 409 without a key", w.Code)
	}
	if n := len(s.keys("acct_1")); n != 2 {
		t.Errorf("the account holds %d keys, want 2", n)
	}
	if _, err := s.env.Manager.Verify(context.Background(), old.Reveal()); err != nil {
		t.Errorf("the old key within its grace: %v", err)
	}
	s.env.Clock.Advance(time.Hour + time.Second)
	if _, err := s.env.Manager.Verify(context.Background(), old.Reveal()); !errors.Is(err, apikey.ErrExpired) {
		t.Errorf("the old key after its grace: %v, want ErrExpired", err)
	}
}

func TestCredits(t *testing.T) {
	reset := time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		credits func(*http.Request, string) (credits.Balance, bool, error)
		status  int
		want    string
	}{
		{"metered", func(_ *http.Request, account string) (credits.Balance, bool, error) {
			if account != "acct_1" {
				return credits.Balance{}, false, errors.New("wrong account")
			}
			return credits.Balance{Remaining: 740, Allowance: credits.Allowance{Credits: 1000}, ResetAt: reset}, true, nil
		}, 200, "<strong>740</strong> of 1000 credits left, until 2030-02-01 00:00 UTC"},
		{"not metered", func(*http.Request, string) (credits.Balance, bool, error) {
			return credits.Balance{}, false, nil
		}, 200, "Your keys"},
		{"unavailable", func(*http.Request, string) (credits.Balance, bool, error) {
			return credits.Balance{}, false, credits.ErrUnavailable
		}, 503, "service_unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, func(p *dashboard.Page) { p.Credits = tt.credits })
			w := s.do("acct_1", http.MethodGet, "/dashboard/", nil)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.want) {
				t.Errorf("%d, want %d showing %q:\n%s", w.Code, tt.status, tt.want, w.Body)
			}
			if tt.name == "not metered" && strings.Contains(w.Body.String(), "credits left") {
				t.Error("an account without credits is shown a balance")
			}
		})
	}
}

func TestListShowsEveryColumn(t *testing.T) {
	s := newSite(t, nil)
	tok, _ := s.env.Mint(apikey.CreateParams{Name: "expiring <b>", Owner: "acct_1", Type: apikey.PublishableKey,
		Environment: apikey.Live, ExpiresAt: s.env.Clock.Now().Add(30 * day)})
	if _, err := s.env.Manager.Verify(context.Background(), tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	s.env.Manager.Close() // writes the last use
	body := s.do("acct_1", http.MethodGet, "/dashboard/", nil).Body.String()
	for _, want := range []string{
		"expiring &lt;b&gt;", tok.String(), "publishable", "live", "read_only",
		"2030-01-01 00:00 UTC", "2030-01-31 00:00 UTC", "active",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the list lacks %q", want)
		}
	}
	if strings.Count(body, "2030-01-01 00:00 UTC") < 2 {
		t.Error("the list does not show when the key was last used")
	}
}

// The budget: a page, its stylesheet and its script under 30 KB.
func TestPageWeight(t *testing.T) {
	s := newSite(t, func(p *dashboard.Page) {
		p.Credits = func(*http.Request, string) (credits.Balance, bool, error) {
			return credits.Balance{Remaining: 1, Allowance: credits.Allowance{Credits: 2}}, true, nil
		}
	})
	for range 10 {
		s.env.Mint(apikey.CreateParams{Name: strings.Repeat("n", 40), Owner: "acct_1"})
	}
	total := 0
	for _, path := range []string{"/dashboard/", "/dashboard/static/dashboard.css", "/dashboard/static/dashboard.js"} {
		w := s.do("acct_1", http.MethodGet, path, nil)
		b, _ := io.ReadAll(w.Body)
		total += len(b)
	}
	if total >= 30_000 {
		t.Errorf("the list with 10 keys, its stylesheet and script weigh %d bytes, want under 30 KB", total)
	}
	t.Logf("page weight: %d bytes (list of 10 keys + CSS + JS)", total)
}
