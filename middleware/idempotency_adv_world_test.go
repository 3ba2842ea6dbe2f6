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
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/apikeytest"
	"github.com/gatekey/gatekey/credits"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

// ------------------------------------------------------------------ world

// iaClock is a settable clock for the idempotency store.
type iaClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *iaClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *iaClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// iaLogBuf is a goroutine-safe log sink.
type iaLogBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *iaLogBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *iaLogBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// iaSpy wraps a Store, records what it is asked and can fail on demand.
type iaSpy struct {
	inner idempotency.Store

	mu       sync.Mutex
	begins   int
	finishes []iaFinish
	releases int
	tokens   map[uint64]int
	claimed  map[[2]string]uint64 // outstanding claims

	beginErr   func() error
	finishErr  func() error
	releaseErr func() error
	honourCtx  bool // fail like a networked store when ctx is done
}

type iaFinish struct {
	account, key string
	token        uint64
	answer       idempotency.Answer
	kept         bool
}

func newIaSpy(inner idempotency.Store) *iaSpy {
	return &iaSpy{inner: inner, tokens: map[uint64]int{}, claimed: map[[2]string]uint64{}}
}

func (s *iaSpy) Begin(ctx context.Context, account, key string, fp idempotency.Fingerprint, token uint64, lock time.Duration) (idempotency.Record, bool, error) {
	s.mu.Lock()
	s.begins++
	s.tokens[token]++
	fail := s.beginErr
	s.mu.Unlock()
	if fail != nil {
		if err := fail(); err != nil {
			return idempotency.Record{}, false, err
		}
	}
	if s.honourCtx && ctx.Err() != nil {
		return idempotency.Record{}, false, fmt.Errorf("spy: %w: %w", idempotency.ErrUnavailable, ctx.Err())
	}
	rec, ok, err := s.inner.Begin(ctx, account, key, fp, token, lock)
	if ok && err == nil {
		s.mu.Lock()
		s.claimed[[2]string{account, key}] = token
		s.mu.Unlock()
	}
	return rec, ok, err
}

func (s *iaSpy) Finish(ctx context.Context, account, key string, token uint64, a *idempotency.Answer, retain time.Duration) (bool, error) {
	s.mu.Lock()
	fail := s.finishErr
	s.mu.Unlock()
	cp := idempotency.Answer{Status: a.Status, Header: a.Header.Clone(), Body: bytes.Clone(a.Body)}
	if fail != nil {
		if err := fail(); err != nil {
			s.mu.Lock()
			s.finishes = append(s.finishes, iaFinish{account, key, token, cp, false})
			s.mu.Unlock()
			return false, err
		}
	}
	if s.honourCtx && ctx.Err() != nil {
		s.mu.Lock()
		s.finishes = append(s.finishes, iaFinish{account, key, token, cp, false})
		s.mu.Unlock()
		return false, fmt.Errorf("spy: %w: %w", idempotency.ErrUnavailable, ctx.Err())
	}
	ok, err := s.inner.Finish(ctx, account, key, token, a, retain)
	s.mu.Lock()
	s.finishes = append(s.finishes, iaFinish{account, key, token, cp, ok})
	if s.claimed[[2]string{account, key}] == token {
		delete(s.claimed, [2]string{account, key})
	}
	s.mu.Unlock()
	return ok, err
}

func (s *iaSpy) Release(ctx context.Context, account, key string, token uint64) error {
	s.mu.Lock()
	s.releases++
	fail := s.releaseErr
	s.mu.Unlock()
	if fail != nil {
		if err := fail(); err != nil {
			return err
		}
	}
	if s.honourCtx && ctx.Err() != nil {
		return fmt.Errorf("spy: %w: %w", idempotency.ErrUnavailable, ctx.Err())
	}
	err := s.inner.Release(ctx, account, key, token)
	s.mu.Lock()
	if s.claimed[[2]string{account, key}] == token {
		delete(s.claimed, [2]string{account, key})
	}
	s.mu.Unlock()
	return err
}

