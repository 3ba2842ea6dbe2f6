package middleware_test

// Adversarial tests of the idempotency step (middleware.Idempotency and the
// Gate's use of it), written from the doc comments of the Gate,
// middleware.Idempotency and idempotency.Store and the README's error
// table, not from the implementation.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/middleware/middlewaretest"
)

// --------------------------------------------------- refused before handler

func TestIdemAdvRefusedKeepsNothing(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       iaOpts
		setup      func(w *iaWorld)
		refused    iaReq
		status     int
		code       string
		retry      iaReq // the same request, now allowed
		afterRetry func(w *iaWorld)
	}{
		{name: "revoked key", refused: iaReq{path: "/v1/things", key: "revoked"}, status: 401, code: "revoked_api_key", retry: iaReq{path: "/v1/things", key: "a1"}},
		{name: "disabled key", refused: iaReq{path: "/v1/things", key: "disabled"}, status: 401, code: "disabled_api_key", retry: iaReq{path: "/v1/things", key: "a1"}},
		{name: "read-only key", refused: iaReq{path: "/v1/things", key: "ro"}, status: 403, code: "insufficient_permissions", retry: iaReq{path: "/v1/things", key: "a1"}},
		{name: "publishable key", refused: iaReq{path: "/v1/secret-only", key: "pub"}, status: 403, code: "secret_key_required", retry: iaReq{path: "/v1/secret-only", key: "a1"}},
		{name: "scope", refused: iaReq{path: "/v1/scoped", key: "a1"}, status: 403, code: "insufficient_scope", retry: iaReq{path: "/v1/scoped", key: "scoped"}},
		{name: "plan", refused: iaReq{path: "/v1/pro", key: "a1"}, status: 402, code: "payment_required", retry: iaReq{path: "/v1/pro", key: "pro"}},
		{name: "rate limit", opts: iaOpts{rate: "1/minute"},
			setup:   func(w *iaWorld) { w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("warm-up"), body: "w"}) },
			refused: iaReq{path: "/v1/things", key: "a1"}, status: 429, code: "rate_limit_exceeded", retry: iaReq{path: "/v1/things", key: "a2"}},
		{name: "credits", opts: iaOpts{allowance: credits.PerDay(1)},
			setup: func(w *iaWorld) {
				w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("warm-up"), body: "w"})
			},
			refused: iaReq{path: "/v1/things", key: "a1"}, status: 402, code: "quota_exceeded",
			retry: iaReq{path: "/v1/things", key: "a1"}},
		{name: "not found", refused: iaReq{path: "/v1/nope", key: "a1"}, status: 404, code: "not_found"},
		{name: "method not allowed", refused: iaReq{path: "/v1/readonly", key: "a1"}, status: 405, code: "method_not_allowed"},
		{name: "body too large", opts: iaOpts{idem: func(i *middleware.Idempotency) { i.MaxBodyBytes = 4 }}, refused: iaReq{path: "/v1/things", key: "a1"}, status: 413, code: "request_too_large"},
		{name: "store down", opts: iaOpts{wrapStore: func(s idempotency.Store) idempotency.Store { return &iaDownOnce{Store: s} }},
			refused: iaReq{path: "/v1/things", key: "a1"}, status: 503, code: "service_unavailable", retry: iaReq{path: "/v1/things", key: "a1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newIaWorld(t, tc.opts)
			if tc.setup != nil {
				tc.setup(w)
			}
			runsBefore := w.count("things") + w.count("secret-only") + w.count("scoped") + w.count("pro") + w.count("readonly")
			var balBefore int64
			if w.cstore != nil {
				balBefore = w.balance("acct-a")
			}
			_, finBefore, _, _ := w.spy.stats()
			q := tc.refused
			q.idem, q.body = iaIdem("refused-1"), "payload-for-refused"
			rec := w.do(q)
			if rec.Code != tc.status || iaCode(rec) != tc.code {
				t.Fatalf("refused request: %d %s, want %d %s", rec.Code, iaCode(rec), tc.status, tc.code)
			}
			runsAfter := w.count("things") + w.count("secret-only") + w.count("scoped") + w.count("pro") + w.count("readonly")
			if runsAfter != runsBefore {
				t.Errorf("a refused request ran a handler")
			}
			if w.cstore != nil && w.balance("acct-a") != balBefore {
				t.Errorf("a refused request spent %d credits", balBefore-w.balance("acct-a"))
			}
			_, finAfter, _, outstanding := w.spy.stats()
			if finAfter != finBefore {
				t.Errorf("a refused request gave the store an answer: %+v", w.spy.allFinishes()[finBefore:])
			}
			if outstanding != 0 {
				t.Errorf("a refused request left %d claims behind", outstanding)
			}
			if tc.retry.path == "" {
				return
			}
			if tc.code == "quota_exceeded" {
				if _, err := w.cstore.Grant(context.Background(), "acct-a", w.allow, 1); err != nil {
					t.Fatal(err)
				}
			}
			q = tc.retry
			q.idem, q.body = iaIdem("refused-1"), "payload-for-refused"
			again := w.do(q)
			if again.Code != 201 || iaReplayed(again) {
				t.Errorf("retry with the key of a refused request: %d %s (replayed %v); want the handler's 201", again.Code, again.Body, iaReplayed(again))
			}
		})
	}
}

