package middleware_test

// Adversarial tests of the idempotency step (middleware.Idempotency and the
// Gate's use of it), written from the doc comments of the Gate,
// middleware.Idempotency and idempotency.Store and the README's error
// table, not from the implementation.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/middleware"
)

// ------------------------------------------------------------------ replay

func TestIdemAdvReplayByteIdentical(t *testing.T) {
	w := newIaWorld(t, iaOpts{rate: "100/minute"})
	first := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("order-1"), body: `{"amount":5}`, reqID: "first-request"})
	if first.Code != 201 {
		t.Fatalf("first: %d %s", first.Code, first.Body)
	}
	if iaReplayed(first) {
		t.Errorf("first answer carries Idempotent-Replayed")
	}
	for i := 0; i < 3; i++ {
		again := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("order-1"), body: `{"amount":5}`, reqID: "retry-" + strconv.Itoa(i)})
		fh, ah := first.Result().Header, again.Result().Header
		if again.Code != first.Code || !bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) {
			t.Errorf("retry %d: %d %q, want %d %q", i, again.Code, again.Body, first.Code, first.Body)
		}
		for _, h := range []string{"Content-Type", "Location"} {
			if d := cmp.Diff(fh.Values(h), ah.Values(h)); d != "" {
				t.Errorf("retry %d: %s differs (-first +replay):\n%s", i, h, d)
			}
		}
		if !iaReplayed(again) {
			t.Errorf("retry %d: Idempotent-Replayed = %q, want true", i, ah.Get(middleware.IdempotentReplayedHeader))
		}
		if got := ah.Get("X-Request-Id"); got != "retry-"+strconv.Itoa(i) {
			t.Errorf("retry %d: X-Request-Id %q, want the retry's own id", i, got)
		}
		for _, h := range []string{"Set-Cookie", "Cache-Control", "X-Handler-Run"} {
			if v := ah.Values(h); len(v) > 0 && cmp.Equal(v, fh.Values(h)) {
				t.Errorf("retry %d: per-request header %s %q copied from the first answer", i, h, v)
			}
		}
		if ah.Get("RateLimit") == "" || ah.Get("RateLimit") == fh.Get("RateLimit") {
			t.Errorf("retry %d: RateLimit %q (first %q): want this request's own rate-limit state", i, ah.Get("RateLimit"), fh.Get("RateLimit"))
		}
	}
	if n := w.count("things"); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
}

// Over a real connection: a sniffed Content-Type and the bytes on the wire.
func TestIdemAdvReplayOverTheWire(t *testing.T) {
	w := newIaWorld(t, iaOpts{})
	srv := httptest.NewServer(w.h)
	defer srv.Close()
	send := func(path string) (*http.Response, []byte) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader("x=1"))
		req.Header.Set("Authorization", "Bearer "+w.keys["a1"])
		req.Header.Set("Idempotency-Key", "wire-"+path)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	for _, path := range []string{"/v1/sniff", "/v1/things", "/v1/nocontent", "/v1/stream"} {
		r1, b1 := send(path)
		r2, b2 := send(path)
		if r1.StatusCode != r2.StatusCode || !bytes.Equal(b1, b2) {
			t.Errorf("%s: first %d %q, replay %d %q", path, r1.StatusCode, b1, r2.StatusCode, b2)
		}
		// (Content-Length is framing, not content: a streamed first answer
		// is chunked, its replay need not be.)
		for _, h := range []string{"Content-Type", "Location"} {
			if r1.Header.Get(h) != r2.Header.Get(h) {
				t.Errorf("%s: %s first %q, replay %q", path, h, r1.Header.Get(h), r2.Header.Get(h))
			}
		}
		if r2.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("%s: replay lacks Idempotent-Replayed: true", path)
		}
	}
}

func TestIdemAdvHeaderAfterWriteHeaderNotReplayed(t *testing.T) {
	w := newIaWorld(t, iaOpts{})
	first := w.do(iaReq{path: "/v1/late-header", key: "a1", idem: iaIdem("late")})
	again := w.do(iaReq{path: "/v1/late-header", key: "a1", idem: iaIdem("late")})
	if loc := first.Result().Header.Get("Location"); loc != "" {
		t.Fatalf("first answer sent Location %q although it was set after WriteHeader", loc)
	}
	if loc := again.Result().Header.Get("Location"); loc != "" {
		t.Errorf("replay carries Location %q, which the first answer never sent: not byte for byte", loc)
	}
	if !iaReplayed(again) || again.Body.String() != first.Body.String() {
		t.Errorf("replay %d %q (replayed %v), want %q", again.Code, again.Body, iaReplayed(again), first.Body)
	}
}

