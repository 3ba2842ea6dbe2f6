package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestMe checks GET /v1/me for the generated admin key, field by field.
func TestMe(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, withRate("100/minute,10000/day"))

	tok, err := apikey.Parse(e.admin)
	if err != nil {
		t.Fatalf("generated admin key does not parse: %v", err)
	}
	if !strings.HasPrefix(e.admin, "sk_test_") || tok.Type() != apikey.SecretKey || tok.Environment() != apikey.Test {
		t.Errorf("generated admin key %s: want a secret sk_test_ key", tok)
	}

	r := e.do("GET", "/v1/me", e.admin, nil)
	wantStatus(t, r, http.StatusOK)
	wantRateLimitHeaders(t, r)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	got := checkMeta(t, r.Body, meFields...)
	if got.ID != tok.ID() {
		t.Errorf("id = %q, want the key's public id %q", got.ID, tok.ID())
	}
	if got.LastUsedAt != nil {
		// The key is in use right now: either null (not yet flushed) or a
		// time no later than now is acceptable.
		if ts, _ := time.Parse(time.RFC3339, *got.LastUsedAt); ts.After(e.clock.Now()) {
			t.Errorf("last_used_at %s is in the future", *got.LastUsedAt)
		}
	}
	want := keyMeta{
		ID: tok.ID(), Name: "admin", Type: "secret", Environment: "test", Permission: "read_write",
		Status: "active", CreatedAt: rfc(clockStart), ExpiresAt: nil,
	}
	want.RateLimit = &struct {
		Limits []limitJ `json:"limits"`
	}{Limits: []limitJ{{Requests: 100, WindowSeconds: 60}, {Requests: 10000, WindowSeconds: 86400}}}
	if d := cmp.Diff(want, got, cmpopts.IgnoreFields(keyMeta{}, "LastUsedAt")); d != "" {
		t.Errorf("GET /v1/me (-want +got):\n%s", d)
	}
	if !strings.HasSuffix(*got.CreatedAt, "Z") || *got.CreatedAt != "2031-03-04T00:06:07Z" {
		t.Errorf("created_at = %q, want 2031-03-04T00:06:07Z (the fake clock, in UTC)", *got.CreatedAt)
	}
}

