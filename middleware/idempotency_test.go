package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/credits"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/middleware/middlewaretest"
)

// idemGate is a Gate with idempotency (and credits, 100 a month unless
// said otherwise) over
// routes that count their runs.
type idemGate struct {
	h     http.Handler
	store *recordingStore
	ran   atomic.Int64
	seq   atomic.Int64
	// block, if set, is waited on by the create route before it answers.
	block chan struct{}
}

// recordingStore is a MemoryStore that remembers every answer it was
// asked to keep, so that tests can scan them.
type recordingStore struct {
	*idempotency.MemoryStore
	mu   sync.Mutex
	kept []*idempotency.Answer
	fail error
}

func (s *recordingStore) Begin(ctx context.Context, account, key string, fp idempotency.Fingerprint, token uint64, lock time.Duration) (idempotency.Record, bool, error) {
	if s.fail != nil {
		return idempotency.Record{}, false, s.fail
	}
	return s.MemoryStore.Begin(ctx, account, key, fp, token, lock)
}

func (s *recordingStore) Finish(ctx context.Context, account, key string, token uint64, a *idempotency.Answer, retain time.Duration) (bool, error) {
	s.mu.Lock()
	s.kept = append(s.kept, a)
	s.mu.Unlock()
	return s.MemoryStore.Finish(ctx, account, key, token, a, retain)
}

func newIdemGate(t *testing.T, f *fixture, cfg middleware.Idempotency) *idemGate {
	return newIdemGateCredits(t, f, cfg, 100)
}

func newIdemGateCredits(t *testing.T, f *fixture, cfg middleware.Idempotency, allowance int64) *idemGate {
	t.Helper()
	g := &idemGate{store: &recordingStore{MemoryStore: idempotency.NewMemoryStore(idempotency.MemoryConfig{Now: f.clock.Now})}}
	create := func(w http.ResponseWriter, r *http.Request) {
		g.ran.Add(1)
		if g.block != nil {
			<-g.block
		}
		body, _ := io.ReadAll(r.Body)
		id := fmt.Sprintf("mon_%d", g.seq.Add(1))
		w.Header().Set("Location", "/v1/monitors/"+id)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Handler-Only", "1")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q,"got":%q}`, id, body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/monitors", create)
	mux.HandleFunc("GET /v1/monitors", create)
	mux.Handle("POST /v1/keys", middleware.IgnoreIdempotencyKey(http.HandlerFunc(create)))
	mux.Handle("POST /v1/checks", middleware.RequireIdempotencyKey(http.HandlerFunc(create)))
	mux.Handle("POST /v1/secret", middleware.RequireSecret(http.HandlerFunc(create)))
	mux.HandleFunc("POST /v1/fail", func(w http.ResponseWriter, r *http.Request) {
		g.ran.Add(1)
		apierrors.Write(w, r, apierrors.NewServiceUnavailable(time.Second))
	})
	mux.HandleFunc("POST /v1/invalid", func(w http.ResponseWriter, r *http.Request) {
		g.ran.Add(1)
		apierrors.Write(w, r, apierrors.NewInvalidParameter("name", "is required"))
	})
	mux.HandleFunc("POST /v1/panic", func(w http.ResponseWriter, r *http.Request) {
		g.ran.Add(1)
		panic("boom")
	})
	cfg.Store = g.store
	g.h = (&middleware.Gate{
		Auth:        middleware.Authenticator{Verifier: f.mgr},
		Idempotency: &cfg,
		Credits: &middleware.Credits{
			Allowance: credits.PerMonth(allowance),
			Store:     credits.NewMemoryStore(credits.MemoryConfig{Now: f.clock.Now}),
		},
		Logger: discardLogger(),
	}).Handler(mux)
	return g
}

func (g *idemGate) do(method, path, key, idemKey, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+key)
	if idemKey != "" {
		r.Header.Set("Idempotency-Key", idemKey)
	}
	w := httptest.NewRecorder()
	g.h.ServeHTTP(w, r)
	return w
}

func wantCode(t *testing.T, w *httptest.ResponseRecorder, status int, code apierrors.Code) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if code != "" {
		if e := decodeError(t, w); e.Code != code {
			t.Fatalf("code %q, want %q", e.Code, code)
		}
	}
}

