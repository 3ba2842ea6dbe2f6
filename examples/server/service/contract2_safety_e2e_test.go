package service

// End-to-end tests of the second contract: the lifecycle policy, lengths,
// strict JSON, redaction and events (the helpers are in
// contract2_helpers_e2e_test.go).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/google/go-cmp/cmp"
)

// TestC2LifecycleNoOutliving checks bullet 4: a key with an expiry (set at
// creation, or by a roll's grace period) creates keys that inherit its
// expires_at, is refused a later one (400 invalid_parameter "expires_at"),
// and rolls itself or any key into a successor that expires no later.
func TestC2LifecycleNoOutliving(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"expiry at creation", "grace period"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			e := c2Env(t)
			caller := e.createKey(e.admin, map[string]any{"name": "c", "expires_at": clockStart.Add(time.Hour).Format(time.RFC3339)})
			if how == "grace period" {
				caller = e.createKey(e.admin, map[string]any{"name": "c"})
				e.c2key(t, "roll into a grace period", "/v1/keys/"+caller.ID+"/roll", caller.Key, map[string]any{"expires_in": 600})
				caller.ExpiresAt = decodeJSON[c2item](t, e.c2send("GET", "/v1/me", caller.Key, nil).response).ExpiresAt
			}
			until := c2time(caller.ExpiresAt)
			if until.IsZero() {
				t.Fatalf("the caller has no expiry")
			}
			child := e.c2key(t, "create without expires_at", "/v1/keys", caller.Key, map[string]any{"name": "child"})
			if got := c2time(child.ExpiresAt); !got.Equal(until) {
				t.Errorf("a key created without expires_at expires at %v, want the caller's %v", got, until)
			}
			for _, d := range []time.Duration{time.Hour, time.Second} {
				r := e.c2send("POST", "/v1/keys", caller.Key, map[string]any{"name": "later", "expires_at": until.Add(d).Format(time.RFC3339)})
				e.c2tally(r)
				c2want(t, fmt.Sprintf("create expiring %v after the caller", d), r, http.StatusBadRequest, "invalid_parameter", "expires_at")
			}
			e.c2key(t, "create with the caller's expires_at", "/v1/keys", caller.Key, map[string]any{"name": "same", "expires_at": until.Format(time.RFC3339)})
			e.c2key(t, "create expiring sooner", "/v1/keys", caller.Key, map[string]any{"name": "sooner", "expires_at": clockStart.Add(5 * time.Minute).Format(time.RFC3339)})
			other := e.createKey(e.admin, map[string]any{"name": "forever"})
			late := e.createKey(e.admin, map[string]any{"name": "late", "expires_at": until.Add(48 * time.Hour).Format(time.RFC3339)})
			for _, rc := range []struct {
				what, id string
				grace    int
			}{{"roll a key without expiry", other.ID, 60}, {"roll a key expiring later", late.ID, 0}, {"roll itself", caller.ID, 30}} {
				s := e.c2key(t, rc.what, "/v1/keys/"+rc.id+"/roll", caller.Key, map[string]any{"expires_in": rc.grace})
				if got := c2time(s.ExpiresAt); got.IsZero() || got.After(until) {
					t.Errorf("%s: the successor expires at %v, want no later than the caller's %v", rc.what, got, until)
				}
			}
			e.clock.Advance(until.Sub(clockStart) + time.Second)
			if r := e.c2send("GET", "/v1/me", child.Key, nil); r.Status != http.StatusUnauthorized {
				t.Errorf("the caller's child after the caller's expiry: %d, want 401", r.Status)
			}
		})
	}
}