func TestIdemAdvEmptyAnswers(t *testing.T) {
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/v1/nocontent", 204},
		{"/v1/nothing", 200},
		{"/v1/invalid", 400}, // a 4xx answer of the handler is kept too
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := newIaWorld(t, iaOpts{})
			first := w.do(iaReq{path: tc.path, key: "a1", idem: iaIdem("e")})
			again := w.do(iaReq{path: tc.path, key: "a1", idem: iaIdem("e")})
			if first.Code != tc.status || again.Code != tc.status {
				t.Errorf("statuses %d, %d; want %d twice", first.Code, again.Code, tc.status)
			}
			if !bytes.Equal(first.Body.Bytes(), again.Body.Bytes()) {
				t.Errorf("bodies %q, %q", first.Body, again.Body)
			}
			if !iaReplayed(again) {
				t.Errorf("retry not replayed")
			}
			if n := w.count(strings.TrimPrefix(tc.path, "/v1/")); n != 1 {
				t.Errorf("handler ran %d times, want 1", n)
			}
		})
	}
}

func TestIdemAdvStreamingHandler(t *testing.T) {
	t.Run("recorder", func(t *testing.T) {
		w := newIaWorld(t, iaOpts{})
		first := w.do(iaReq{path: "/v1/stream", key: "a1", idem: iaIdem("s")})
		if e, _ := w.flushEr.Load().(string); e != "" {
			t.Errorf("http.ResponseController.Flush behind the idempotency step: %s", e)
		}
		if first.Body.String() != "data: one 1\n\ndata: two 1\n\n" {
			t.Errorf("streamed body %q", first.Body)
		}
		again := w.do(iaReq{path: "/v1/stream", key: "a1", idem: iaIdem("s")})
		if again.Body.String() != first.Body.String() || !iaReplayed(again) {
			t.Errorf("replay of a streamed answer: %q (replayed %v)", again.Body, iaReplayed(again))
		}
	})
	t.Run("server", func(t *testing.T) {
		w := newIaWorld(t, iaOpts{})
		srv := httptest.NewServer(w.h)
		defer srv.Close()
		req, _ := http.NewRequest("POST", srv.URL+"/v1/stream?sync=1", nil)
		req.Header.Set("Authorization", "Bearer "+w.keys["a1"])
		req.Header.Set("Idempotency-Key", "s2")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		if err != nil || line != "data: one 1\n" {
			t.Errorf("first chunk %q, %v", line, err)
		}
		close(w.sync) // the client saw the first chunk before the handler ended
		rest, _ := io.ReadAll(br)
		if string(rest) != "\ndata: two 1\n\n" {
			t.Errorf("rest %q", rest)
		}
		if e, _ := w.flushEr.Load().(string); e != "" {
			t.Errorf("streaming: %s", e)
		}
	})
}

// ----------------------------------------------------------- header forms

func TestIdemAdvKeyFormsEquivalent(t *testing.T) {
	w := newIaWorld(t, iaOpts{})
	for i, pair := range [][2]string{
		{"abc", `"abc"`},
		{`"x-1"`, "x-1"},
		{`a"b`, `"a\"b"`},
		{`a\b`, `"a\\b"`},
		{strings.Repeat("L", 255), `"` + strings.Repeat("L", 255) + `"`},
	} {
		body := fmt.Sprintf(`{"i":%d}`, i)
		first := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem(pair[0]), body: body})
		again := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem(pair[1]), body: body})
		if first.Code != 201 || again.Code != 201 || !iaReplayed(again) || again.Body.String() != first.Body.String() {
			t.Errorf("%q then %q: %d %q, then %d %q (replayed %v); want the same key", pair[0], pair[1], first.Code, first.Body, again.Code, again.Body, iaReplayed(again))
		}
	}
	// Keys differing only in case are different keys.
	first := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("CaSe"), body: "1"})
	other := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("case"), body: "2"})
	if first.Code != 201 || other.Code != 201 || iaReplayed(other) {
		t.Errorf("CaSe and case: %d, %d (replayed %v); want two keys", first.Code, other.Code, iaReplayed(other))
	}
}

