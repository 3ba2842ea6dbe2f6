package service

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
)

const testDashboardPassword = "correct horse battery"

// dashboard sends a request to the dashboard, signed in with password
// ("" for none), as a same-origin browser would.
func (e *testEnv) dashboard(method, path, password string, form url.Values) (*http.Response, string) {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if password != "" {
		req.SetBasicAuth("any user name", password)
	}
	client := *e.client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, string(b)
}

var dashboardFormRE = regexp.MustCompile(`name="form" value="([0-9a-f]{32}\.[0-9]+\.[0-9a-f]{32})"`)

func TestDashboard(t *testing.T) {
	e := newTestEnv(t, withConfig(func(c *Config) { c.DashboardPassword = testDashboardPassword }))

	for _, pw := range []string{"", "wrong password!"} {
		resp, body := e.dashboard("GET", "/dashboard/", pw, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") ||
			resp.Header.Get("Cache-Control") != "no-store" || strings.Contains(body, "Create a key") {
			t.Errorf("dashboard with password %q: %d %q", pw, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}

	// The admin key is not the dashboard's to revoke.
	resp, _ := e.dashboard("POST", "/dashboard/revoke", testDashboardPassword, url.Values{"id": {e.s.adminID}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("revoking the admin key from the dashboard: %d, want 403", resp.StatusCode)
	}
	if r := e.do("GET", "/v1/me", e.admin, nil); r.Status != http.StatusOK {
		t.Errorf("the admin key after that: %d", r.Status)
	}

	resp, list := e.dashboard("GET", "/dashboard/", testDashboardPassword, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(list, "acct_admin") {
		t.Fatalf("dashboard: %d, want 200 showing the admin account", resp.StatusCode)
	}
	m := dashboardFormRE.FindStringSubmatch(list)
	if m == nil {
		t.Fatal("no create form")
	}
	resp, created := e.dashboard("POST", "/dashboard/keys", testDashboardPassword, url.Values{
		"form": {m[1]}, "name": {"from the dashboard"}, "type": {"secret"}, "permission": {"read_only"},
		"environment": {"test"}, "expires": {"30"},
	})
	toks := apikey.Format{}.FindAll(created)
	if resp.StatusCode != http.StatusCreated || len(toks) != 1 {
		t.Fatalf("create: %d with %d keys, want 201 with one", resp.StatusCode, len(toks))
	}
	key := toks[0].Reveal()
	e.remember(key)

	if r := e.do("GET", "/v1/me", key, nil); r.Status != http.StatusOK {
		t.Fatalf("GET /v1/me with the dashboard's key: %d", r.Status)
	}
	if r := e.do("POST", "/v1/monitors", key, map[string]any{"name": "m", "url": "https://example.com"}); r.Status != http.StatusForbidden {
		t.Errorf("a write with the read-only key: %d, want 403", r.Status)
	}
	resp, _ = e.dashboard("POST", "/dashboard/revoke", testDashboardPassword, url.Values{"id": {toks[0].ID()}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d, want 303", resp.StatusCode)
	}
	if r := e.do("GET", "/v1/me", key, nil); r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), "revoked_api_key") {
		t.Errorf("GET /v1/me with the revoked key: %d %s, want 401 revoked_api_key", r.Status, string(r.Body))
	}
}

func TestDashboardKeyCap(t *testing.T) {
	e := newTestEnv(t, withConfig(func(c *Config) { c.DashboardPassword = testDashboardPassword }))
	for range maxActiveKeys - 1 { // the admin key is the first
		e.createKey(e.admin, map[string]any{"name": "k"})
	}
	_, list := e.dashboard("GET", "/dashboard/", testDashboardPassword, nil)
	m := dashboardFormRE.FindStringSubmatch(list)
	resp, body := e.dashboard("POST", "/dashboard/keys", testDashboardPassword, url.Values{
		"form": {m[1]}, "name": {"one too many"}, "type": {"secret"}, "permission": {"read_only"},
		"environment": {"test"}, "expires": {"never"},
	})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "as many as it may have") {
		t.Errorf("create past the cap: %d, want 409 saying so", resp.StatusCode)
	}
}

// -require-tls covers the dashboard too: its password must not cross the
// network in the clear.
func TestDashboardRequiresTLS(t *testing.T) {
	e := newTestEnv(t, withConfig(func(c *Config) {
		c.DashboardPassword = testDashboardPassword
		c.RequireTLS = true
	}))
	resp, body := e.dashboard("GET", "/dashboard/", testDashboardPassword, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "https_required") {
		t.Errorf("the dashboard over plain HTTP: %d %.200s, want 403 https_required", resp.StatusCode, body)
	}
}