// TestC2AdminKeyProtected checks bullet 4: another key of the admin
// account gets 403 insufficient_permissions revoking or rolling the admin
// key, no event is logged for it, and the admin key keeps working.
func TestC2AdminKeyProtected(t *testing.T) {
	t.Parallel()
	e := c2Env(t)
	adminID := mustParse(t, e.admin).ID()
	deputy := e.createKey(e.admin, map[string]any{"name": "deputy", "permission": "read_write"})
	for _, body := range []any{map[string]any{"expires_in": 60}, map[string]any{"expires_in": 0}, nil} {
		r := e.c2send("POST", "/v1/keys/"+adminID+"/roll", deputy.Key, body)
		e.c2tally(r)
		c2want(t, fmt.Sprintf("deputy rolls the admin key with %v", body), r, http.StatusForbidden, "insufficient_permissions", "")
	}
	c2want(t, "deputy revokes the admin key", e.c2send("DELETE", "/v1/keys/"+adminID, deputy.Key, nil), http.StatusForbidden, "insufficient_permissions", "")
	if r := e.c2send("GET", "/v1/me", e.admin, nil); c2want(t, "the admin key afterwards", r, http.StatusOK, "", "") {
		if m := decodeJSON[c2item](t, r.response); m.Status != "active" || m.ExpiresAt != nil {
			t.Errorf("the admin key: status %s, expires_at %v; want active, no expiry", m.Status, c2time(m.ExpiresAt))
		}
	}
	for _, ev := range c2events(e.logs.String()) {
		if ev["kind"] != "created" && c2eventID(ev, "key") == adminID {
			t.Errorf("a %v event for the admin key", ev["kind"])
		}
	}
	c2want(t, "the admin revokes the deputy", e.c2send("DELETE", "/v1/keys/"+deputy.ID, e.admin, nil), http.StatusOK, "", "")
}

// TestC2NameLengths checks bullet 5: key and monitor names are 1 to 200
// bytes of UTF-8, not blank; over 200 bytes is 400 invalid_parameter
// "name" (never 500); within 200 bytes they are kept byte for byte.
func TestC2NameLengths(t *testing.T) {
	t.Parallel()
	e := c2Env(t)
	r := strings.Repeat
	for _, tc := range []struct {
		what, name string
		ok         bool
	}{
		{"empty", "", false}, {"spaces", "   ", false}, {"unicode spaces", "\u3000\u2003\u00a0", false},
		{"201 ASCII bytes", r("a", 201), false}, {"67 euro signs, 201 bytes", r("€", 67), false},
		{"51 emoji, 204 bytes", r("😀", 51), false}, {"70 CJK characters, 210 bytes", r("漢", 70), false},
		{"100 euro signs, 300 bytes", r("€", 100), false}, {"66 euro signs, 198 bytes", r("€", 66), true},
		{"50 emoji, 200 bytes", r("😀", 50), true}, {"100 é, 200 bytes", r("é", 100), true},
		{"100 ASCII bytes", r("a", 100), true}, {"combining marks", "Cafe\u0301 \u0915\u094d\u0937 ☕ e\u0301\u0301", true},
	} {
		for _, kind := range []string{"keys", "monitors"} {
			what := kind + ": " + tc.what
			body := map[string]any{"name": tc.name}
			if kind == "monitors" {
				body["url"] = "https://example.com/"
			}
			res := e.c2send("POST", "/v1/"+kind, e.admin, body)
			e.c2tally(res)
			if !tc.ok {
				c2want(t, what, res, http.StatusBadRequest, "invalid_parameter", "name")
				continue
			}
			if !c2want(t, what, res, http.StatusCreated, "", "") {
				continue
			}
			got := decodeJSON[struct{ ID, Name string }](t, res.response)
			g := e.c2send("GET", "/v1/"+kind+"/"+got.ID, e.admin, nil)
			if c2want(t, what+", GET", g, http.StatusOK, "", "") {
				if n := decodeJSON[struct{ Name string }](t, g.response).Name; n != tc.name || got.Name != tc.name {
					t.Errorf("%s: names of %d and %d bytes, want the %d bytes sent", what, len(got.Name), len(n), len(tc.name))
				}
			}
		}
	}
}