// TestCreateKeys creates each kind of key, then uses it on /v1/me.
func TestCreateKeys(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	exp := clockStart.Add(48 * time.Hour).In(time.FixedZone("UTC-7", -7*3600))

	tests := []struct {
		name       string
		body       map[string]any
		wantPrefix string
		want       keyMeta
	}{
		{"secret default", map[string]any{"name": "backend"}, "sk_test_",
			keyMeta{Name: "backend", Type: "secret", Environment: "test", Permission: "read_write", Status: "active"}},
		{"secret read_write explicit", map[string]any{"name": "rw", "type": "secret", "permission": "read_write"}, "sk_test_",
			keyMeta{Name: "rw", Type: "secret", Environment: "test", Permission: "read_write", Status: "active"}},
		{"secret read_only", map[string]any{"name": "dashboards", "permission": "read_only"}, "sk_test_",
			keyMeta{Name: "dashboards", Type: "secret", Environment: "test", Permission: "read_only", Status: "active"}},
		{"publishable default", map[string]any{"name": "widget", "type": "publishable"}, "pk_test_",
			keyMeta{Name: "widget", Type: "publishable", Environment: "test", Permission: "read_only", Status: "active"}},
		{"publishable read_only explicit", map[string]any{"name": "widget2", "type": "publishable", "permission": "read_only"}, "pk_test_",
			keyMeta{Name: "widget2", Type: "publishable", Environment: "test", Permission: "read_only", Status: "active"}},
		{"explicit expires_at (non-UTC input)", map[string]any{"name": "temp", "expires_at": exp.Format(time.RFC3339)}, "sk_test_",
			keyMeta{Name: "temp", Type: "secret", Environment: "test", Permission: "read_write", Status: "active", ExpiresAt: rfc(exp)}},
		{"expires_at null means never", map[string]any{"name": "nullexp", "expires_at": nil}, "sk_test_",
			keyMeta{Name: "nullexp", Type: "secret", Environment: "test", Permission: "read_write", Status: "active"}},
		{"name of 100 multi-byte characters", map[string]any{"name": strings.Repeat("é", 100)}, "sk_test_",
			keyMeta{Name: strings.Repeat("é", 100), Type: "secret", Environment: "test", Permission: "read_write", Status: "active"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer e.use(t)()
			got := e.createKey(e.admin, tt.body)
			if !strings.HasPrefix(got.Key, tt.wantPrefix+got.ID) {
				t.Errorf("key %.20s…: want prefix %s followed by the id %s", got.Key, tt.wantPrefix, got.ID)
			}
			want := tt.want
			want.CreatedAt = rfc(clockStart)
			if d := cmp.Diff(want, got, cmpopts.IgnoreFields(keyMeta{}, "ID", "Key")); d != "" {
				t.Errorf("create response (-want +got):\n%s", d)
			}
			if got.LastUsedAt != nil {
				t.Errorf("a new key has last_used_at %q, want null", *got.LastUsedAt)
			}

			// Use it.
			r := e.do("GET", "/v1/me", got.Key, nil)
			wantStatus(t, r, http.StatusOK)
			wantRateLimitHeaders(t, r)
			me := checkMeta(t, r.Body, meFields...)
			if d := cmp.Diff(got, me, cmpopts.IgnoreFields(keyMeta{}, "Key", "RateLimit", "LastUsedAt")); d != "" {
				t.Errorf("/v1/me of the new key differs from its create response (-create +me):\n%s", d)
			}
		})
	}
}