// iaDownOnce fails its first Begin as unavailable.
type iaDownOnce struct {
	idempotency.Store
	n atomic.Int32
}

func (s *iaDownOnce) Begin(ctx context.Context, account, key string, fp idempotency.Fingerprint, token uint64, lock time.Duration) (idempotency.Record, bool, error) {
	if s.n.Add(1) == 1 {
		return idempotency.Record{}, false, fmt.Errorf("down: %w", idempotency.ErrUnavailable)
	}
	return s.Store.Begin(ctx, account, key, fp, token, lock)
}

func TestIdemAdvCreditsAndReplays(t *testing.T) {
	w := newIaWorld(t, iaOpts{allowance: credits.PerDay(10)})
	first := w.do(iaReq{path: "/v1/costly", key: "a1", idem: iaIdem("c1"), body: "x"})
	if first.Code != 201 || w.balance("acct-a") != 5 {
		t.Fatalf("first: %d, balance %d; want 201, 5", first.Code, w.balance("acct-a"))
	}
	for i := 0; i < 5; i++ {
		if rec := w.do(iaReq{path: "/v1/costly", key: "a2", idem: iaIdem("c1"), body: "x"}); !iaReplayed(rec) {
			t.Fatalf("retry %d: %d not replayed", i, rec.Code)
		}
	}
	if b := w.balance("acct-a"); b != 5 {
		t.Errorf("replays spent %d credits", 5-b)
	}
	// Spend the rest: the replay still works, since it spends nothing.
	if rec := w.do(iaReq{path: "/v1/costly", key: "a1", idem: iaIdem("c2"), body: "x"}); rec.Code != 201 {
		t.Fatalf("second run: %d %s", rec.Code, rec.Body)
	}
	if b := w.balance("acct-a"); b != 0 {
		t.Fatalf("balance %d, want 0", b)
	}
	rec := w.do(iaReq{path: "/v1/costly", key: "a1", idem: iaIdem("c1"), body: "x"})
	if rec.Code != 201 || !iaReplayed(rec) {
		t.Errorf("replay with no credits left: %d %s; want the kept 201 (idempotency comes before credits)", rec.Code, iaCode(rec))
	}
	rec = w.do(iaReq{path: "/v1/costly", key: "a1", idem: iaIdem("c1"), body: "other"})
	if rec.Code != 422 {
		t.Errorf("mismatch with no credits left: %d %s; want 422", rec.Code, iaCode(rec))
	}
	rec = w.do(iaReq{path: "/v1/costly", key: "a1", idem: iaIdem("bad key"), body: "x"})
	if rec.Code != 400 || iaCode(rec) != "invalid_idempotency_key" {
		t.Errorf("malformed key with no credits left: %d %s; want 400 invalid_idempotency_key (idempotency before credits)", rec.Code, iaCode(rec))
	}
	rec = w.do(iaReq{path: "/v1/costly", key: "a1", idem: iaIdem("c3"), body: "x"})
	if rec.Code != 402 || iaCode(rec) != "quota_exceeded" {
		t.Fatalf("new key with no credits: %d %s", rec.Code, iaCode(rec))
	}
	if _, err := w.cstore.Grant(context.Background(), "acct-a", w.allow, 5); err != nil {
		t.Fatal(err)
	}
	rec = w.do(iaReq{path: "/v1/costly", key: "a1", idem: iaIdem("c3"), body: "x"})
	if rec.Code != 201 || iaReplayed(rec) {
		t.Errorf("retry after a 402 and a grant: %d %s (replayed %v); want a run", rec.Code, iaCode(rec), iaReplayed(rec))
	}
}

