package service

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type monitorJ struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	CreatedAt string `json:"created_at"`
}

// TestMonitorsCRUD walks create, get, list, delete.
func TestMonitorsCRUD(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)

	r := e.do("POST", "/v1/monitors", e.admin, map[string]any{"name": "homepage", "url": "https://example.com/"})
	wantStatus(t, r, http.StatusCreated)
	wantRateLimitHeaders(t, r)
	m := decodeJSON[monitorJ](t, r)
	want := monitorJ{ID: m.ID, Name: "homepage", URL: "https://example.com/", CreatedAt: *rfc(clockStart)}
	if d := cmp.Diff(want, m); d != "" || m.ID == "" {
		t.Errorf("created monitor (-want +got):\n%s", d)
	}
	m2 := decodeJSON[monitorJ](t, e.do("POST", "/v1/monitors", e.admin, map[string]any{"name": "api", "url": "http://api.example.com/health"}))

	r = e.do("GET", "/v1/monitors/"+m.ID, e.admin, nil)
	wantStatus(t, r, http.StatusOK)
	if d := cmp.Diff(m, decodeJSON[monitorJ](t, r)); d != "" {
		t.Errorf("GET monitor (-created +got):\n%s", d)
	}

	list := func() []string {
		t.Helper()
		r := e.do("GET", "/v1/monitors", e.admin, nil)
		wantStatus(t, r, http.StatusOK)
		var ids []string
		for _, x := range decodeJSON[struct{ Data []monitorJ }](t, r).Data {
			ids = append(ids, x.ID)
		}
		slices.Sort(ids) // the contract fixes no order
		return ids
	}
	if got, want := list(), []string{m.ID, m2.ID}; !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("list = %v, want %v", got, want)
	}

	r = e.do("DELETE", "/v1/monitors/"+m.ID, e.admin, nil)
	if r.Status != http.StatusOK && r.Status != http.StatusNoContent {
		t.Errorf("DELETE monitor: %d, want 2xx: %s", r.Status, r.Body)
	}
	wantError(t, e.do("GET", "/v1/monitors/"+m.ID, e.admin, nil), http.StatusNotFound, "not_found")
	wantError(t, e.do("DELETE", "/v1/monitors/"+m.ID, e.admin, nil), http.StatusNotFound, "not_found")
	if got := list(); !slices.Equal(got, []string{m2.ID}) {
		t.Errorf("list after delete = %v, want [%s]", got, m2.ID)
	}

	// An empty list is [] rather than null.
	wantStatus(t, e.do("DELETE", "/v1/monitors/"+m2.ID, e.admin, nil), http.StatusOK)
	r = e.do("GET", "/v1/monitors", e.admin, nil)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &raw); err != nil || string(raw["data"]) != "[]" {
		t.Errorf("empty monitor list = %s, want {\"data\":[]}", r.Body)
	}

	// Bad bodies: 400, never 500.
	for _, body := range []string{
		`{}`, `{"name":"x"}`, `{"url":"https://example.com"}`, `{"name":"x","url":"ftp://example.com"}`,
		`{"name":"x","url":"not a url"}`, `{"name":"x","url":"https://example.com","extra":1}`, `{"name":`, `[]`,
	} {
		r := e.do("POST", "/v1/monitors", e.admin, body)
		if r.Status != http.StatusBadRequest {
			t.Errorf("POST /v1/monitors %s: %d, want 400: %s", body, r.Status, r.Body)
			continue
		}
		wantError(t, r, http.StatusBadRequest, errorCode(t, r))
	}
}