func (s *iaSpy) stats() (begins, finishes, releases, outstanding int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.begins, len(s.finishes), s.releases, len(s.claimed)
}

func (s *iaSpy) allFinishes() []iaFinish {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]iaFinish(nil), s.finishes...)
}

type iaOpts struct {
	idem      func(*middleware.Idempotency)
	allowance credits.Allowance // zero: no credits
	rate      string            // "": no rate limit
	cors      bool
	wrapStore func(idempotency.Store) idempotency.Store
	memCfg    idempotency.MemoryConfig
}

type iaWorld struct {
	t       *testing.T
	env     *apikeytest.Env
	clk     *iaClock
	mem     *idempotency.MemoryStore
	spy     *iaSpy
	cstore  *credits.MemoryStore
	allow   credits.Allowance
	logs    *iaLogBuf
	h       http.Handler
	gate    *middleware.Gate
	mux     *http.ServeMux
	keys    map[string]string
	recs    map[string]*apikey.Key
	runs    sync.Map // route name → *atomic.Int64
	release chan struct{}
	entered chan int64
	created []string // API key plaintexts handed out by the key routes
	cmu     sync.Mutex
	flushEr atomic.Value
	sync    chan struct{} // closed by the client of the streaming route
}

func (w *iaWorld) run(name string) int64 {
	v, _ := w.runs.LoadOrStore(name, new(atomic.Int64))
	return v.(*atomic.Int64).Add(1)
}

func (w *iaWorld) count(name string) int64 {
	v, _ := w.runs.LoadOrStore(name, new(atomic.Int64))
	return v.(*atomic.Int64).Load()
}

// userWrap is a service's own middleware, which hides what it wraps.
func iaUserWrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) })
}

func newIaWorld(t *testing.T, o iaOpts) *iaWorld {
	t.Helper()
	w := &iaWorld{
		t:       t,
		env:     apikeytest.New(t, apikeytest.Config{Seed: 7}),
		clk:     &iaClock{t: time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)},
		logs:    &iaLogBuf{},
		keys:    map[string]string{},
		recs:    map[string]*apikey.Key{},
		release: make(chan struct{}),
		entered: make(chan int64, 1000),
		sync:    make(chan struct{}),
	}
	for name, p := range map[string]apikey.CreateParams{
		"a1":       {Permission: apikey.ReadWrite, Owner: "acct-a"},
		"a2":       {Permission: apikey.ReadWrite, Owner: "acct-a"},
		"b":        {Permission: apikey.ReadWrite, Owner: "acct-b"},
		"solo1":    {Permission: apikey.ReadWrite},
		"solo2":    {Permission: apikey.ReadWrite},
		"ro":       {Permission: apikey.ReadOnly, Owner: "acct-a"},
		"pub":      {Type: apikey.PublishableKey, Owner: "acct-a"},
		"pro":      {Permission: apikey.ReadWrite, Owner: "acct-a", Tier: "pro"},
		"scoped":   {Permission: apikey.ReadWrite, Owner: "acct-a", Scopes: []string{"things:write"}},
		"revoked":  {Permission: apikey.ReadWrite, Owner: "acct-a"},
		"disabled": {Permission: apikey.ReadWrite, Owner: "acct-a"},
	} {
		p.Name = name
		tok, rec := w.env.Mint(p)
		w.keys[name], w.recs[name] = tok.Reveal(), rec
	}
	w.env.Revoke(w.recs["revoked"].ID)
	w.env.Disable(w.recs["disabled"].ID)

	cfg := o.memCfg
	if cfg.Now == nil {
		cfg.Now = w.clk.Now
	}
	w.mem = idempotency.NewMemoryStore(cfg)
	var store idempotency.Store = w.mem
	if o.wrapStore != nil {
		store = o.wrapStore(store)
	}
	w.spy = newIaSpy(store)
	logger := slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	idem := &middleware.Idempotency{Store: w.spy}
	if o.idem != nil {
		o.idem(idem)
	}
	w.gate = &middleware.Gate{
		Auth:        middleware.Authenticator{Verifier: w.env.Manager},
		Idempotency: idem,
		Logger:      logger,
		Public:      []string{"POST /v1/public"},
	}
	if o.rate != "" {
		w.gate.RateLimit = &middleware.RateLimiter{Policy: ratelimit.MustParsePolicy(o.rate)}
	}
	if o.allowance != (credits.Allowance{}) {
		w.allow = o.allowance
		w.cstore = credits.NewMemoryStore(credits.MemoryConfig{})
		w.gate.Credits = &middleware.Credits{Allowance: o.allowance, Store: w.cstore}
	}
	if o.cors {
		w.gate.CORS = &middleware.CORS{AllowedOrigins: []string{"https://app.example"}}
	}
	w.mux = w.routes()
	w.h = w.gate.Handler(w.mux)
	return w
}