// TestIdempotencyReplay: a retry gets the first answer byte for byte, with
// Idempotent-Replayed, and the handler ran once.
func TestIdempotencyReplay(t *testing.T) {
	f := newFixture(t)
	g := newIdemGate(t, f, middleware.Idempotency{})
	first := g.do("POST", "/v1/monitors", f.keys["secret"], "k-1", `{"name":"a"}`)
	wantCode(t, first, 201, "")
	if first.Header().Get("Idempotent-Replayed") != "" {
		t.Error("the first answer says it is replayed")
	}
	for range 3 {
		again := g.do("POST", "/v1/monitors", f.keys["secret"], `"k-1"`, `{"name":"a"}`) // the quoted form is the same key
		wantCode(t, again, 201, "")
		if !bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) {
			t.Errorf("replayed body %q, want %q", again.Body, first.Body)
		}
		if got := again.Header().Get("Idempotent-Replayed"); got != "true" {
			t.Errorf("Idempotent-Replayed = %q, want true", got)
		}
		for _, h := range []string{"Location", "Content-Type"} {
			if again.Header().Get(h) != first.Header().Get(h) {
				t.Errorf("replayed %s = %q, want %q", h, again.Header().Get(h), first.Header().Get(h))
			}
		}
		if again.Header().Get("X-Handler-Only") != "" {
			t.Error("a header that is not a content header was replayed")
		}
		if id := again.Header().Get("X-Request-Id"); id == "" || id == first.Header().Get("X-Request-Id") {
			t.Errorf("replay's X-Request-Id %q: want its own", id)
		}
	}
	if n := g.ran.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want 1", n)
	}
}

// TestIdempotencyMismatch: the key with another method, path or body: 422,
// and the handler does not run.
func TestIdempotencyMismatch(t *testing.T) {
	f := newFixture(t)
	g := newIdemGate(t, f, middleware.Idempotency{})
	wantCode(t, g.do("POST", "/v1/monitors", f.keys["secret"], "k-1", `{"name":"a"}`), 201, "")
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/v1/monitors", `{"name":"b"}`},
		{"POST", "/v1/monitors?x=1", `{"name":"a"}`},
		{"POST", "/v1/checks", `{"name":"a"}`},
		{"POST", "/v1/monitors", ``},
	} {
		wantCode(t, g.do(tt.method, tt.path, f.keys["secret"], "k-1", tt.body), 422, apierrors.CodeIdempotencyKeyMismatch)
	}
	if n := g.ran.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want 1", n)
	}
}

// TestIdempotencyConcurrent: 50 requests with one key at once: exactly one
// runs; the others get 409 while it runs, and the replay after.
func TestIdempotencyConcurrent(t *testing.T) {
	f := newFixture(t)
	g := newIdemGate(t, f, middleware.Idempotency{})
	g.block = make(chan struct{})
	const n = 50
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			w := g.do("POST", "/v1/monitors", f.keys["secret"], "k-1", `{"name":"a"}`)
			if w.Code == 409 {
				if e := decodeError(t, w); e.Code != apierrors.CodeIdempotencyConflict {
					t.Errorf("409 with code %q", e.Code)
				}
			}
			codes <- w.Code
		})
	}
	// While the one that runs is blocked, all others must have been refused.
	count := map[int]int{}
	for range n - 1 {
		count[<-codes]++
	}
	close(g.block)
	wg.Wait()
	count[<-codes]++
	if count[409] != n-1 || count[201] != 1 {
		t.Errorf("answers %v, want one 201 and %d 409", count, n-1)
	}
	if r := g.ran.Load(); r != 1 {
		t.Errorf("the handler ran %d times, want 1", r)
	}
	// Once it finished, all get the replay.
	g.block = nil
	for range 5 {
		if w := g.do("POST", "/v1/monitors", f.keys["secret"], "k-1", `{"name":"a"}`); w.Code != 201 || w.Header().Get("Idempotent-Replayed") != "true" {
			t.Errorf("after the first finished: %d, replayed %q", w.Code, w.Header().Get("Idempotent-Replayed"))
		}
	}
}