// TestCreateKeyValidation: every bad body is a 400 with a code that says
// what is wrong (never a 500), and nothing is created.
func TestCreateKeyValidation(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	valid := `{"name":"x"}`
	past := clockStart.Add(-time.Second).Format(time.RFC3339)
	now := clockStart.Format(time.RFC3339)

	type tc struct {
		name      string
		body      string
		mods      []func(*http.Request)
		wantCode  string // "" means: any 400 (the contract names no code)
		wantParam string
		class     string // body-level failures that must have distinct codes
	}
	tests := []tc{
		{name: "unknown field", body: `{"name":"x","colour":"red"}`, class: "unknown field"},
		{name: "unknown field only", body: `{"nom":"x"}`, class: "unknown field"},
		{name: "malformed JSON", body: `{"name":`, class: "malformed JSON"},
		{name: "not JSON", body: `name=x`, class: "malformed JSON"},
		{name: "trailing data", body: `{"name":"x"}{"name":"y"}`, class: "malformed JSON"},
		{name: "body over 64 KB", body: `{"name":"x"` + strings.Repeat(" ", 64<<10) + `}`, class: "body too large"},
		{name: "text/plain Content-Type", body: valid, mods: []func(*http.Request){contentType("text/plain")}, class: "wrong Content-Type"},
		{name: "missing Content-Type", body: valid, mods: []func(*http.Request){contentType("")}, class: "wrong Content-Type"},
		{name: "form Content-Type", body: valid, mods: []func(*http.Request){contentType("application/x-www-form-urlencoded")}, class: "wrong Content-Type"},
		{name: "empty body", body: ``},
		{name: "JSON array", body: `[]`},
		{name: "JSON null", body: `null`},
		{name: "JSON string", body: `"x"`},
		{name: "missing name", body: `{}`, wantCode: "invalid_parameter", wantParam: "name"},
		{name: "empty name", body: `{"name":""}`, wantCode: "invalid_parameter", wantParam: "name"},
		{name: "blank name", body: `{"name":"   "}`, wantCode: "invalid_parameter", wantParam: "name"},
		{name: "name of 201 bytes", body: `{"name":"` + strings.Repeat("n", 201) + `"}`, wantCode: "invalid_parameter", wantParam: "name"},
		{name: "name of 67 characters, 201 bytes", body: `{"name":"` + strings.Repeat("€", 67) + `"}`, wantCode: "invalid_parameter", wantParam: "name"},
		{name: "field name in another case", body: `{"Name":"x"}`, wantCode: "unknown_field", wantParam: "Name"},
		{name: "field name folded", body: `{"name":"x","permiſſion":"read_only"}`, wantCode: "unknown_field", wantParam: "permiſſion"},
		{name: "field twice", body: `{"name":"x","name":"y"}`, wantCode: "invalid_json"},
		{name: "name is a number", body: `{"name":5}`, wantCode: "invalid_parameter", wantParam: "name"},
		{name: "bad type", body: `{"name":"x","type":"master"}`, wantCode: "invalid_parameter", wantParam: "type"},
		{name: "bad permission", body: `{"name":"x","permission":"admin"}`, wantCode: "invalid_parameter", wantParam: "permission"},
		{name: "publishable read_write", body: `{"name":"x","type":"publishable","permission":"read_write"}`, wantCode: "invalid_parameter", wantParam: "permission"},
		{name: "expires_at in the past", body: `{"name":"x","expires_at":"` + past + `"}`, wantCode: "invalid_parameter", wantParam: "expires_at"},
		{name: "expires_at now", body: `{"name":"x","expires_at":"` + now + `"}`, wantCode: "invalid_parameter", wantParam: "expires_at"},
		{name: "expires_at not RFC 3339", body: `{"name":"x","expires_at":"tomorrow"}`},
		{name: "expires_at a number", body: `{"name":"x","expires_at":1}`},
	}
	codes := map[string]map[string]bool{} // class → codes seen
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := doRequest(t, e.client, e.srv.URL, "POST", "/v1/keys", e.admin, tt.body, e.secrets(), tt.mods...)
			if r.Status == http.StatusInternalServerError {
				t.Fatalf("500 for a client error: %s", r.Body)
			}
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400; body %.300s", r.Status, r.Body)
			}
			wantRateLimitHeaders(t, r)
			code := errorCode(t, r)
			if tt.wantCode != "" {
				got := wantError(t, r, http.StatusBadRequest, tt.wantCode)
				if got.Param != tt.wantParam {
					t.Errorf("param = %q, want %q", got.Param, tt.wantParam)
				}
			} else {
				wantError(t, r, http.StatusBadRequest, code)
			}
			if tt.class != "" {
				if code == "bad_request" || code == "invalid_parameter" || code == "" {
					t.Errorf("%s: code %q does not say what is wrong", tt.class, code)
				}
				if codes[tt.class] == nil {
					codes[tt.class] = map[string]bool{}
				}
				codes[tt.class][code] = true
			}
		})
	}
	// Distinct codes per class (unknown field / malformed / too large /
	// content type).
	seen := map[string]string{}
	for class, cs := range codes {
		for c := range cs {
			if other, ok := seen[c]; ok && other != class {
				t.Errorf("code %q is used for both %q and %q; the contract wants a code that says which", c, class, other)
			}
			seen[c] = class
		}
	}

	// Nothing was created: only the admin key is listed.
	r := e.do("GET", "/v1/keys", e.admin, nil)
	wantStatus(t, r, http.StatusOK)
	if l := decodeJSON[listJ](t, r); len(l.Data) != 1 {
		t.Errorf("after only invalid creates, %d keys are listed, want 1 (the admin)", len(l.Data))
	}

	// Bodies at the limits are accepted.
	t.Run("limits accepted", func(t *testing.T) {
		defer e.use(t)()
		exactly := `{"name":"x"` + strings.Repeat(" ", 64<<10-len(`{"name":"x"}`)) + `}`
		if len(exactly) != 64<<10 {
			t.Fatalf("bad test body length %d", len(exactly))
		}
		for _, b := range []string{
			exactly,
			`{"name":"` + strings.Repeat("n", 200) + `"}`,
			`{"name":"` + strings.Repeat("€", 66) + `nn"}`, // 200 bytes
		} {
			m := decodeJSON[keyMeta](t, e.do("POST", "/v1/keys", e.admin, b, contentType("application/json; charset=utf-8")))
			if m.Key == "" {
				t.Errorf("a body of %d bytes at the limits was not accepted", len(b))
			}
			e.remember(m.Key)
		}
	})
}