func TestIdemAdvOrderOfChecks(t *testing.T) {
	w := newIaWorld(t, iaOpts{allowance: credits.PerDay(1)})
	w.do(iaReq{path: "/v1/things", key: "b", idem: iaIdem("spend-all"), body: "x"}) // acct-b now has 0
	for _, tc := range []struct {
		name   string
		q      iaReq
		status int
		code   string
	}{
		{"no API key", iaReq{path: "/v1/things"}, 401, "missing_api_key"},
		{"unknown path", iaReq{path: "/v1/nope", key: "a1"}, 404, "not_found"},
		{"wrong method", iaReq{path: "/v1/readonly", key: "a1"}, 405, "method_not_allowed"},
		{"read-only key", iaReq{path: "/v1/things", key: "ro"}, 403, "insufficient_permissions"},
		{"publishable key", iaReq{path: "/v1/secret-only", key: "pub"}, 403, "secret_key_required"},
		{"plan", iaReq{path: "/v1/pro", key: "a1"}, 402, "payment_required"},
		{"credits exhausted", iaReq{path: "/v1/things", key: "b"}, 400, "invalid_idempotency_key"},
	} {
		q := tc.q
		q.idem = iaIdem("bad key value")
		rec := w.do(q)
		if rec.Code != tc.status || iaCode(rec) != tc.code {
			t.Errorf("%s with a malformed Idempotency-Key: %d %s, want %d %s", tc.name, rec.Code, iaCode(rec), tc.status, tc.code)
		}
	}
}

// ---------------------------------------------------- failures free the key

func TestIdemAdvServerErrorsFreeKey(t *testing.T) {
	for _, tc := range []struct {
		path, route string
		firstCode   int
	}{
		{"/v1/flaky", "flaky", 503},
		{"/v1/panic", "panic", 500},
		{"/v1/partial-panic", "partial-panic", 201},
	} {
		t.Run(tc.route, func(t *testing.T) {
			w := newIaWorld(t, iaOpts{allowance: credits.PerDay(100)})
			first := w.do(iaReq{path: tc.path, key: "a1", idem: iaIdem("e1"), body: "x"})
			if first.Code != tc.firstCode {
				t.Errorf("first: %d %q, want %d", first.Code, first.Body, tc.firstCode)
			}
			second := w.do(iaReq{path: tc.path, key: "a1", idem: iaIdem("e1"), body: "x"})
			if second.Code != 201 || iaReplayed(second) || w.count(tc.route) != 2 {
				t.Errorf("retry after a failed run: %d %q (replayed %v, runs %d); want a second run", second.Code, second.Body, iaReplayed(second), w.count(tc.route))
			}
			third := w.do(iaReq{path: tc.path, key: "a1", idem: iaIdem("e1"), body: "x"})
			if !iaReplayed(third) || third.Body.String() != second.Body.String() {
				t.Errorf("third: %d %q; want the second's answer replayed", third.Code, third.Body)
			}
			for _, f := range w.spy.allFinishes() {
				if f.kept && (f.answer.Status >= 500 || bytes.Contains(f.answer.Body, []byte(`{"half":`)) && !bytes.Contains(f.answer.Body, []byte("}"))) {
					t.Errorf("a failed answer was kept: %d %q", f.answer.Status, f.answer.Body)
				}
			}
		})
	}
	t.Run("KeepServerErrors", func(t *testing.T) {
		w := newIaWorld(t, iaOpts{idem: func(i *middleware.Idempotency) { i.KeepServerErrors = true }})
		first := w.do(iaReq{path: "/v1/flaky", key: "a1", idem: iaIdem("e1")})
		second := w.do(iaReq{path: "/v1/flaky", key: "a1", idem: iaIdem("e1")})
		if first.Code != 503 || second.Code != 503 || !iaReplayed(second) || w.count("flaky") != 1 {
			t.Errorf("KeepServerErrors: %d then %d (replayed %v, runs %d); want the 503 kept", first.Code, second.Code, iaReplayed(second), w.count("flaky"))
		}
	})
}