// TestIdempotencyCrashedRequest: a request that died without an answer
// (its process killed: nothing freed the key) holds the key until the lock
// timeout, then a retry runs.
func TestIdempotencyCrashedRequest(t *testing.T) {
	f := newFixture(t)
	g := newIdemGate(t, f, middleware.Idempotency{LockTimeout: 30 * time.Second})
	// What a dead replica left behind: a claim, never finished.
	r := httptest.NewRequest("POST", "/v1/monitors", strings.NewReader(`{"name":"a"}`))
	fp, _ := idempotency.ReadRequest(r, 1<<20)
	if _, ok, err := g.store.Begin(context.Background(), f.recs["secret"].ID, "k-1", fp, 42, 30*time.Second); !ok || err != nil {
		t.Fatalf("Begin: %v, %v", ok, err)
	}
	wantCode(t, g.do("POST", "/v1/monitors", f.keys["secret"], "k-1", `{"name":"a"}`), 409, apierrors.CodeIdempotencyConflict)
	f.clock.Advance(29 * time.Second)
	wantCode(t, g.do("POST", "/v1/monitors", f.keys["secret"], "k-1", `{"name":"a"}`), 409, apierrors.CodeIdempotencyConflict)
	f.clock.Advance(time.Second)
	wantCode(t, g.do("POST", "/v1/monitors", f.keys["secret"], "k-1", `{"name":"a"}`), 201, "")
	if n := g.ran.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want 1", n)
	}
}

// TestIdempotencyWhatIsKept: handler 4xx answers are kept; 5xx are not
// (unless KeepServerErrors), nor panics, nor requests refused before the
// handler.
func TestIdempotencyWhatIsKept(t *testing.T) {
	tests := []struct {
		name      string
		cfg       middleware.Idempotency
		path, key string
		status    int
		runs      int64 // after two tries
		replayed  bool
	}{
		{"client error kept", middleware.Idempotency{}, "/v1/invalid", "secret", 400, 1, true},
		{"server error freed", middleware.Idempotency{}, "/v1/fail", "secret", 503, 2, false},
		{"server error kept", middleware.Idempotency{KeepServerErrors: true}, "/v1/fail", "secret", 503, 1, true},
		{"panic freed", middleware.Idempotency{}, "/v1/panic", "secret", 500, 2, false},
		{"route check refusal", middleware.Idempotency{}, "/v1/secret", "publishable", 403, 0, false},
		{"read-only key refused", middleware.Idempotency{}, "/v1/monitors", "secret-ro", 403, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			g := newIdemGate(t, f, tt.cfg)
			var last *httptest.ResponseRecorder
			for range 2 {
				last = g.do("POST", tt.path, f.keys[tt.key], "k-1", "{}")
				if last.Code != tt.status {
					t.Fatalf("status %d, want %d: %s", last.Code, tt.status, last.Body)
				}
			}
			if n := g.ran.Load(); n != tt.runs {
				t.Errorf("handler ran %d times in two tries, want %d", n, tt.runs)
			}
			if got := last.Header().Get("Idempotent-Replayed") == "true"; got != tt.replayed {
				t.Errorf("second answer replayed: %v, want %v", got, tt.replayed)
			}
		})
	}
}

// TestIdempotencyCredits: a replay and a conflict spend nothing, and a
// request refused 402 for want of credits is not kept, so it can be
// retried when credits come back.
func TestIdempotencyCredits(t *testing.T) {
	f := newFixture(t)
	g := newIdemGateCredits(t, f, middleware.Idempotency{}, 3)
	key := f.keys["secret"]
	wantCode(t, g.do("POST", "/v1/monitors", key, "k-1", "a"), 201, "") // 2 credits left
	for range 5 {
		wantCode(t, g.do("POST", "/v1/monitors", key, "k-1", "a"), 201, "") // replays: free
	}
	wantCode(t, g.do("POST", "/v1/monitors", key, "k-2", "b"), 201, "") // 1 left
	wantCode(t, g.do("POST", "/v1/monitors", key, "k-3", "c"), 201, "") // 0 left
	wantCode(t, g.do("POST", "/v1/monitors", key, "k-4", "d"), 402, apierrors.CodeQuotaExceeded)
	f.clock.Advance(40 * 24 * time.Hour) // a new month
	wantCode(t, g.do("POST", "/v1/monitors", key, "k-4", "d"), 201, "")
	if n := g.ran.Load(); n != 4 {
		t.Errorf("the handler ran %d times, want 4", n)
	}
}

