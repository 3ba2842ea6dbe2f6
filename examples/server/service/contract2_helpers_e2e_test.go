package service

// End-to-end tests of the reference service's second contract, written
// from the contract, not the code. Failure messages never print an
// answer's body (it could hold a key): statuses, codes, redacted params.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/ratelimit"
)

// c2Tiers are plans whose limits never get in the way.
const c2Tiers = "free:100000/minute:10000000/month;pro:100000/minute:10000000/month"

func c2Env(t *testing.T) *testEnv {
	return newTestEnv(t, withTiers(c2Tiers),
		withConfig(func(c *Config) { c.Rate = ratelimit.MustParsePolicy("100000/minute") }))
}

// c2resp is an answer with its status line; err is a transport error.
type c2resp struct {
	response
	line string
	err  error
}

// c2send sends a request without following redirects and without the
// shared helpers' checks (which print bodies). It is safe in goroutines.
func (e *testEnv) c2send(method, path, key string, body any, mods ...func(*http.Request)) c2resp {
	var rd io.Reader
	if b, ok := body.(string); ok {
		rd = strings.NewReader(b)
	} else if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, rd)
	if err != nil {
		return c2resp{err: fmt.Errorf("new request: %s", c2show(err.Error()))}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for _, m := range mods {
		m(req)
	}
	client := *e.client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Do(req)
	if err != nil {
		return c2resp{err: fmt.Errorf("transport: %s", c2show(err.Error()))}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return c2resp{response: response{Status: res.StatusCode, Header: res.Header, Body: b}, line: res.Status, err: err}
}

// c2show quotes s for a failure message, unless it has a run of 20 or
// more letters, digits or '_' (it could hold a key).
func c2show(s string) string {
	n := 0
	for _, c := range []byte(s) {
		if n = n + 1; !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_') {
			n = 0
		} else if n >= 20 {
			return "<a long value, not shown>"
		}
	}
	return strconv.Quote(s)
}

// c2errOf returns the code and param of an error answer.
func c2errOf(r c2resp) (code, param string, ok bool) {
	var b struct {
		Error *struct{ Code, Param string } `json:"error"`
	}
	if json.Unmarshal(r.Body, &b) != nil || b.Error == nil {
		return "", "", false
	}
	return b.Error.Code, b.Error.Param, true
}

// c2want checks the status and, for a code, the JSON error's code (and
// param, if not empty); it never prints the body.
func c2want(t *testing.T, what string, r c2resp, status int, code, param string) bool {
	t.Helper()
	if r.err != nil {
		t.Errorf("%s: %v", what, r.err)
		return false
	}
	c, p, ok := c2errOf(r)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Status != status || code != "" && (!ok || c != code || param != "" && p != param || mt != "application/json") {
		t.Errorf("%s: %d code %s param %s (%s), want %d %s param %q", what, r.Status, c2show(c), c2show(p), c2show(mt), status, code, param)
		return false
	}
	return true
}

// c2key sends a create or roll that must succeed and returns the new key,
// remembered.
func (e *testEnv) c2key(t *testing.T, what, path, caller string, body any) keyMeta {
	t.Helper()
	r := e.c2send("POST", path, caller, body)
	if !c2want(t, what, r, http.StatusCreated, "", "") {
		t.FailNow()
	}
	m := checkMeta(t, r.Body, "key")
	e.remember(m.Key)
	return m
}

// c2monitor creates a monitor and returns its id.
func (e *testEnv) c2monitor(t *testing.T, key string) string {
	t.Helper()
	r := e.c2send("POST", "/v1/monitors", key, map[string]any{"name": "m", "url": "https://example.com/"})
	if !c2want(t, "create monitor", r, http.StatusCreated, "", "") {
		t.FailNow()
	}
	return decodeJSON[monitorJ](t, r.response).ID
}

// c2leaks says where an answer holds one of keys or its secret.
func c2leaks(r c2resp, keys []string) (where []string) {
	var hdr strings.Builder
	for name, vs := range r.Header {
		fmt.Fprintf(&hdr, "%s: %s\n", name, strings.Join(vs, ", "))
	}
	for _, k := range keys {
		for _, s := range leakForms(k) {
			for part, text := range map[string]string{"status line": r.line, "headers": hdr.String(), "body": string(r.Body)} {
				if strings.Contains(text, s) {
					where = append(where, fmt.Sprintf("the %s: %d characters of a key", part, len(s)))
				}
			}
		}
	}
	return where
}