func TestIdemAdvBadKeys(t *testing.T) {
	const marker = "Zq9MarkerXy"
	w := newIaWorld(t, iaOpts{allowance: credits.PerDay(100)})
	for _, tc := range []struct {
		name string
		idem []string
	}{
		{"empty", []string{""}},
		{"empty string", []string{`""`}},
		{"256 bytes", []string{marker + strings.Repeat("k", 256-len(marker))}},
		{"256 in a string", []string{`"` + marker + strings.Repeat("k", 256-len(marker)) + `"`}},
		{"space", []string{marker + " x"}},
		{"tab", []string{marker + "\tx"}},
		{"DEL", []string{marker + "\x7f"}},
		{"NUL", []string{marker + "\x00"}},
		{"newline", []string{marker + "\n"}},
		{"non-ASCII", []string{marker + "é"}},
		{"high byte", []string{marker + "\xff"}},
		{"unterminated", []string{`"` + marker}},
		{"parameters", []string{`"` + marker + `";a=1`}},
		{"bad escape", []string{`"` + marker + `\n"`}},
		{"inner list", []string{`"` + marker + `", "y"`}},
		{"two lines", []string{marker + "1", marker + "2"}},
		{"two equal lines", []string{marker, marker}},
		{"a valid and an empty line", []string{marker, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.balance("acct-a")
			rec := w.do(iaReq{path: "/v1/things", key: "a1", idem: tc.idem, body: "{}"})
			if rec.Code != 400 || iaCode(rec) != "invalid_idempotency_key" {
				t.Errorf("got %d %s, want 400 invalid_idempotency_key", rec.Code, iaCode(rec))
			}
			all := iaWholeResponse(rec)
			if strings.Contains(all, marker) {
				t.Errorf("the answer echoes the header value: %q", all)
			}
			if iaContainsSecret(all, w.secrets()) {
				t.Errorf("the answer contains an API key")
			}
			if after := w.balance("acct-a"); after != before {
				t.Errorf("a 400 spent %d credits", before-after)
			}
		})
	}
	if n := w.count("things"); n != 0 {
		t.Errorf("handler ran %d times for malformed keys", n)
	}
	if b, _, _, _ := w.spy.stats(); b != 0 {
		t.Errorf("malformed keys reached the store %d times", b)
	}
	if logs := w.logs.String(); strings.Contains(logs, marker) || iaContainsSecret(logs, w.secrets()) {
		t.Errorf("log holds a malformed header value or an API key:\n%s", logs)
	}
}

func TestIdemAdvReadMethodsIgnoreHeader(t *testing.T) {
	w := newIaWorld(t, iaOpts{idem: func(i *middleware.Idempotency) { i.Required = true }})
	for _, m := range []string{"GET", "HEAD", "OPTIONS"} {
		for _, idem := range [][]string{nil, iaIdem("read-1"), iaIdem(""), iaIdem("bad value"), {"x", "y"}} {
			before := w.count("any")
			rec := w.do(iaReq{method: m, path: "/v1/any", key: "a1", idem: idem})
			if rec.Code != 200 || iaReplayed(rec) {
				t.Errorf("%s with Idempotency-Key %q: %d %s (replayed %v), want the handler's 200", m, idem, rec.Code, rec.Body, iaReplayed(rec))
			}
			if w.count("any") != before+1 {
				t.Errorf("%s with Idempotency-Key %q: handler did not run", m, idem)
			}
		}
	}
	if b, _, _, _ := w.spy.stats(); b != 0 {
		t.Errorf("read requests reached the store %d times", b)
	}
}