// TestListKeys: the caller's environment only, every status, never a
// plaintext key or a hash.
func TestListKeys(t *testing.T) {
	t.Parallel()
	live := generate(t, apikey.SecretKey, apikey.Live)
	e := newTestEnv(t, withConfig(func(c *Config) { c.AdminKey = live }))
	testAdmin := e.mint(apikey.CreateParams{Name: "test admin", Type: apikey.SecretKey, Environment: apikey.Test, Permission: apikey.ReadWrite, Owner: adminAccount})

	active := e.createKey(live, map[string]any{"name": "active"})
	revoked := e.createKey(live, map[string]any{"name": "to revoke"})
	expiring := e.createKey(live, map[string]any{"name": "expiring", "expires_at": clockStart.Add(time.Hour).Format(time.RFC3339)})
	pk := e.createKey(live, map[string]any{"name": "publishable", "type": "publishable"})
	ro := e.createKey(live, map[string]any{"name": "read only", "permission": "read_only"})
	inTest := e.createKey(testAdmin, map[string]any{"name": "test env key"})
	if !strings.HasPrefix(active.Key, "sk_live_") || active.Environment != "live" {
		t.Errorf("a key created by a live key: %.12s… environment %q, want sk_live_ / live", active.Key, active.Environment)
	}
	if !strings.HasPrefix(inTest.Key, "sk_test_") || inTest.Environment != "test" {
		t.Errorf("a key created by a test key: %.12s… environment %q, want sk_test_ / test", inTest.Key, inTest.Environment)
	}
	wantStatus(t, e.do("DELETE", "/v1/keys/"+revoked.ID, live, nil), http.StatusOK)
	e.clock.Advance(time.Hour + time.Second)

	for _, tc := range []struct {
		name, caller string
		want         map[string]string // id → status
	}{
		{"admin", live, map[string]string{
			mustParse(t, live).ID(): "active", active.ID: "active", revoked.ID: "revoked",
			expiring.ID: "expired", pk.ID: "active", ro.ID: "active",
		}},
		{"read-only secret key", ro.Key, nil}, // same list as admin
		{"test environment", testAdmin, map[string]string{mustParse(t, testAdmin).ID(): "active", inTest.ID: "active"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := doRequest(t, e.client, e.srv.URL, "GET", "/v1/keys", tc.caller, nil, e.secrets())
			wantStatus(t, r, http.StatusOK)
			wantRateLimitHeaders(t, r)
			if strings.Contains(string(r.Body), "sha256") || strings.Contains(strings.ToLower(string(r.Body)), `"hash"`) {
				t.Errorf("listing exposes a hash: %.300s", r.Body)
			}
			var outer map[string]json.RawMessage
			if err := json.Unmarshal(r.Body, &outer); err != nil {
				t.Fatal(err)
			}
			if len(outer) != 2 || outer["data"] == nil || string(outer["has_more"]) != "false" {
				t.Errorf("listing is not {\"data\":[…], \"has_more\": false}: %.200s", r.Body)
			}
			want := tc.want
			if want == nil {
				want = map[string]string{
					mustParse(t, live).ID(): "active", active.ID: "active", revoked.ID: "revoked",
					expiring.ID: "expired", pk.ID: "active", ro.ID: "active",
				}
			}
			got := map[string]string{}
			for _, raw := range decodeJSON[listJ](t, r).Data {
				m := checkMeta(t, raw) // no "key" field allowed
				got[m.ID] = m.Status
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("listed keys id→status (-want +got):\n%s", d)
			}
		})
	}
}