// c2logLeaks fails for every log line holding one of forms, never
// printing it.
func c2logLeaks(t *testing.T, logs, label string, forms []string) {
	t.Helper()
	for line := range strings.Lines(logs) {
		for _, s := range forms {
			if strings.Contains(line, s) {
				var m map[string]any
				_ = json.Unmarshal([]byte(line), &m)
				var fields []string
				for f, v := range m {
					if b, _ := json.Marshal(v); strings.Contains(string(b), s) {
						fields = append(fields, f)
					}
				}
				slices.Sort(fields)
				t.Errorf("a log line (msg %s) holds %s in %v", c2show(fmt.Sprint(m["msg"])), label, fields)
			}
		}
	}
}

type c2item struct {
	ID        string  `json:"id"`
	CreatedAt string  `json:"created_at"`
	Status    string  `json:"status"`
	ExpiresAt *string `json:"expires_at"`
}

type c2page struct {
	Data    []c2item `json:"data"`
	HasMore *bool    `json:"has_more"`
}

// c2get fetches one page of a list.
func (e *testEnv) c2get(t *testing.T, path, key string, q url.Values) (c2page, c2resp) {
	t.Helper()
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	r := e.c2send("GET", path, key, nil)
	var pg c2page
	if !c2want(t, "GET "+path, r, http.StatusOK, "", "") || json.Unmarshal(r.Body, &pg) != nil || pg.Data == nil {
		t.Fatalf("GET %s: not a 200 {\"data\": [...]}", path)
	}
	return pg, r
}

// c2walk walks a list page by page with starting_after (limit 0: the
// default, 10) and returns every item in order.
func (e *testEnv) c2walk(t *testing.T, path, key string, limit int) (all []c2item) {
	t.Helper()
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	size := limit + 10*max(0, 1-limit) // the default is 10
	for page := 1; page < 2000; page++ {
		pg, _ := e.c2get(t, path, key, q)
		switch {
		case pg.HasMore == nil:
			t.Errorf("%s limit %d page %d: no has_more", path, limit, page)
		case len(pg.Data) > size:
			t.Errorf("%s limit %d page %d holds %d items", path, limit, page, len(pg.Data))
		case page > 1 && len(pg.Data) == 0:
			t.Errorf("%s limit %d: page %d is empty, yet the one before said has_more", path, limit, page)
		}
		all = append(all, pg.Data...)
		if pg.HasMore == nil || !*pg.HasMore || len(pg.Data) == 0 {
			break
		}
		q.Set("starting_after", pg.Data[len(pg.Data)-1].ID)
	}
	return all
}

func c2ids(items []c2item) (ids []string) {
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	return ids
}

// c2parallel runs f(0) … f(n-1) on 16 workers and returns the answers.
func c2parallel(n int, f func(i int) c2resp) []c2resp {
	out, sem := make([]c2resp, n), make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() { out[i] = f(i); <-sem })
	}
	wg.Wait()
	return out
}

// c2tally counts answers by status and error code, remembering new keys.
func (e *testEnv) c2tally(rs ...c2resp) map[string]int {
	got := map[string]int{}
	for _, r := range rs {
		var k struct{ Key string }
		if json.Unmarshal(r.Body, &k); r.err == nil && r.Status == http.StatusCreated && k.Key != "" {
			e.remember(k.Key)
		}
		c, _, _ := c2errOf(r)
		got[strings.TrimSpace(strconv.Itoa(r.Status)+" "+c)]++ // 0: a transport error
	}
	return got
}

// c2time parses an RFC 3339 time; nil (or garbage) is the zero time.
func c2time(s *string) (v time.Time) {
	if s != nil {
		v, _ = time.Parse(time.RFC3339, *s)
	}
	return v
}

// c2events returns the "key event" lines' event groups.
func c2events(logs string) (out []map[string]any) {
	for line := range strings.Lines(logs) {
		var m struct {
			Msg   string
			Event map[string]any
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Msg == "key event" {
			out = append(out, m.Event)
		}
	}
	return out
}

// c2eventID returns ev[group]["id"].
func c2eventID(ev map[string]any, group string) string {
	g, _ := ev[group].(map[string]any)
	id, _ := g["id"].(string)
	return id
}
