package service

// End-to-end tests of the second contract: pages, caps and accounts (the
// helpers are in contract2_helpers_e2e_test.go).

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/google/go-cmp/cmp"
)

// TestC2Pagination checks bullet 1 (pagination): newest first (creation
// time, then id); walking with starting_after yields every item once, in
// order, for any limit; has_more false on the last page; default page 10.
func TestC2Pagination(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/v1/keys", "/v1/monitors"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			e := c2Env(t)
			owner := e.createKey(e.admin, map[string]any{"name": "owner", "tier": "pro"})
			var all [][2]string // id, creation time
			now := func() string { return e.clock.Now().UTC().Format(time.RFC3339) }
			if path == "/v1/keys" {
				all = append(all, [2]string{owner.ID, now()}) // the account's first key is listed too
			}
			for i := range 24 { // 10 a second apart, 9 more at the 10th's instant (the id breaks the tie), 5 more
				if i < 10 || i >= 19 {
					e.clock.Advance(time.Second)
				}
				if path == "/v1/keys" {
					all = append(all, [2]string{e.createKey(owner.Key, map[string]any{"name": "k"}).ID, now()})
				} else {
					all = append(all, [2]string{e.c2monitor(t, owner.Key), now()})
				}
			}
			ref, fits := e.c2walk(t, path, owner.Key, 100), false
			for _, dir := range []int{1, -1} { // the contract does not say which way the id breaks ties
				slices.SortFunc(all, func(x, y [2]string) int { return strings.Compare(y[1], x[1])*2 + dir*strings.Compare(x[0], y[0]) })
				var ids []string
				for _, m := range all {
					ids = append(ids, m[0])
				}
				fits = fits || slices.Equal(ids, c2ids(ref))
			}
			if !fits {
				t.Fatalf("one page of limit 100 (%d items) is not all %d, newest first, then by id", len(ref), len(all))
			}
			n := len(ref)
			for _, limit := range []int{1, 3, 5, 7, 0, n - 1, n, n + 1} {
				if d := cmp.Diff(c2ids(ref), c2ids(e.c2walk(t, path, owner.Key, limit))); d != "" {
					t.Errorf("walking with limit %d (-one page +walk):\n%s", limit, d)
				}
			}
			if pg, _ := e.c2get(t, path, owner.Key, nil); len(pg.Data) != 10 || pg.HasMore == nil || !*pg.HasMore {
				t.Errorf("default page: %d items, has_more %v; want 10, true", len(pg.Data), pg.HasMore)
			}
			pg, _ := e.c2get(t, path, owner.Key, url.Values{"starting_after": {ref[n-1].ID}})
			if len(pg.Data) != 0 || pg.HasMore == nil || *pg.HasMore {
				t.Errorf("after the last item: %d items, has_more %v; want none, false", len(pg.Data), pg.HasMore)
			}
		})
	}
}