func TestIdemAdvBigAnswerSentNotKept(t *testing.T) {
	w := newIaWorld(t, iaOpts{idem: func(i *middleware.Idempotency) { i.MaxAnswerBytes = 1024 }})
	for run := 1; run <= 2; run++ {
		rec := w.do(iaReq{path: "/v1/big", key: "a1", idem: iaIdem("big")})
		want := bytes.Repeat([]byte{byte('a' + run%26)}, 8192)
		if rec.Code != 201 || !bytes.Equal(rec.Body.Bytes(), want) || iaReplayed(rec) {
			t.Errorf("run %d: %d, %d bytes (replayed %v); want the whole 8192-byte answer", run, rec.Code, rec.Body.Len(), iaReplayed(rec))
		}
	}
	if n := w.count("big"); n != 2 {
		t.Errorf("handler ran %d times; an answer too big to keep frees its key", n)
	}
	for _, f := range w.spy.allFinishes() {
		if f.kept {
			t.Errorf("an answer of %d bytes was kept with MaxAnswerBytes 1024", len(f.answer.Body))
		}
	}
	if !strings.Contains(w.logs.String(), `"level":"WARN"`) {
		t.Errorf("no warning logged for an answer too big to keep:\n%s", w.logs.String())
	}
	// Below the bound it is kept.
	small := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("small")})
	if again := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("small")}); !iaReplayed(again) || again.Body.String() != small.Body.String() {
		t.Errorf("a small answer under MaxAnswerBytes 1024 was not kept")
	}
}

func TestIdemAdvBodyLimitAndWholeBody(t *testing.T) {
	w := newIaWorld(t, iaOpts{idem: func(i *middleware.Idempotency) { i.MaxBodyBytes = 100 }})
	type answer struct {
		Len int    `json:"len"`
		Sha string `json:"sha"`
	}
	check := func(name string, rec *httptest.ResponseRecorder, body string) {
		t.Helper()
		var a answer
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Errorf("%s: %d %q", name, rec.Code, rec.Body)
			return
		}
		sum := sha256.Sum256([]byte(body))
		if a.Len != len(body) || a.Sha != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: handler saw %d bytes, want the whole %d", name, a.Len, len(body))
		}
	}
	at := strings.Repeat("a", 100)
	rec := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("b100"), body: at})
	check("100 bytes, max 100", rec, at)
	over := strings.Repeat("o", 101)
	rec = w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("b101"), body: over})
	if rec.Code != 413 || iaCode(rec) != "request_too_large" {
		t.Errorf("101 bytes, max 100: %d %s, want 413 request_too_large", rec.Code, iaCode(rec))
	}
	if w.count("things") != 1 {
		t.Errorf("the handler ran for a body over MaxBodyBytes")
	}
	big := strings.Repeat("n", 5000)
	rec = w.do(iaReq{path: "/v1/things", key: "a1", body: big})
	check("5000 bytes without a key", rec, big)

	// Default limit (1 MiB): a large body reaches the handler whole.
	w2 := newIaWorld(t, iaOpts{})
	var sb strings.Builder
	for i := 0; sb.Len() < 900<<10; i++ {
		fmt.Fprintf(&sb, "%d,", i*7919)
	}
	rec = w2.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("huge"), body: sb.String()})
	check("900 KiB", rec, sb.String())
}