// TestC2StrictJSON checks bullet 6: field names match exactly (no case or
// Unicode folding), or 400 unknown_field naming the field as sent;
// duplicate names are 400 invalid_json; nothing is created or rolled.
func TestC2StrictJSON(t *testing.T) {
	t.Parallel()
	e := c2Env(t)
	target := e.createKey(e.admin, map[string]any{"name": "target"})
	roll := "/v1/keys/" + target.ID + "/roll"
	count := func(p string) int { pg, _ := e.c2get(t, p, e.admin, url.Values{"limit": {"100"}}); return len(pg.Data) }
	keys, mons := count("/v1/keys"), count("/v1/monitors")
	for _, tc := range [][4]string{ // path, body, code, param
		{"/v1/keys", `{"Name":"x"}`, "unknown_field", "Name"},
		{"/v1/keys", `{"NAME":"x"}`, "unknown_field", "NAME"},
		{"/v1/keys", `{"name":"x","permiſſion":"read_only"}`, "unknown_field", "permiſſion"},
		{"/v1/keys", `{"name":"x","Permission":"read_only"}`, "unknown_field", "Permission"},
		{"/v1/keys", `{"name":"x","TIER":"free"}`, "unknown_field", "TIER"},
		{"/v1/keys", `{"name":"x","expires_At":"2031-03-05T00:00:00Z"}`, "unknown_field", "expires_At"},
		{"/v1/keys", `{"\u004eame":"x"}`, "unknown_field", ""},
		{"/v1/keys", `{"name":"x","name":"y"}`, "invalid_json", ""},
		{"/v1/keys", `{"name":"x","n\u0061me":"y"}`, "invalid_json", ""},
		{"/v1/keys", `{"name":"x","type":"secret","type":"publishable"}`, "invalid_json", ""},
		{roll, `{"Expires_in":60}`, "unknown_field", "Expires_in"},
		{roll, `{"EXPIRES_IN":60}`, "unknown_field", "EXPIRES_IN"},
		{roll, `{"expires_in":0,"expires_in":60}`, "invalid_json", ""},
		{"/v1/monitors", `{"Name":"m","url":"https://example.com/"}`, "unknown_field", "Name"},
		{"/v1/monitors", `{"name":"m","URL":"https://example.com/"}`, "unknown_field", "URL"},
		{"/v1/monitors", `{"name":"m","url":"https://a.example/","url":"https://b.example/"}`, "invalid_json", ""},
	} {
		r := e.c2send("POST", tc[0], e.admin, tc[1])
		e.c2tally(r)
		c2want(t, tc[0]+" "+tc[1], r, http.StatusBadRequest, tc[2], tc[3])
	}
	if k, m := count("/v1/keys"), count("/v1/monitors"); k != keys || m != mons {
		t.Errorf("refused bodies made keys (%d → %d) or monitors (%d → %d)", keys, k, mons, m)
	}
	if g := decodeJSON[c2item](t, e.c2send("GET", "/v1/keys/"+target.ID, e.admin, nil).response); g.ExpiresAt != nil {
		t.Errorf("a refused roll body rolled the key (expires_at %s)", *g.ExpiresAt)
	}
}