// TestC2PaginationParams checks bullet 1 (pagination): a bad limit is 400
// invalid_parameter "limit"; a starting_after that is not one of the
// caller's listed items is 400 invalid_parameter "starting_after".
func TestC2PaginationParams(t *testing.T) {
	t.Parallel()
	e := c2Env(t)
	a := e.createKey(e.admin, map[string]any{"name": "a", "tier": "pro"})
	a2 := e.createKey(a.Key, map[string]any{"name": "a2"})
	b := e.createKey(e.admin, map[string]any{"name": "b", "tier": "pro"})
	rec, err := e.s.mgr.Get(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	live := e.mint(apikey.CreateParams{Name: "live", Type: apikey.SecretKey, Environment: apikey.Live,
		Permission: apikey.ReadWrite, Owner: rec.Owner, Tier: rec.Tier})
	mA, mB, mLive, mGone := e.c2monitor(t, a.Key), e.c2monitor(t, b.Key), e.c2monitor(t, live), e.c2monitor(t, a.Key)
	c2want(t, "delete monitor", e.c2send("DELETE", "/v1/monitors/"+mGone, a.Key, nil), http.StatusOK, "", "")
	type tc struct{ path, key, param, value, bad string } // bad: the param the answer must name, "" for 200
	var tests []tc
	for _, p := range []string{"/v1/keys", "/v1/monitors"} {
		for _, l := range []string{"0", "101", "-1", "abc", "1.5", "1e1", "0x10", "99999999999999999999", "10;", "٣"} {
			tests = append(tests, tc{p, a.Key, "limit", l, "limit"})
		}
		tests = append(tests, tc{p, a.Key, "limit", "1", ""}, tc{p, a.Key, "limit", "100", ""})
	}
	for _, s := range []string{"AAAAAAAAAAAA", b.ID, mustParse(t, e.admin).ID(), mA, "x", "../" + a2.ID} {
		tests = append(tests, tc{"/v1/keys", a.Key, "starting_after", s, "starting_after"})
	}
	for _, s := range []string{mB, mLive, mGone, a2.ID, "mon_AAAAAAAAAAAAAAAA"} {
		tests = append(tests, tc{"/v1/monitors", a.Key, "starting_after", s, "starting_after"})
	}
	tests = append(tests,
		tc{"/v1/monitors", live, "starting_after", mA, "starting_after"}, // the other environment
		tc{"/v1/keys", a.Key, "starting_after", a2.ID, ""},
		tc{"/v1/monitors", a.Key, "starting_after", mA, ""},
		tc{"/v1/monitors", live, "starting_after", mLive, ""})
	for _, tc := range tests {
		p := tc.path + "?" + url.Values{tc.param: {tc.value}}.Encode()
		status, code := map[bool]int{true: 200, false: 400}[tc.bad == ""], map[bool]string{false: "invalid_parameter"}[tc.bad == ""]
		c2want(t, "GET "+p, e.c2send("GET", p, tc.key, nil), status, code, tc.bad)
	}
}

// TestC2KeyCap checks bullet 2 (caps): at most 100 active keys an account,
// its first key included, also under 150 concurrent creates (409 conflict,
// no event); a roll with a grace period at the cap is 409 and changes
// nothing; a revoke or an expiry frees a slot; other accounts unaffected.
func TestC2KeyCap(t *testing.T) {
	t.Parallel()
	for _, admin := range []bool{false, true} {
		t.Run(map[bool]string{false: "tier account", true: "admin account"}[admin], func(t *testing.T) {
			t.Parallel()
			e := c2Env(t)
			owner := e.admin
			if !admin {
				owner = e.createKey(e.admin, map[string]any{"name": "first", "tier": "pro"}).Key
			}
			before := len(c2events(e.logs.String()))
			rs := c2parallel(150, func(i int) c2resp {
				return e.c2send("POST", "/v1/keys", owner, map[string]any{"name": fmt.Sprintf("k%d", i)})
			})
			if got, want := e.c2tally(rs...), map[string]int{"201": 99, "409 conflict": 51}; !cmp.Equal(got, want) {
				t.Errorf("150 concurrent creates: %v, want %v", got, want)
			}
			if n := len(c2events(e.logs.String())) - before; n != 99 {
				t.Errorf("%d key events for the burst, want 99 (created)", n)
			}
			var active []string
			for _, it := range e.c2walk(t, "/v1/keys", owner, 100) {
				if it.Status == "active" && it.ID != mustParse(t, owner).ID() {
					active = append(active, it.ID)
				}
			}
			if len(active) != 99 {
				t.Errorf("%d active keys listed besides the first, want 99", len(active))
			}
			if len(active) < 22 {
				t.FailNow()
			}
			victim := active[0]
			create := func(what string, body map[string]any, status int) {
				t.Helper()
				r := e.c2send("POST", "/v1/keys", owner, body)
				e.c2tally(r)
				c2want(t, what, r, status, map[int]string{409: "conflict"}[status], "")
			}
			create("create at the cap", map[string]any{"name": "one more"}, http.StatusConflict)
			r := e.c2send("POST", "/v1/keys/"+victim+"/roll", owner, map[string]any{"expires_in": 60})
			e.c2tally(r)
			c2want(t, "roll with a grace period at the cap", r, http.StatusConflict, "conflict", "")
			if v := decodeJSON[c2item](t, e.c2send("GET", "/v1/keys/"+victim, owner, nil).response); v.Status != "active" || v.ExpiresAt != nil {
				t.Errorf("a roll at the cap changed the key: status %s, expires_at %v", v.Status, c2time(v.ExpiresAt))
			}
			rolled := e.c2key(t, "roll without a grace period at the cap", "/v1/keys/"+victim+"/roll", owner, map[string]any{"expires_in": 0})
			c2want(t, "revoke", e.c2send("DELETE", "/v1/keys/"+rolled.ID, owner, nil), http.StatusOK, "", "")
			create("create after a revoke", map[string]any{"name": "short", "expires_at": clockStart.Add(time.Minute).Format(time.RFC3339)}, http.StatusCreated)
			create("create at the cap again", map[string]any{"name": "one more"}, http.StatusConflict)
			e.clock.Advance(time.Minute + time.Second)
			create("create after an expiry", map[string]any{"name": "after expiry"}, http.StatusCreated)
			create("create at the cap, after expiry", map[string]any{"name": "one more"}, http.StatusConflict)
			c2want(t, "revoke", e.c2send("DELETE", "/v1/keys/"+active[1], owner, nil), http.StatusOK, "", "")
			rs = c2parallel(20, func(i int) c2resp { // one slot, twenty rolls of different keys
				return e.c2send("POST", "/v1/keys/"+active[2+i]+"/roll", owner, map[string]any{"expires_in": 60})
			})
			if got, want := e.c2tally(rs...), map[string]int{"201": 1, "409 conflict": 19}; !cmp.Equal(got, want) {
				t.Errorf("20 concurrent rolls for one slot: %v, want %v", got, want)
			}
			if admin {
				opened := e.c2key(t, "opening an account while the admin account is full", "/v1/keys", e.admin, map[string]any{"name": "new", "tier": "free"})
				e.c2key(t, "a key of the opened account", "/v1/keys", opened.Key, map[string]any{"name": "x"})
			} else {
				e.c2key(t, "a key of the admin account", "/v1/keys", e.admin, map[string]any{"name": "x"})
			}
		})
	}
}

// TestC2MonitorCap checks bullet 2 (caps) and bullet 1's "a list answer is
// small": at most 1000 monitors an account, also concurrently (409); a
// delete frees a slot; a limit-100 page of 1000 holds 100.
func TestC2MonitorCap(t *testing.T) {
	t.Parallel()
	e := c2Env(t)
	create := func(key string) c2resp {
		return e.c2send("POST", "/v1/monitors", key, map[string]any{"name": "m", "url": "https://example.com/"})
	}
	if got := e.c2tally(c2parallel(990, func(int) c2resp { return create(e.admin) })...); got["201"] != 990 {
		t.Fatalf("990 creates: %v, want all 201", got)
	}
	if got, want := e.c2tally(c2parallel(60, func(int) c2resp { return create(e.admin) })...), map[string]int{"201": 10, "409 conflict": 50}; !cmp.Equal(got, want) {
		t.Errorf("60 concurrent creates from 990: %v, want %v", got, want)
	}
	c2want(t, "create at the cap", create(e.admin), http.StatusConflict, "conflict", "")
	pg, r := e.c2get(t, "/v1/monitors", e.admin, url.Values{"limit": {"100"}})
	if len(pg.Data) != 100 || pg.HasMore == nil || !*pg.HasMore || len(r.Body) > 64<<10 {
		t.Errorf("limit 100 of 1000: %d items (%d bytes), has_more %v; want 100, true", len(pg.Data), len(r.Body), pg.HasMore)
	}
	if pg, _ := e.c2get(t, "/v1/monitors", e.admin, nil); len(pg.Data) != 10 {
		t.Errorf("default page of 1000: %d items, want 10", len(pg.Data))
	}
	ids := c2ids(e.c2walk(t, "/v1/monitors", e.admin, 100))
	if len(ids) != 1000 || len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 1000 {
		t.Errorf("walk of 1000 monitors: %d items, not each once", len(ids))
	}
	other := e.createKey(e.admin, map[string]any{"name": "other", "tier": "pro"})
	c2want(t, "another account's create", create(other.Key), http.StatusCreated, "", "")
	c2want(t, "delete", e.c2send("DELETE", "/v1/monitors/"+ids[0], e.admin, nil), http.StatusOK, "", "")
	c2want(t, "create after a delete", create(e.admin), http.StatusCreated, "", "")
	c2want(t, "create at the cap again", create(e.admin), http.StatusConflict, "conflict", "")
}

// TestC2CapsBoundMemory checks bullet 2 (caps): thousands of creates from
// one key leave 99 keys and 1000 monitors, and the heap under 64 MiB. Not
// parallel: it measures the process's heap.
func TestC2CapsBoundMemory(t *testing.T) {
	e := c2Env(t)
	const tries = 3000
	name, u := strings.Repeat("n", 100), "https://example.com/"+strings.Repeat("p", 2000)
	rs := c2parallel(2*tries, func(i int) c2resp {
		if i%2 == 0 {
			return e.c2send("POST", "/v1/keys", e.admin, map[string]any{"name": name})
		}
		return e.c2send("POST", "/v1/monitors", e.admin, map[string]any{"name": name, "url": u})
	})
	for i, want := range []map[string]int{{"201": 99, "409 conflict": tries - 99}, {"201": 1000, "409 conflict": tries - 1000}} {
		var part []c2resp
		for j := i; j < len(rs); j += 2 {
			part = append(part, rs[j])
		}
		if got := e.c2tally(part...); !cmp.Equal(got, want) {
			t.Errorf("%d %s creates: %v, want %v", tries, []string{"key", "monitor"}[i], got, want)
		}
	}
	rs = nil
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > 64<<20 {
		t.Errorf("heap after GC: %d MiB, want under 64", ms.HeapAlloc>>20)
	}
	t.Logf("%d key and %d monitor creates past the caps: heap after GC %.1f MiB", tries, tries, float64(ms.HeapAlloc)/(1<<20))
}

// TestC2AccountIsolation checks bullet 3: no account sees, rolls, revokes
// or deletes another's keys and monitors (404 not_found), the admin's
// account included both ways; lists hold none of them; nothing changes.
func TestC2AccountIsolation(t *testing.T) {
	t.Parallel()
	e := c2Env(t)
	type acct struct {
		name      string
		keys, ids []string // keys[0] is the caller
		mon       string
	}
	mk := func(name, first string) acct {
		k := e.createKey(first, map[string]any{"name": name + " 2"})
		return acct{name, []string{first, k.Key}, []string{mustParse(t, first).ID(), k.ID}, e.c2monitor(t, first)}
	}
	accts := []acct{
		mk("A", e.createKey(e.admin, map[string]any{"name": "A", "tier": "pro"}).Key),
		mk("B", e.createKey(e.admin, map[string]any{"name": "B", "tier": "free"}).Key),
		mk("admin", e.admin),
	}
	for _, c := range accts {
		for _, v := range accts {
			if c.name == v.name {
				continue
			}
			for _, id := range v.ids {
				for _, rq := range [][2]string{{"GET", "/v1/keys/" + id}, {"POST", "/v1/keys/" + id + "/roll"}, {"DELETE", "/v1/keys/" + id}} {
					c2want(t, c.name+" "+rq[0]+" "+v.name+"'s key", e.c2send(rq[0], rq[1], c.keys[0], map[string]any{"POST": map[string]any{"expires_in": 60}}[rq[0]]),
						http.StatusNotFound, "not_found", "")
				}
			}
			for _, m := range []string{"GET", "DELETE"} {
				c2want(t, c.name+" "+m+" "+v.name+"'s monitor", e.c2send(m, "/v1/monitors/"+v.mon, c.keys[0], nil), http.StatusNotFound, "not_found", "")
			}
			for _, p := range []string{"/v1/keys?limit=100", "/v1/monitors?limit=100"} {
				if r := e.c2send("GET", p, c.keys[0], nil); c2want(t, c.name+" GET "+p, r, http.StatusOK, "", "") {
					for _, it := range decodeJSON[c2page](t, r.response).Data {
						if slices.Contains(v.ids, it.ID) || it.ID == v.mon {
							t.Errorf("%s's %s lists %s of %s", c.name, p, it.ID, v.name)
						}
					}
				}
			}
		}
	}
	for _, a := range accts {
		for i, k := range a.keys {
			if r := e.c2send("GET", "/v1/me", k, nil); c2want(t, a.name+"'s key works", r, http.StatusOK, "", "") {
				if m := decodeJSON[c2item](t, r.response); m.ExpiresAt != nil || m.Status != "active" {
					t.Errorf("%s's key %d changed: status %s, expires_at %v", a.name, i, m.Status, c2time(m.ExpiresAt))
				}
			}
		}
		c2want(t, a.name+"'s monitor is there", e.c2send("GET", "/v1/monitors/"+a.mon, a.keys[0], nil), http.StatusOK, "", "")
	}
}