func (w *iaWorld) thing(name string, status int) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		n := w.run(name)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(rw, "read: "+err.Error(), 599)
			return
		}
		sum := sha256.Sum256(body)
		rw.Header().Set("Content-Type", "application/json; charset=utf-8")
		rw.Header().Set("Location", fmt.Sprintf("/v1/%s/%d", name, n))
		rw.Header().Set("Set-Cookie", fmt.Sprintf("sess=%s-%d", name, n))
		rw.Header().Set("Cache-Control", "no-store")
		rw.Header().Set("X-Handler-Run", strconv.FormatInt(n, 10))
		rw.WriteHeader(status)
		fmt.Fprintf(rw, `{"route":%q,"run":%d,"method":%q,"len":%d,"sha":%q}`, name, n, r.Method, len(body), hex.EncodeToString(sum[:]))
	})
}

func (w *iaWorld) createKey(name string) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.run(name)
		tok, rec := w.env.Mint(apikey.CreateParams{Permission: apikey.ReadWrite, Owner: "acct-a"})
		w.cmu.Lock()
		w.created = append(w.created, tok.Reveal())
		w.cmu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(201)
		fmt.Fprintf(rw, `{"id":%q,"key":%q}`, rec.ID, tok.Reveal())
	})
}

func (w *iaWorld) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/things", w.thing("things", 201))
	mux.Handle("GET /v1/things", w.thing("things-get", 200))
	mux.Handle("GET /v1/readonly", w.thing("readonly", 200))
	mux.Handle("/v1/any", w.thing("any", 200))
	mux.Handle("POST /v1/secret-only", middleware.RequireSecret(w.thing("secret-only", 201)))
	mux.Handle("POST /v1/pro", middleware.RequireTier("pro")(w.thing("pro", 201)))
	mux.Handle("POST /v1/scoped", middleware.RequireScopes("things:write")(w.thing("scoped", 201)))
	mux.Handle("POST /v1/costly", middleware.Cost(5)(w.thing("costly", 201)))
	mux.Handle("POST /v1/invalid", w.thing("invalid", 400))
	mux.Handle("POST /v1/required", middleware.RequireIdempotencyKey(w.thing("required", 201)))
	mux.Handle("POST /v1/required-wrapped", iaUserWrap(middleware.RequireIdempotencyKey(w.thing("required-wrapped", 201))))
	mux.Handle("POST /v1/keys", middleware.IgnoreIdempotencyKey(w.createKey("keys")))
	mux.Handle("POST /v1/keys-inner", middleware.RequireSecret(middleware.IgnoreIdempotencyKey(w.createKey("keys-inner"))))
	mux.Handle("POST /v1/keys-wrapped", iaUserWrap(middleware.IgnoreIdempotencyKey(w.createKey("keys-wrapped"))))
	mux.Handle("POST /v1/keys/{id}/roll", middleware.IgnoreIdempotencyKey(middleware.RequireSecret(w.createKey("roll"))))
	mux.HandleFunc("POST /v1/flaky", func(rw http.ResponseWriter, r *http.Request) {
		if w.run("flaky") == 1 {
			rw.Header().Set("Content-Type", "text/plain")
			rw.WriteHeader(503)
			io.WriteString(rw, "try later")
			return
		}
		w.thing("flaky-ok", 201).ServeHTTP(rw, r)
	})
	mux.HandleFunc("POST /v1/panic", func(rw http.ResponseWriter, r *http.Request) {
		if w.run("panic") == 1 {
			panic("boom")
		}
		w.thing("panic-ok", 201).ServeHTTP(rw, r)
	})
	mux.HandleFunc("POST /v1/partial-panic", func(rw http.ResponseWriter, r *http.Request) {
		if w.run("partial-panic") == 1 {
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(201)
			io.WriteString(rw, `{"half":`)
			panic("boom after writing")
		}
		w.thing("partial-ok", 201).ServeHTTP(rw, r)
	})
	mux.HandleFunc("POST /v1/big", func(rw http.ResponseWriter, r *http.Request) {
		n := w.run("big")
		rw.Header().Set("Content-Type", "application/octet-stream")
		rw.WriteHeader(201)
		chunk := bytes.Repeat([]byte{byte('a' + n%26)}, 1024)
		for i := 0; i < 8; i++ {
			rw.Write(chunk)
		}
	})
	mux.HandleFunc("POST /v1/stream", func(rw http.ResponseWriter, r *http.Request) {
		n := w.run("stream")
		rw.Header().Set("Content-Type", "text/event-stream")
		rw.WriteHeader(200)
		fmt.Fprintf(rw, "data: one %d\n\n", n)
		if err := http.NewResponseController(rw).Flush(); err != nil {
			w.flushEr.Store(err.Error())
		}
		if r.URL.Query().Get("sync") == "1" {
			select {
			case <-w.sync:
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
				w.flushEr.Store("client never saw the first chunk (answer buffered?)")
			}
		}
		fmt.Fprintf(rw, "data: two %d\n\n", n)
	})
	mux.Handle("POST /v1/public", w.thing("public", 201))
	// Key creation on routers mounted under the Gate's router.
	v2 := http.NewServeMux()
	v2.Handle("POST /keys", middleware.IgnoreIdempotencyKey(w.createKey("v2-keys")))
	mux.Handle("/v2/", middleware.StripPrefix("/v2", v2))
	v3 := http.NewServeMux()
	v3.Handle("POST /keys", middleware.IgnoreIdempotencyKey(w.createKey("v3-keys")))
	mux.Handle("/v3/", http.StripPrefix("/v3", v3))
	v4 := http.NewServeMux()
	v4.Handle("POST /v4/keys", middleware.IgnoreIdempotencyKey(w.createKey("v4-keys")))
	mux.Handle("/v4/", v4)
	mux.HandleFunc("POST /v1/abort", func(rw http.ResponseWriter, r *http.Request) {
		if w.run("abort") == 1 {
			rw.WriteHeader(201)
			io.WriteString(rw, "half")
			panic(http.ErrAbortHandler)
		}
		w.thing("abort-ok", 201).ServeHTTP(rw, r)
	})
	mux.HandleFunc("POST /v1/nocontent", func(rw http.ResponseWriter, r *http.Request) {
		w.run("nocontent")
		rw.WriteHeader(204)
	})
	mux.HandleFunc("POST /v1/nothing", func(rw http.ResponseWriter, r *http.Request) {
		w.run("nothing")
	})
	mux.HandleFunc("POST /v1/sniff", func(rw http.ResponseWriter, r *http.Request) {
		n := w.run("sniff")
		fmt.Fprintf(rw, "<html><body>run %d</body></html>", n)
	})
	mux.HandleFunc("POST /v1/late-header", func(rw http.ResponseWriter, r *http.Request) {
		n := w.run("late-header")
		rw.Header().Set("Content-Type", "text/plain")
		rw.WriteHeader(201)
		rw.Header().Set("Location", "/never/sent") // after WriteHeader: not sent
		fmt.Fprintf(rw, "run %d", n)
	})
	mux.HandleFunc("POST /v1/block", func(rw http.ResponseWriter, r *http.Request) {
		n := w.run("block")
		w.entered <- n
		if n == 1 {
			<-w.release
		}
		rw.Header().Set("Content-Type", "text/plain")
		rw.WriteHeader(201)
		fmt.Fprintf(rw, "block run %d", n)
	})
	mux.HandleFunc("POST /v1/ctx", func(rw http.ResponseWriter, r *http.Request) {
		n := w.run("ctx")
		w.entered <- n
		<-r.Context().Done() // the client went away; the work is done anyway
		rw.Header().Set("Content-Type", "text/plain")
		rw.WriteHeader(201)
		fmt.Fprintf(rw, "ctx run %d", n)
	})
	return mux
}