// TestC2Redaction checks bullet 7: a real key sent anywhere (path, clean or
// not; query; headers; method; field names and values; Idempotency-Key; a
// 431 header) is in no answer or log line; unclean paths get a JSON 404,
// no redirect; a key as X-Request-Id is replaced by a req_ id; a key with
// a wrong checksum is neither logged nor echoed as a field name.
func TestC2Redaction(t *testing.T) {
	t.Parallel()
	e := c2Env(t)
	caller := e.createKey(e.admin, map[string]any{"name": "caller"})
	target := "/v1/keys/" + e.createKey(e.admin, map[string]any{"name": "target"}).ID + "/roll"
	minted := e.mint(apikey.CreateParams{Name: "minted", Type: apikey.SecretKey, Environment: apikey.Test,
		Permission: apikey.ReadWrite, Owner: adminAccount})
	good := generate(t, apikey.SecretKey, apikey.Test)
	bad := good[:len(good)-1] + string(base62[(strings.IndexByte(base62, good[len(good)-1])+1)%62])
	if _, err := apikey.Parse(bad); err == nil {
		t.Fatal("the wrong-checksum key parses")
	}
	type tc struct {
		name, method, path string
		body               any
		hdr                []string // name, value, …
		status             int      // 0: any
		code               string   // "": any
	}
	mon := map[string]any{"name": "m", "url": "https://example.com/"}
	cases := func(s string) []tc {
		return []tc{
			{"path /v1/keys/s", "GET", "/v1/keys/" + s, nil, nil, 404, "not_found"},
			{"path DELETE /v1/keys/s", "DELETE", "/v1/keys/" + s, nil, nil, 404, "not_found"},
			{"path roll", "POST", "/v1/keys/" + s + "/roll", map[string]any{}, nil, 404, "not_found"},
			{"path /v1/s", "GET", "/v1/" + s, nil, nil, 404, "not_found"},
			{"path /v1//s", "GET", "/v1//" + s, nil, nil, 404, "not_found"},
			{"path /s/../v1/me", "GET", "/" + s + "/../v1/me", nil, nil, 404, "not_found"},
			{"path /v1/keys/./s", "GET", "/v1/keys/./" + s, nil, nil, 404, "not_found"},
			{"path /v1/monitors//s/..", "DELETE", "/v1/monitors//" + s + "/..", nil, nil, 404, "not_found"},
			{"path, percent-encoded", "GET", "/v1/keys/%" + fmt.Sprintf("%X", s[0]) + s[1:], nil, nil, 404, "not_found"},
			{"query x", "GET", "/v1/me?x=" + s, nil, nil, 200, ""},
			{"query name", "GET", "/v1/me?" + s + "=1", nil, nil, 200, ""},
			{"header name", "GET", "/v1/me", nil, []string{"X-" + s, "1"}, 200, ""},
			{"malformed JSON", "POST", "/v1/keys", `{"name":"` + s, nil, 400, "invalid_json"},
			{"query starting_after keys", "GET", "/v1/keys?starting_after=" + s, nil, nil, 400, "invalid_parameter"},
			{"query starting_after monitors", "GET", "/v1/monitors?starting_after=" + s, nil, nil, 400, "invalid_parameter"},
			{"query limit", "GET", "/v1/keys?limit=" + s, nil, nil, 400, "invalid_parameter"},
			{"X-Request-Id", "GET", "/v1/me", nil, []string{"X-Request-Id", s}, 200, ""},
			{"X-Request-Id holding it", "GET", "/v1/me", nil, []string{"X-Request-Id", "trace-" + s + "-1"}, 200, ""},
			{"X-Request-Id on a 404", "GET", "/v1/nowhere", nil, []string{"X-Request-Id", s}, 404, "not_found"},
			{"User-Agent", "GET", "/v1/me", nil, []string{"User-Agent", s}, 200, ""},
			{"custom header", "GET", "/v1/me", nil, []string{"X-Debug-Token", s}, 200, ""},
			{"Referer", "GET", "/v1/me", nil, []string{"Referer", "https://example.com/?k=" + s}, 200, ""},
			{"Origin", "GET", "/v1/me", nil, []string{"Origin", "https://" + s + ".example"}, 0, ""},
			{"preflight", "OPTIONS", "/v1/keys", nil, []string{"Origin", "https://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", s}, 0, ""},
			{"Content-Type", "POST", "/v1/keys", `{"name":"x"}`, []string{"Content-Type", "text/" + s}, 400, ""},
			{"Idempotency-Key on keys", "POST", "/v1/keys", map[string]any{"name": ""}, []string{"Idempotency-Key", s}, 0, ""},
			{"Idempotency-Key on monitors", "POST", "/v1/monitors", mon, []string{"Idempotency-Key", s}, 0, ""},
			{"Idempotency-Key replayed", "POST", "/v1/monitors", mon, []string{"Idempotency-Key", s}, 0, ""},
			{"Idempotency-Key mismatch", "POST", "/v1/monitors", map[string]any{"name": "n", "url": "https://example.com/"}, []string{"Idempotency-Key", s}, 0, ""},
			{"method", s, "/v1/me", nil, nil, 0, ""},
			{"method and path", s, "/v1/keys/" + s, nil, nil, 0, ""},
			{"field name on keys", "POST", "/v1/keys", map[string]any{s: 1}, nil, 400, "unknown_field"},
			{"field name on monitors", "POST", "/v1/monitors", map[string]any{"name": "m", "url": "https://example.com/", s: 1}, nil, 400, "unknown_field"},
			{"field name on roll", "POST", target, map[string]any{s: 1}, nil, 400, "unknown_field"},
			{"value type", "POST", "/v1/keys", map[string]any{"name": "x", "type": s}, nil, 400, "invalid_parameter"},
			{"value permission", "POST", "/v1/keys", map[string]any{"name": "x", "permission": s}, nil, 400, "invalid_parameter"},
			{"value expires_at", "POST", "/v1/keys", map[string]any{"name": "x", "expires_at": s}, nil, 400, ""},
			{"value expires_in", "POST", target, map[string]any{"expires_in": s}, nil, 400, ""},
			{"value key name", "POST", "/v1/keys", map[string]any{"name": s}, nil, 0, ""},
			{"value monitor name", "POST", "/v1/monitors", map[string]any{"name": s, "url": "https://example.com/"}, nil, 0, ""},
			{"value monitor url", "POST", "/v1/monitors", map[string]any{"name": "m", "url": "https://example.com/?token=" + s}, nil, 0, ""},
			{"431 header", "GET", "/v1/me", nil, []string{"X-Pad", s + strings.Repeat("a", 256<<10)}, 431, ""},
		}
	}
	for _, sub := range []struct{ name, s string }{{"admin key", e.admin}, {"minted key", minted}, {"wrong checksum", bad}} {
		real := sub.s != bad
		for _, c := range cases(sub.s) {
			what := sub.name + ", " + c.name
			var mods []func(*http.Request)
			for i := 0; i < len(c.hdr); i += 2 {
				mods = append(mods, func(r *http.Request) { r.Header.Set(c.hdr[i], c.hdr[i+1]) })
			}
			r := e.c2send(c.method, c.path, caller.Key, c.body, mods...)
			e.c2tally(r)
			field := c.code == "unknown_field"
			if r.Status >= 300 && r.Status < 400 {
				t.Errorf("%s: answered with a redirect %d", what, r.Status)
			}
			if c.status != 0 && real || field {
				c2want(t, what, r, c.status, c.code, "")
			}
			if real {
				for _, w := range c2leaks(r, []string{e.admin, minted, caller.Key}) {
					t.Errorf("%s: %s (status %d)", what, w, r.Status)
				}
				if rid := r.Header.Get("X-Request-Id"); c.hdr != nil && c.hdr[0] == "X-Request-Id" && !strings.HasPrefix(rid, "req_") {
					t.Errorf("%s: X-Request-Id %s, want a generated req_ id", what, c2show(rid))
				}
			}
			if _, p, _ := c2errOf(r); field && (p == "" || strings.Contains(p, sub.s) || real && strings.Contains(p, leakForms(sub.s)[1]) || bytes.Contains(r.Body, []byte(sub.s))) {
				t.Errorf("%s: param %s (or the body) echoes the field name; want it redacted", what, c2show(p))
			}
		}
	}
	for label, forms := range map[string][]string{"the admin key (or its secret)": leakForms(e.admin),
		"the minted key (or its secret)": leakForms(minted), "the wrong-checksum key": {bad}} {
		c2logLeaks(t, e.logs.String(), label, forms)
	}
}