func mustParse(t *testing.T, key string) apikey.Token {
	t.Helper()
	tok, err := apikey.Parse(key)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return tok
}

// TestGetKey: metadata for the caller's keys; 404 not_found for unknown,
// malformed and other-environment ids.
func TestGetKey(t *testing.T) {
	t.Parallel()
	live := generate(t, apikey.SecretKey, apikey.Live)
	e := newTestEnv(t, withConfig(func(c *Config) { c.AdminKey = live }))
	testAdmin := e.mint(apikey.CreateParams{Name: "test admin", Type: apikey.SecretKey, Environment: apikey.Test, Permission: apikey.ReadWrite})
	liveKey := e.createKey(live, map[string]any{"name": "live key", "permission": "read_only"})
	testKey := e.createKey(testAdmin, map[string]any{"name": "test key"})

	r := e.do("GET", "/v1/keys/"+liveKey.ID, live, nil)
	wantStatus(t, r, http.StatusOK)
	wantRateLimitHeaders(t, r)
	got := checkMeta(t, r.Body)
	if d := cmp.Diff(liveKey, got, cmpopts.IgnoreFields(keyMeta{}, "Key", "LastUsedAt")); d != "" {
		t.Errorf("GET /v1/keys/{id} (-created +got):\n%s", d)
	}
	// The read-only key itself may read.
	wantStatus(t, e.do("GET", "/v1/keys/"+liveKey.ID, liveKey.Key, nil), http.StatusOK)

	for _, tc := range []struct{ name, caller, id string }{
		{"unknown id", live, "AAAAAAAAAAAA"},
		{"id of the other environment (test id, live caller)", live, testKey.ID},
		{"id of the other environment (live id, test caller)", testAdmin, liveKey.ID},
		{"too short", live, "abc"},
		{"too long", live, liveKey.ID + "x"},
		{"bad characters", live, "!!!!!!!!!!!!"},
		{"dots", live, "%2E%2E"},
		{"a whole key as the id", live, generate(t, apikey.SecretKey, apikey.Live)},
		{"lower-cased id", live, strings.ToLower(liveKey.ID) + strings.Repeat("", 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "lower-cased id" && strings.ToLower(liveKey.ID) == liveKey.ID {
				t.Skip("id has no upper-case letters")
			}
			for _, m := range []string{"GET", "DELETE"} {
				r := doRequest(t, e.client, e.srv.URL, m, "/v1/keys/"+tc.id, tc.caller, nil, e.secrets())
				wantError(t, r, http.StatusNotFound, "not_found")
				wantRateLimitHeaders(t, r)
			}
			r := doRequest(t, e.client, e.srv.URL, "POST", "/v1/keys/"+tc.id+"/roll", tc.caller, nil, e.secrets())
			wantError(t, r, http.StatusNotFound, "not_found")
		})
	}
	// Neither key was touched by the attempts from the other environment.
	for _, k := range []keyMeta{liveKey, testKey} {
		wantStatus(t, e.do("GET", "/v1/me", k.Key, nil), http.StatusOK)
	}
}