func TestIdemAdvUnknownMethodsAreWrites(t *testing.T) {
	w := newIaWorld(t, iaOpts{})
	for _, m := range []string{"PATCH", "PUT", "DELETE", "PURGE", "FOO", "LOCK", "post"} {
		key := "m-" + m
		first := w.do(iaReq{method: m, path: "/v1/any", key: "a1", idem: iaIdem(key), body: "b"})
		again := w.do(iaReq{method: m, path: "/v1/any", key: "a1", idem: iaIdem(key), body: "b"})
		if first.Code != 200 || !iaReplayed(again) || again.Body.String() != first.Body.String() {
			t.Errorf("%s: %d then %d (replayed %v); a write method must be idempotent", m, first.Code, again.Code, iaReplayed(again))
		}
		bad := w.do(iaReq{method: m, path: "/v1/any", key: "a1", idem: iaIdem("bad key"), body: "b"})
		if bad.Code != 400 || iaCode(bad) != "invalid_idempotency_key" {
			t.Errorf("%s with a malformed key: %d %s, want 400 invalid_idempotency_key", m, bad.Code, iaCode(bad))
		}
	}
	// Method override headers are ignored: a POST that claims to be a GET
	// is still a write.
	r := w.newReq(iaReq{path: "/v1/any", key: "a1", idem: iaIdem("override"), body: "o"})
	r.Header.Set("X-HTTP-Method-Override", "GET")
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	r = w.newReq(iaReq{path: "/v1/any", key: "a1", idem: iaIdem("override"), body: "o"})
	r.Header.Set("X-HTTP-Method-Override", "GET")
	rec2 := httptest.NewRecorder()
	w.h.ServeHTTP(rec2, r)
	if !iaReplayed(rec2) {
		t.Errorf("POST with X-HTTP-Method-Override: GET was not treated as a write (%d)", rec2.Code)
	}
}

// ------------------------------------------------------------ concurrency

func TestIdemAdvConcurrentIdentical(t *testing.T) {
	for _, n := range []int{50, 200} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			w := newIaWorld(t, iaOpts{allowance: credits.PerDay(1000)})
			type result struct {
				code     int
				err      string
				replayed bool
				body     string
			}
			results := make(chan result, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					rec := w.do(iaReq{path: "/v1/block", key: "a1", idem: iaIdem("same"), body: "payload"})
					code := ""
					if rec.Code != 201 {
						code = iaCode(rec)
					}
					results <- result{rec.Code, code, iaReplayed(rec), rec.Body.String()}
				}()
			}
			close(start)
			// Every request either enters the handler or answers; wait until
			// all n have done one of the two, then let the handler finish.
			entered, answered := 0, 0
			var early []result
			timeout := time.After(20 * time.Second)
			for entered+answered < n {
				select {
				case <-w.entered:
					entered++
				case r := <-results:
					answered++
					early = append(early, r)
				case <-timeout:
					t.Fatalf("stuck: %d entered, %d answered", entered, answered)
				}
			}
			close(w.release)
			wg.Wait()
			close(results)
			if entered != 1 {
				t.Errorf("%d concurrent identical requests ran the handler %d times, want once", n, entered)
			}
			for _, r := range early {
				if r.code != 409 || r.err != "idempotency_conflict" {
					t.Errorf("while the first ran: %d %s, want 409 idempotency_conflict", r.code, r.err)
					break
				}
			}
			for r := range results { // the one that ran
				if r.code != 201 || r.replayed || r.body != "block run 1" {
					t.Errorf("the request that ran: %+v", r)
				}
			}
			after := w.do(iaReq{path: "/v1/block", key: "a1", idem: iaIdem("same"), body: "payload"})
			if after.Code != 201 || !iaReplayed(after) || after.Body.String() != "block run 1" {
				t.Errorf("after: %d %q replayed %v", after.Code, after.Body, iaReplayed(after))
			}
			if got := 1000 - w.balance("acct-a"); got != 1 {
				t.Errorf("%d credits spent for one run, its conflicts and its replay; want 1", got)
			}
		})
	}
}