// TestIdempotencyBadHeaders: every malformed header gets 400
// invalid_idempotency_key, never runs the handler, and is not echoed.
func TestIdempotencyBadHeaders(t *testing.T) {
	f := newFixture(t)
	g := newIdemGate(t, f, middleware.Idempotency{})
	for _, v := range [][]string{
		{""}, {`""`}, {`"`}, {`"unterminated`}, {"a b"}, {"é"}, {"tab\there"}, {strings.Repeat("k", 256)},
		{`"k";p=1`}, {`"k"x`}, {"a", "b"}, {"a", "a"}, {f.keys["secret"] + " x"},
	} {
		r := httptest.NewRequest("POST", "/v1/monitors", strings.NewReader("{}"))
		r.Header.Set("Authorization", "Bearer "+f.keys["secret"])
		r.Header["Idempotency-Key"] = v
		w := httptest.NewRecorder()
		g.h.ServeHTTP(w, r)
		wantCode(t, w, 400, apierrors.CodeInvalidIdempotencyKey)
		assertNoLeak(t, w, f.keys["secret"])
	}
	if n := g.ran.Load(); n != 0 {
		t.Errorf("the handler ran %d times, want 0", n)
	}
}

// TestIdempotencyWhoTakesPart: reads ignore the header, ignoring routes
// run every time, required routes refuse a write without it, and keys are
// scoped to the account.
func TestIdempotencyWhoTakesPart(t *testing.T) {
	f := newFixture(t)
	g := newIdemGate(t, f, middleware.Idempotency{})
	for range 2 {
		wantCode(t, g.do("GET", "/v1/monitors", f.keys["secret"], "k-get", ""), 201, "")
		wantCode(t, g.do("POST", "/v1/keys", f.keys["secret"], "k-keys", ""), 201, "")
	}
	if n := g.ran.Load(); n != 4 {
		t.Errorf("GETs and an ignoring route ran %d times in four requests, want 4", n)
	}
	if len(g.store.kept) != 0 {
		t.Errorf("%d answers kept for requests that do not take part", len(g.store.kept))
	}
	wantCode(t, g.do("POST", "/v1/checks", f.keys["secret"], "", "{}"), 400, apierrors.CodeInvalidIdempotencyKey)
	wantCode(t, g.do("POST", "/v1/checks", f.keys["secret"], "k-c", "{}"), 201, "")
	// Another account, the same key: its own request.
	wantCode(t, g.do("POST", "/v1/monitors", f.keys["secret"], "shared", "{}"), 201, "")
	w := g.do("POST", "/v1/monitors", f.keys["scoped"], "shared", "{}")
	wantCode(t, w, 201, "")
	if w.Header().Get("Idempotent-Replayed") != "" {
		t.Error("one account replayed another's answer")
	}

	req := newIdemGate(t, f, middleware.Idempotency{Required: true})
	wantCode(t, req.do("POST", "/v1/monitors", f.keys["secret"], "", "{}"), 400, apierrors.CodeInvalidIdempotencyKey)
	wantCode(t, req.do("POST", "/v1/keys", f.keys["secret"], "", "{}"), 201, "") // ignoring wins
	wantCode(t, req.do("GET", "/v1/monitors", f.keys["secret"], "", ""), 201, "")
}

// TestIdempotencyLimitsAndFailures: a body too big, an answer too big, a
// store that fails.
func TestIdempotencyLimitsAndFailures(t *testing.T) {
	f := newFixture(t)
	g := newIdemGate(t, f, middleware.Idempotency{MaxBodyBytes: 10, MaxAnswerBytes: 20})
	wantCode(t, g.do("POST", "/v1/monitors", f.keys["secret"], "k-1", "01234567890"), 413, apierrors.CodeRequestTooLarge)
	wantCode(t, g.do("POST", "/v1/monitors", f.keys["secret"], "", "0123456789012345"), 201, "") // no key: no limit
	// An answer longer than 20 bytes is sent whole, not kept.
	w := g.do("POST", "/v1/monitors", f.keys["secret"], "k-2", "0123456789")
	wantCode(t, w, 201, "")
	if !strings.HasSuffix(w.Body.String(), `"}`) {
		t.Errorf("the answer too big to keep was cut: %q", w.Body)
	}
	wantCode(t, g.do("POST", "/v1/monitors", f.keys["secret"], "k-2", "0123456789"), 201, "")
	if n := g.ran.Load(); n != 3 {
		t.Errorf("handler ran %d times, want 3 (an answer too big to keep runs again)", n)
	}
	g.store.fail = fmt.Errorf("%w: connection refused", idempotency.ErrUnavailable)
	w = g.do("POST", "/v1/monitors", f.keys["secret"], "k-3", "{}")
	wantCode(t, w, 503, apierrors.CodeServiceUnavailable)
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	g.store.fail = errors.New("a bug")
	wantCode(t, g.do("POST", "/v1/monitors", f.keys["secret"], "k-3", "{}"), 500, apierrors.CodeInternalError)
	if n := g.ran.Load(); n != 3 {
		t.Errorf("handler ran with a failing store")
	}
}