type iaReq struct {
	method, path, key, body string
	idem                    []string // nil: no header; each entry a header line
	reqID                   string
	origin                  string
	ctx                     context.Context
}

func (w *iaWorld) newReq(q iaReq) *http.Request {
	if q.method == "" {
		q.method = "POST"
	}
	var body io.Reader
	if q.body != "" {
		body = strings.NewReader(q.body)
	}
	r := httptest.NewRequest(q.method, q.path, body)
	if q.ctx != nil {
		r = r.WithContext(q.ctx)
	}
	if q.key != "" {
		r.Header.Set("Authorization", "Bearer "+w.keys[q.key])
	}
	if q.idem != nil {
		r.Header[middleware.IdempotencyKeyHeader] = q.idem
	}
	if q.reqID != "" {
		r.Header.Set("X-Request-Id", q.reqID)
	}
	if q.origin != "" {
		r.Header.Set("Origin", q.origin)
	}
	return r
}

func (w *iaWorld) do(q iaReq) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, w.newReq(q))
	return rec
}

func iaIdem(v string) []string { return []string{v} }

func iaCode(rec *httptest.ResponseRecorder) string {
	e, err := apierrors.Decode(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		return fmt.Sprintf("<not a JSON error: %q>", rec.Body.String())
	}
	return string(e.Code)
}