// TestPermissions: each kind of key on each route. the Gate's order:
// routing (404/405) comes before the per-route permission checks.
func TestPermissions(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ro := e.createKey(e.admin, map[string]any{"name": "ro", "permission": "read_only"}).Key
	pk := e.createKey(e.admin, map[string]any{"name": "pk", "type": "publishable"}).Key
	adminID := mustParse(t, e.admin).ID()
	mon := decodeJSON[monitorJ](t, e.do("POST", "/v1/monitors", e.admin, map[string]any{"name": "m", "url": "https://example.com"}))
	const unknownID = "AAAAAAAAAAAA"
	newKey := map[string]any{"name": "new"}
	newMon := map[string]any{"name": "n", "url": "https://example.com"}

	type want struct {
		status int
		code   string // "" for success
	}
	ok, created := want{200, ""}, want{201, ""}
	secretReq := want{403, "secret_key_required"}
	perm := want{403, "insufficient_permissions"}
	notFound := want{404, "not_found"}
	method := want{405, "method_not_allowed"}

	tests := []struct {
		method, path string
		body         any
		mods         []func(*http.Request)
		admin, ro    want
		pk           want
	}{
		{"GET", "/v1/me", nil, nil, ok, ok, ok},
		{"HEAD", "/v1/me", nil, nil, ok, ok, ok},
		{"GET", "/v1/keys", nil, nil, ok, ok, secretReq},
		{"POST", "/v1/keys", newKey, nil, created, perm, secretReq},
		{"GET", "/v1/keys/" + adminID, nil, nil, ok, ok, secretReq},
		{"DELETE", "/v1/keys/" + unknownID, nil, nil, notFound, perm, secretReq},
		{"POST", "/v1/keys/" + unknownID + "/roll", nil, nil, notFound, perm, secretReq},
		{"GET", "/v1/monitors", nil, nil, ok, ok, secretReq},
		{"POST", "/v1/monitors", newMon, nil, created, perm, perm},
		{"GET", "/v1/monitors/" + mon.ID, nil, nil, ok, ok, ok},
		{"DELETE", "/v1/monitors/" + "mon_unknown", nil, nil, notFound, perm, perm},
		// Method-override headers are ignored: this is still a POST.
		{"POST", "/v1/monitors", newMon, []func(*http.Request){header("X-HTTP-Method-Override", "GET"), header("X-Method-Override", "GET")}, created, perm, perm},
		// Routing before permissions: a read-only key on a path that has no
		// such method gets 405, not 403.
		{"DELETE", "/v1/me", nil, nil, method, method, method},
		{"POST", "/v1/me", nil, nil, method, method, method},
		{"PUT", "/v1/keys", nil, nil, method, method, method},
		{"PATCH", "/v1/keys/" + adminID, nil, nil, method, method, method},
		{"GET", "/v1/keys/" + adminID + "/roll", nil, nil, method, method, method},
		{"PURGE", "/v1/monitors", nil, nil, method, method, method},
		{"DELETE", "/v1/monitors", nil, nil, method, method, method},
		{"PUT", "/v1/monitors/" + mon.ID, nil, nil, method, method, method},
		// Unknown paths.
		{"GET", "/", nil, nil, notFound, notFound, notFound},
		{"GET", "/v1", nil, nil, notFound, notFound, notFound},
		{"GET", "/v1/me/", nil, nil, notFound, notFound, notFound},
		{"GET", "/v2/me", nil, nil, notFound, notFound, notFound},
		{"GET", "/v1/keys/", nil, nil, notFound, notFound, notFound},
		{"POST", "/v1/nothing", nil, nil, notFound, notFound, notFound},
		{"GET", "/v1/keys/" + adminID + "/other", nil, nil, notFound, notFound, notFound},
	}
	for _, tt := range tests {
		for _, who := range []struct {
			name, key string
			want      want
		}{{"admin", e.admin, tt.admin}, {"read-only secret", ro, tt.ro}, {"publishable", pk, tt.pk}} {
			t.Run(tt.method+" "+tt.path+"/"+who.name, func(t *testing.T) {
				defer e.use(t)()
				r := e.do(tt.method, tt.path, who.key, tt.body, tt.mods...)
				if r.Status == http.StatusCreated && tt.path == "/v1/keys" {
					e.remember(decodeJSON[keyMeta](t, r).Key)
				}
				wantRateLimitHeaders(t, r)
				if who.want.code == "" {
					if r.Status != who.want.status {
						t.Errorf("status %d, want %d: %.300s", r.Status, who.want.status, r.Body)
					}
					return
				}
				if tt.method == "HEAD" {
					if r.Status != who.want.status {
						t.Errorf("status %d, want %d", r.Status, who.want.status)
					}
					return
				}
				wantError(t, r, who.want.status, who.want.code)
			})
		}
	}

	// Allow lists the path's methods.
	for _, tc := range []struct {
		method, path string
		allow        []string
	}{
		{"POST", "/v1/me", []string{"GET"}},
		{"PUT", "/v1/keys", []string{"GET", "POST"}},
		{"PATCH", "/v1/keys/" + adminID, []string{"GET", "DELETE"}},
		{"GET", "/v1/keys/" + adminID + "/roll", []string{"POST"}},
		{"DELETE", "/v1/monitors", []string{"GET", "POST"}},
	} {
		r := e.do(tc.method, tc.path, e.admin, nil)
		allow := r.Header.Get("Allow")
		for _, m := range tc.allow {
			if !containsToken(allow, m) {
				t.Errorf("%s %s: Allow %q lacks %s", tc.method, tc.path, allow, m)
			}
		}
	}
}