// TestRevoke: 200 with status revoked, again 200, then 401 revoked_api_key.
func TestRevoke(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	for _, body := range []map[string]any{
		{"name": "secret rw"},
		{"name": "secret ro", "permission": "read_only"},
		{"name": "publishable", "type": "publishable"},
	} {
		t.Run(body["name"].(string), func(t *testing.T) {
			defer e.use(t)()
			k := e.createKey(e.admin, body)
			wantStatus(t, e.do("GET", "/v1/me", k.Key, nil), http.StatusOK)

			for i := range 2 {
				r := e.do("DELETE", "/v1/keys/"+k.ID, e.admin, nil)
				if r.Status != http.StatusOK {
					t.Fatalf("revoke #%d: status %d, want 200: %s", i+1, r.Status, r.Body)
				}
				wantRateLimitHeaders(t, r)
				got := checkMeta(t, r.Body)
				want := k
				want.Key, want.Status = "", "revoked"
				if d := cmp.Diff(want, got, cmpopts.IgnoreFields(keyMeta{}, "LastUsedAt")); d != "" {
					t.Errorf("revoke #%d response (-want +got):\n%s", i+1, d)
				}
			}
			// Immediately refused, whatever the route.
			for _, p := range []string{"/v1/me", "/v1/monitors/mon_x", "/nowhere"} {
				wantError(t, e.do("GET", p, k.Key, nil), http.StatusUnauthorized, "revoked_api_key")
			}
			// Still revoked after the verifier's cache would have expired.
			e.clock.Advance(time.Minute)
			wantError(t, e.do("GET", "/v1/me", k.Key, nil), http.StatusUnauthorized, "revoked_api_key")
			r := e.do("GET", "/v1/keys/"+k.ID, e.admin, nil)
			wantStatus(t, r, http.StatusOK)
			if m := checkMeta(t, r.Body); m.Status != "revoked" {
				t.Errorf("GET of a revoked key: status %q, want revoked", m.Status)
			}
		})
	}
}

// TestRoll: without grace the old key is expired at once; with grace it
// works until now+expires_in; the new key has the same attributes.
func TestRoll(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	kinds := []map[string]any{
		{"name": "secret rw"},
		{"name": "secret ro", "permission": "read_only"},
		{"name": "publishable", "type": "publishable"},
	}
	for _, grace := range []int{-1, 0, 3600, 604800} { // -1: no body at all
		for _, kind := range kinds {
			name := fmt.Sprintf("%s/expires_in=%d", kind["name"], grace)
			if grace == -1 {
				name = fmt.Sprintf("%s/no body", kind["name"])
			}
			t.Run(name, func(t *testing.T) {
				defer e.use(t)()
				old := e.createKey(e.admin, kind)
				wantStatus(t, e.do("GET", "/v1/me", old.Key, nil), http.StatusOK)

				var body any
				if grace >= 0 {
					body = map[string]any{"expires_in": grace}
				}
				start := e.clock.Now()
				r := e.do("POST", "/v1/keys/"+old.ID+"/roll", e.admin, body)
				wantStatus(t, r, http.StatusCreated)
				wantRateLimitHeaders(t, r)
				nk := checkMeta(t, r.Body, "key")
				e.remember(nk.Key)
				if nk.ID == old.ID || nk.Key == old.Key {
					t.Fatalf("roll returned the same key")
				}
				want := old
				want.CreatedAt = rfc(start)
				if d := cmp.Diff(want, nk, cmpopts.IgnoreFields(keyMeta{}, "ID", "Key", "LastUsedAt")); d != "" {
					t.Errorf("rolled key differs in name/type/permission/environment (-old +new):\n%s", d)
				}
				if !strings.HasPrefix(nk.Key, old.Key[:8]) {
					t.Errorf("rolled key %.8s… has another type/environment than %.8s…", nk.Key, old.Key)
				}
				wantStatus(t, e.do("GET", "/v1/me", nk.Key, nil), http.StatusOK)

				if grace <= 0 {
					// At once: the clock has not moved.
					wantError(t, e.do("GET", "/v1/me", old.Key, nil), http.StatusUnauthorized, "expired_api_key")
				} else {
					g := time.Duration(grace) * time.Second
					wantStatus(t, e.do("GET", "/v1/me", old.Key, nil), http.StatusOK)
					e.clock.Advance(g - time.Second)
					wantStatus(t, e.do("GET", "/v1/me", old.Key, nil), http.StatusOK)
					r := e.do("GET", "/v1/keys/"+old.ID, e.admin, nil)
					if m := checkMeta(t, r.Body); m.ExpiresAt == nil || *m.ExpiresAt != *rfc(start.Add(g)) {
						t.Errorf("old key's expires_at = %v, want %s", m.ExpiresAt, *rfc(start.Add(g)))
					}
					e.clock.Advance(2 * time.Second)
					wantError(t, e.do("GET", "/v1/me", old.Key, nil), http.StatusUnauthorized, "expired_api_key")
				}
				r = e.do("GET", "/v1/keys/"+old.ID, e.admin, nil)
				if m := checkMeta(t, r.Body); m.Status != "expired" {
					t.Errorf("old key status after its grace = %q, want expired", m.Status)
				}
				wantStatus(t, e.do("GET", "/v1/me", nk.Key, nil), http.StatusOK)
			})
		}
	}
}