func TestIdemAdvMismatch(t *testing.T) {
	w := newIaWorld(t, iaOpts{allowance: credits.PerDay(100)})
	first := w.do(iaReq{method: "PUT", path: "/v1/any?x=1", key: "a1", idem: iaIdem("mm"), body: "A"})
	if first.Code != 200 {
		t.Fatalf("first: %d", first.Code)
	}
	spent := 100 - w.balance("acct-a")
	for _, tc := range []struct {
		name string
		q    iaReq
	}{
		{"body", iaReq{method: "PUT", path: "/v1/any?x=1", body: "B"}},
		{"no body", iaReq{method: "PUT", path: "/v1/any?x=1"}},
		{"query", iaReq{method: "PUT", path: "/v1/any?x=2", body: "A"}},
		{"no query", iaReq{method: "PUT", path: "/v1/any", body: "A"}},
		{"method", iaReq{method: "PATCH", path: "/v1/any?x=1", body: "A"}},
		{"path", iaReq{method: "POST", path: "/v1/things", body: "A"}},
		{"other key of the account", iaReq{method: "PUT", path: "/v1/any?x=1", body: "B", key: "a2"}},
	} {
		q := tc.q
		if q.key == "" {
			q.key = "a1"
		}
		q.idem = iaIdem("mm")
		rec := w.do(q)
		if rec.Code != 422 || iaCode(rec) != "idempotency_key_mismatch" {
			t.Errorf("%s: %d %s, want 422 idempotency_key_mismatch", tc.name, rec.Code, iaCode(rec))
		}
	}
	if n := w.count("any") + w.count("things"); n != 1 {
		t.Errorf("handlers ran %d times, want 1", n)
	}
	if s := 100 - w.balance("acct-a"); s != spent {
		t.Errorf("mismatches spent %d credits", s-spent)
	}
	// The original still replays.
	again := w.do(iaReq{method: "PUT", path: "/v1/any?x=1", key: "a1", idem: iaIdem("mm"), body: "A"})
	if !iaReplayed(again) || again.Body.String() != first.Body.String() {
		t.Errorf("original after mismatches: %d replayed %v", again.Code, iaReplayed(again))
	}
}

func TestIdemAdvMismatchWhileInFlight(t *testing.T) {
	w := newIaWorld(t, iaOpts{})
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- w.do(iaReq{path: "/v1/block", key: "a1", idem: iaIdem("fl"), body: "A"}) }()
	iaWait(t, w.entered)
	same := w.do(iaReq{path: "/v1/block", key: "a1", idem: iaIdem("fl"), body: "A"})
	other := w.do(iaReq{path: "/v1/block", key: "a1", idem: iaIdem("fl"), body: "B"})
	close(w.release)
	first := <-done
	if same.Code != 409 || iaCode(same) != "idempotency_conflict" {
		t.Errorf("same request in flight: %d %s, want 409 idempotency_conflict", same.Code, iaCode(same))
	}
	if other.Code != 422 || iaCode(other) != "idempotency_key_mismatch" {
		t.Errorf("other request with the key in flight: %d %s, want 422 idempotency_key_mismatch", other.Code, iaCode(other))
	}
	if first.Code != 201 || w.count("block") != 1 {
		t.Errorf("first %d, handler runs %d", first.Code, w.count("block"))
	}
}

// ---------------------------------------------------------------- scoping

func TestIdemAdvScopedToAccount(t *testing.T) {
	w := newIaWorld(t, iaOpts{})
	send := func(key string) *httptest.ResponseRecorder {
		return w.do(iaReq{path: "/v1/things", key: key, idem: iaIdem("shared-value"), body: "same"})
	}
	a1 := send("a1")
	a2 := send("a2")
	b := send("b")
	s1 := send("solo1")
	s2 := send("solo2")
	s1again := send("solo1")
	if a1.Code != 201 || a2.Code != 201 || !iaReplayed(a2) || a2.Body.String() != a1.Body.String() {
		t.Errorf("two keys of one owner: %d then %d (replayed %v); want the owner's answer replayed", a1.Code, a2.Code, iaReplayed(a2))
	}
	for name, rec := range map[string]*httptest.ResponseRecorder{"other owner": b, "ownerless key": s1, "another ownerless key": s2} {
		if rec.Code != 201 || iaReplayed(rec) {
			t.Errorf("%s: %d (replayed %v) %s; want its own run", name, rec.Code, iaReplayed(rec), rec.Body)
		}
	}
	if !iaReplayed(s1again) || s1again.Body.String() != s1.Body.String() {
		t.Errorf("ownerless key's own retry not replayed")
	}
	if n := w.count("things"); n != 4 {
		t.Errorf("handler ran %d times, want 4 (acct-a, acct-b, solo1, solo2)", n)
	}
	// Another account's different request under the same value: no mismatch.
	rec := w.do(iaReq{path: "/v1/any", method: "PUT", key: "b", idem: iaIdem("v2"), body: "x"})
	rec2 := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("v2"), body: "y"})
	if rec.Code != 200 || rec2.Code != 201 {
		t.Errorf("same value, two accounts, different requests: %d, %d", rec.Code, rec2.Code)
	}
}