// TestC2KeyEventsByID checks bullet 8: creating, rolling and revoking keys
// are logged, in order, as "key event" lines that name keys by id only:
// no plaintext, secret, hash or name, nothing key-shaped.
func TestC2KeyEventsByID(t *testing.T) {
	t.Parallel()
	e := c2Env(t)
	a := e.createKey(e.admin, map[string]any{"name": "owner", "tier": "pro"})
	b := e.createKey(a.Key, map[string]any{"name": "secret-looking " + strings.Repeat("Z", 30)})
	b2 := e.c2key(t, "roll", "/v1/keys/"+b.ID+"/roll", a.Key, map[string]any{"expires_in": 60})
	c2want(t, "revoke", e.c2send("DELETE", "/v1/keys/"+b2.ID, a.Key, nil), http.StatusOK, "", "")
	var got []string
	for _, ev := range c2events(e.logs.String()) {
		if id := c2eventID(ev, "key"); id != mustParse(t, e.admin).ID() {
			got = append(got, strings.TrimSpace(fmt.Sprint(ev["kind"])+" "+id+" "+c2eventID(ev, "successor")))
		}
		j, _ := json.Marshal(ev)
		for _, f := range []string{"hash", "key_hash", "secret", "plaintext", "token", "name"} {
			if bytes.Contains(j, []byte(`"`+f+`":`)) {
				t.Errorf("a %v event has a member %q", ev["kind"], f)
			}
		}
		if !validKeyIDShape(c2eventID(ev, "key")) || strings.HasPrefix(c2show(strings.ReplaceAll(string(j), "acct_", "")), "<") {
			t.Errorf("a %v event does not name its key by id only (or holds something key-shaped)", ev["kind"])
		}
	}
	if d := cmp.Diff([]string{"created " + a.ID, "created " + b.ID, "rolled " + b.ID + " " + b2.ID, "revoked " + b2.ID}, got); d != "" {
		t.Errorf("key events (-want +got):\n%s", d)
	}
	// checkLogs (at cleanup) fails if any of these keys is in a log line.
}