// TestRollValidation: expires_in bounds and body errors.
func TestRollValidation(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	for _, tc := range []struct {
		name, body string
		mods       []func(*http.Request)
		wantCode   string
		wantParam  string
	}{
		{name: "negative", body: `{"expires_in":-1}`, wantCode: "invalid_parameter", wantParam: "expires_in"},
		{name: "over 7 days", body: `{"expires_in":604801}`, wantCode: "invalid_parameter", wantParam: "expires_in"},
		{name: "huge", body: `{"expires_in":1e30}`},
		{name: "fraction", body: `{"expires_in":1.5}`},
		{name: "string", body: `{"expires_in":"60"}`, wantCode: "invalid_parameter", wantParam: "expires_in"},
		{name: "unknown field", body: `{"grace":60}`},
		{name: "malformed", body: `{"expires_in":`},
		{name: "wrong Content-Type", body: `{"expires_in":60}`, mods: []func(*http.Request){contentType("text/plain")}},
		{name: "too large", body: `{"expires_in":60` + strings.Repeat(" ", 65<<10) + `}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer e.use(t)()
			k := e.createKey(e.admin, map[string]any{"name": "victim"})
			r := e.do("POST", "/v1/keys/"+k.ID+"/roll", e.admin, tc.body, tc.mods...)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.Status, r.Body)
			}
			code := tc.wantCode
			if code == "" {
				code = errorCode(t, r)
			}
			got := wantError(t, r, http.StatusBadRequest, code)
			if tc.wantCode != "" && got.Param != tc.wantParam {
				t.Errorf("param = %q, want %q", got.Param, tc.wantParam)
			}
			// A refused roll leaves the key working.
			wantStatus(t, e.do("GET", "/v1/me", k.Key, nil), http.StatusOK)
		})
	}
}

// TestExpiresAt: a key created with expires_at works until then, then gets
// 401 expired_api_key and is listed as expired.
func TestExpiresAt(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	k := e.createKey(e.admin, map[string]any{"name": "short-lived", "expires_at": clockStart.Add(time.Hour).Format(time.RFC3339)})
	wantStatus(t, e.do("GET", "/v1/me", k.Key, nil), http.StatusOK)
	e.clock.Advance(time.Hour - time.Second)
	wantStatus(t, e.do("GET", "/v1/me", k.Key, nil), http.StatusOK)
	e.clock.Advance(2 * time.Second)
	wantError(t, e.do("GET", "/v1/me", k.Key, nil), http.StatusUnauthorized, "expired_api_key")
	r := e.do("GET", "/v1/keys/"+k.ID, e.admin, nil)
	if m := checkMeta(t, r.Body); m.Status != "expired" {
		t.Errorf("status = %q, want expired", m.Status)
	}
}

// TestDisabledAndNetworks covers the rest of the table's key states:
// disabled keys and keys restricted to networks.
func TestDisabledAndNetworks(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, withConfig(func(c *Config) {
		c.TrustedProxies.Networks = nil // the TCP peer is the client
	}))
	k := e.createKey(e.admin, map[string]any{"name": "to disable"})
	wantStatus(t, e.do("GET", "/v1/me", k.Key, nil), http.StatusOK)
	if _, err := e.s.mgr.Disable(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.do("GET", "/v1/me", k.Key, nil), http.StatusUnauthorized, "disabled_api_key")

	restricted := e.mint(apikey.CreateParams{Name: "office only", Type: apikey.SecretKey, Environment: apikey.Test,
		Permission: apikey.ReadWrite, AllowedNetworks: mustPrefixes(t, "10.0.0.0/8")})
	wantError(t, e.do("GET", "/v1/me", restricted, nil), http.StatusForbidden, "ip_not_allowed")
	// X-Forwarded-For from an untrusted peer is not believed.
	wantError(t, e.do("GET", "/v1/me", restricted, nil, header("X-Forwarded-For", "10.1.2.3")), http.StatusForbidden, "ip_not_allowed")
}

// TestEnvironmentIsolation: keys and monitors of one environment are
// invisible to the other.
func TestEnvironmentIsolation(t *testing.T) {
	t.Parallel()
	live := generate(t, apikey.SecretKey, apikey.Live)
	e := newTestEnv(t, withConfig(func(c *Config) { c.AdminKey = live }))
	if !e.s.generatedAdminKey.IsZero() {
		t.Errorf("an admin key was generated although GATEKEY_ADMIN_KEY was set")
	}
	testAdmin := e.mint(apikey.CreateParams{Name: "test admin", Type: apikey.SecretKey, Environment: apikey.Test, Permission: apikey.ReadWrite})

	r := e.do("GET", "/v1/me", live, nil)
	wantStatus(t, r, http.StatusOK)
	me := checkMeta(t, r.Body, meFields...)
	want := keyMeta{ID: mustParse(t, live).ID(), Name: "admin", Type: "secret", Environment: "live", Permission: "read_write", Status: "active", CreatedAt: rfc(clockStart)}
	if d := cmp.Diff(want, me, cmpopts.IgnoreFields(keyMeta{}, "RateLimit", "LastUsedAt")); d != "" {
		t.Errorf("configured live admin /v1/me (-want +got):\n%s", d)
	}

	liveMon := decodeJSON[monitorJ](t, e.do("POST", "/v1/monitors", live, map[string]any{"name": "prod", "url": "https://example.com"}))
	testMon := decodeJSON[monitorJ](t, e.do("POST", "/v1/monitors", testAdmin, map[string]any{"name": "staging", "url": "https://staging.example.com"}))
	for _, tc := range []struct {
		caller string
		own    monitorJ
		other  monitorJ
	}{{live, liveMon, testMon}, {testAdmin, testMon, liveMon}} {
		wantStatus(t, e.do("GET", "/v1/monitors/"+tc.own.ID, tc.caller, nil), http.StatusOK)
		wantError(t, e.do("GET", "/v1/monitors/"+tc.other.ID, tc.caller, nil), http.StatusNotFound, "not_found")
		wantError(t, e.do("DELETE", "/v1/monitors/"+tc.other.ID, tc.caller, nil), http.StatusNotFound, "not_found")
		var ids []string
		for _, m := range decodeJSON[struct{ Data []monitorJ }](t, e.do("GET", "/v1/monitors", tc.caller, nil)).Data {
			ids = append(ids, m.ID)
		}
		if !slices.Equal(ids, []string{tc.own.ID}) {
			t.Errorf("monitors listed = %v, want only %v", ids, tc.own.ID)
		}
	}
	// The failed cross-environment delete did not delete.
	wantStatus(t, e.do("GET", "/v1/monitors/"+testMon.ID, testAdmin, nil), http.StatusOK)
}