// TestIdempotencyNoSecretsKept: the answers of an ignoring route are never
// given to the store, and no kept answer holds a key.
func TestIdempotencyNoSecretsKept(t *testing.T) {
	f := newFixture(t)
	g := newIdemGate(t, f, middleware.Idempotency{})
	g.do("POST", "/v1/keys", f.keys["secret"], "k-1", f.keys["secret-test"])
	g.do("POST", "/v1/monitors", f.keys["secret"], "k-2", "x")
	for _, a := range g.store.kept {
		for _, k := range f.keys {
			if bytes.Contains(a.Body, []byte(k)) {
				t.Errorf("a kept answer contains an API key")
			}
		}
	}
	if len(g.store.kept) != 1 {
		t.Errorf("%d answers kept, want 1 (the monitor's)", len(g.store.kept))
	}
}

// TestIdempotencyAlone: the Handler without a Gate, in front of Credits:
// a 402 is not kept; RequireIdempotencyKey without any idempotency step
// fails closed; Handler panics without a Store.
func TestIdempotencyAlone(t *testing.T) {
	k := &apikey.Key{ID: "key_1", Type: apikey.SecretKey, Permission: apikey.ReadWrite}
	var ran int
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran++; w.WriteHeader(201) })
	cr := &middleware.Credits{Allowance: credits.PerMonth(1), Store: credits.NewMemoryStore(credits.MemoryConfig{}), Logger: discardLogger()}
	h := quietWriter((&middleware.Idempotency{Store: idempotency.NewMemoryStore(idempotency.MemoryConfig{})}).Handler(cr.Handler(next)))
	do := func(key string) int {
		r := middlewaretest.WithKey(httptest.NewRequest("POST", "/", strings.NewReader("{}")), k)
		r.Header.Set("Idempotency-Key", key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if c := do("a"); c != 201 {
		t.Fatalf("first: %d", c)
	}
	if c := do("b"); c != 402 {
		t.Fatalf("second key, no credits: %d, want 402", c)
	}
	cr2 := cr // grant a credit, then key b runs: its 402 was not kept
	if _, err := cr2.Store.Grant(context.Background(), "key_1", credits.PerMonth(1), 1); err != nil {
		t.Fatal(err)
	}
	if c := do("b"); c != 201 {
		t.Errorf("key b after a grant: %d, want 201 (the 402 must not be kept)", c)
	}

	alone := quietWriter(middleware.RequireIdempotencyKey(next))
	w := httptest.NewRecorder()
	r := middlewaretest.WithKey(httptest.NewRequest("POST", "/", nil), k)
	r.Header.Set("Idempotency-Key", "a")
	alone.ServeHTTP(w, r)
	if w.Code != 500 {
		t.Errorf("RequireIdempotencyKey with no idempotency step: %d, want 500", w.Code)
	}
	w = httptest.NewRecorder()
	alone.ServeHTTP(w, middlewaretest.WithKey(httptest.NewRequest("POST", "/", nil), k))
	if w.Code != 400 {
		t.Errorf("RequireIdempotencyKey with no idempotency step, no header: %d, want 400", w.Code)
	}
	w = httptest.NewRecorder()
	alone.ServeHTTP(w, middlewaretest.WithKey(httptest.NewRequest("GET", "/", nil), k))
	if w.Code != 201 {
		t.Errorf("RequireIdempotencyKey on a read with no idempotency step: %d, want the handler", w.Code)
	}

	for _, cfg := range []middleware.Idempotency{{}, {Store: idempotency.NewMemoryStore(idempotency.MemoryConfig{}), LockTimeout: -1}} {
		func() {
			defer func() {
				if v := recover(); v == nil || !strings.HasPrefix(fmt.Sprint(v), "middleware: Idempotency.") {
					t.Errorf("Handler of %+v: panic %v, want one naming the field", cfg, v)
				}
			}()
			cfg.Handler(next)
		}()
	}
}