// ------------------------------------------------------------- opting out

// TestIdemAdvIgnoredRoutesNeverKept: an ignoring route's answer is never
// kept. Where the Gate sees the declaration (outermost, through routers
// it can look into) the route does not take part at all; hidden under a
// foreign wrapper or http.StripPrefix (hidden), the request is claimed and
// its header checked, but the answer is still never kept nor replayed.
func TestIdemAdvIgnoredRoutesNeverKept(t *testing.T) {
	for _, route := range []struct {
		path, name string
		hidden     bool
	}{
		{"/v1/keys", "keys", false},
		{"/v1/keys/abc/roll", "roll", false},
		{"/v1/keys-inner", "keys-inner", false},
		{"/v1/keys-wrapped", "keys-wrapped", true},
		{"/v2/keys", "v2-keys", false}, // middleware.StripPrefix
		{"/v3/keys", "v3-keys", true},  // http.StripPrefix
		{"/v4/keys", "v4-keys", false}, // nested ServeMux
	} {
		t.Run(route.name, func(t *testing.T) {
			w := newIaWorld(t, iaOpts{idem: func(i *middleware.Idempotency) { i.Required = true }})
			var bodies []string
			for i, idem := range [][]string{iaIdem("create-1"), iaIdem("create-1"), nil, iaIdem("bad key"), {"x", "y"}} {
				rec := w.do(iaReq{path: route.path, key: "a1", idem: idem, body: `{"name":"n"}`})
				if route.hidden && i >= 2 {
					if rec.Code != 400 || iaCode(rec) != "invalid_idempotency_key" {
						t.Errorf("hidden route, Idempotency-Key %q: %d, want 400 invalid_idempotency_key", idem, rec.Code)
					}
					continue
				}
				if rec.Code != 201 || iaReplayed(rec) {
					// (the body is not printed: it holds an API key)
					code := "-"
					if rec.Code >= 400 {
						code = iaCode(rec)
					}
					t.Errorf("Idempotency-Key %q: %d %s (replayed %v); an ignoring route runs whatever the header", idem, rec.Code, code, iaReplayed(rec))
				}
				bodies = append(bodies, rec.Body.String())
			}
			if bodies[0] == bodies[1] {
				t.Errorf("the retry got the first key creation's answer (the same secret twice)")
			}
			want := int64(5)
			if route.hidden {
				want = 2
			}
			if n := w.count(route.name); n != want {
				t.Errorf("handler ran %d times, want %d", n, want)
			}
			for _, f := range w.spy.allFinishes() {
				if iaContainsSecret(string(f.answer.Body), w.secrets()) {
					t.Errorf("the store was given an answer holding an API key (%d bytes, kept %v)", len(f.answer.Body), f.kept)
				}
			}
			if b, f, _, _ := w.spy.stats(); f != 0 || b != 0 && !route.hidden {
				t.Errorf("an ignoring route used the store: %d Begins, %d Finishes", b, f)
			}
		})
	}
}