func iaReplayed(rec *httptest.ResponseRecorder) bool {
	return rec.Result().Header.Get(middleware.IdempotentReplayedHeader) == "true"
}

func (w *iaWorld) balance(account string) int64 {
	b, _, err := w.cstore.Spend(context.Background(), account, w.allow, 0)
	if err != nil {
		w.t.Fatalf("balance: %v", err)
	}
	return b.Remaining
}

func (w *iaWorld) secrets() []string {
	w.cmu.Lock()
	defer w.cmu.Unlock()
	out := append([]string(nil), w.created...)
	for _, k := range w.keys {
		out = append(out, k)
	}
	return out
}

// iaContainsSecret reports whether s contains any 16-character run of a
// key's last 38 characters (its secret and checksum).
func iaContainsSecret(s string, keys []string) bool {
	for _, k := range keys {
		if len(k) < 38 {
			continue
		}
		sec := k[len(k)-38:]
		for i := 0; i+16 <= len(sec); i += 4 {
			if strings.Contains(s, sec[i:i+16]) {
				return true
			}
		}
	}
	return false
}

func iaWholeResponse(rec *httptest.ResponseRecorder) string {
	var b strings.Builder
	rec.Result().Header.Write(&b)
	b.Write(rec.Body.Bytes())
	return b.String()
}

func iaWait(t *testing.T, ch <-chan int64) int64 {
	t.Helper()
	select {
	case n := <-ch:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("handler never entered")
		return 0
	}
}