func TestIdemAdvRequireKey(t *testing.T) {
	w := newIaWorld(t, iaOpts{})
	for _, route := range []string{"required", "required-wrapped"} {
		t.Run(route, func(t *testing.T) {
			rec := w.do(iaReq{path: "/v1/" + route, key: "a1", body: "x"})
			if rec.Code != 400 || iaCode(rec) != "invalid_idempotency_key" {
				t.Errorf("%s without a key: %d %s, want 400 invalid_idempotency_key", route, rec.Code, iaCode(rec))
			}
			if n := w.count(route); n != 0 {
				t.Errorf("%s: handler ran without the required key", route)
			}
			rec = w.do(iaReq{path: "/v1/" + route, key: "a1", body: "x", idem: iaIdem("r-" + route)})
			if rec.Code != 201 {
				t.Errorf("%s with a key: %d %s", route, rec.Code, rec.Body)
			}
		})
	}
	// Required: every write route that does not ignore it.
	wr := newIaWorld(t, iaOpts{idem: func(i *middleware.Idempotency) { i.Required = true }})
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "FOO"} {
		rec := wr.do(iaReq{method: m, path: "/v1/any", key: "a1"})
		if rec.Code != 400 || iaCode(rec) != "invalid_idempotency_key" {
			t.Errorf("Required, %s without a key: %d %s, want 400", m, rec.Code, iaCode(rec))
		}
	}
	if rec := wr.do(iaReq{method: "GET", path: "/v1/any", key: "a1"}); rec.Code != 200 {
		t.Errorf("Required, GET without a key: %d", rec.Code)
	}
	if wr.count("any") != 1 {
		t.Errorf("handler runs %d, want 1 (the GET)", wr.count("any"))
	}
	// Served with no idempotency step in front: never the handler; 400
	// for a write without the header (the client's mistake either way),
	// 500 for one with it (nothing claimed it).
	ran := false
	h := quietWriter(middleware.RequireIdempotencyKey(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true })))
	for _, tt := range []struct {
		idem []string
		want int
	}{{nil, 400}, {iaIdem("present"), 500}} {
		r := middlewaretest.WithKey(httptest.NewRequest("POST", "/", nil), wr.recs["a1"])
		if tt.idem != nil {
			r.Header["Idempotency-Key"] = tt.idem
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tt.want || ran {
			t.Errorf("RequireIdempotencyKey alone (header %q): %d, handler ran %v; want %d and no handler", tt.idem, rec.Code, ran, tt.want)
		}
	}
}

// ------------------------------------------------ lock timeout, late finish

func TestIdemAdvLockTimeoutAndLateFinish(t *testing.T) {
	w := newIaWorld(t, iaOpts{idem: func(i *middleware.Idempotency) { i.LockTimeout = time.Minute }})
	q := iaReq{path: "/v1/block", key: "a1", idem: iaIdem("slow"), body: "x"}
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- w.do(q) }()
	iaWait(t, w.entered) // run 1 holds the key, stuck
	if rec := w.do(q); rec.Code != 409 {
		t.Errorf("during the lock: %d %s, want 409", rec.Code, iaCode(rec))
	}
	w.clk.Advance(59 * time.Second)
	if rec := w.do(q); rec.Code != 409 {
		t.Errorf("just before the lock ends: %d %s, want 409", rec.Code, iaCode(rec))
	}
	w.clk.Advance(2 * time.Second)
	second := w.do(q) // run 2: the dead request's key is free
	if second.Code != 201 || second.Body.String() != "block run 2" {
		t.Fatalf("after the lock ended: %d %q, want run 2", second.Code, second.Body)
	}
	close(w.release) // run 1 comes back late
	first := <-done
	if first.Body.String() != "block run 1" {
		t.Errorf("late request's own answer: %q", first.Body)
	}
	again := w.do(q)
	if !iaReplayed(again) || again.Body.String() != "block run 2" {
		t.Errorf("after the late finish: %d %q (replayed %v); want run 2's answer, not the late run 1's", again.Code, again.Body, iaReplayed(again))
	}
}

// Under a lock that ends while the only claimant is still running (a
// handler slower than LockTimeout), the idempotency.Store contract says its
// answer is not kept ("a request whose lock ended … keeps nothing").
func TestIdemAdvLockEndedNobodyElse(t *testing.T) {
	w := newIaWorld(t, iaOpts{idem: func(i *middleware.Idempotency) { i.LockTimeout = time.Minute }})
	q := iaReq{path: "/v1/block", key: "a1", idem: iaIdem("slow2"), body: "x"}
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- w.do(q) }()
	iaWait(t, w.entered)
	w.clk.Advance(2 * time.Minute)
	close(w.release)
	<-done
	for _, f := range w.spy.allFinishes() {
		if f.kept {
			t.Errorf("Finish of a claim whose lock had ended kept the answer (MemoryStore.Finish does not check the lock's end)")
		}
	}
}
