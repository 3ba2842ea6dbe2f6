package middleware_test

// Adversarial tests of the idempotency step (middleware.Idempotency and the
// Gate's use of it), written from the doc comments of the Gate,
// middleware.Idempotency and idempotency.Store and the README's error
// table, not from the implementation.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/middleware/middlewaretest"
)

// ------------------------------------------------------------ store faults

func TestIdemAdvStoreFailures(t *testing.T) {
	plain := errors.New("disk on fire")
	for _, tc := range []struct {
		name   string
		err    error
		status []int
	}{
		{"unavailable", fmt.Errorf("redis: %w", idempotency.ErrUnavailable), []int{503}},
		{"deadline", fmt.Errorf("%w: %w", idempotency.ErrUnavailable, context.DeadlineExceeded), []int{503}},
		{"unexpected", plain, []int{500, 503}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newIaWorld(t, iaOpts{allowance: credits.PerDay(10)})
			w.spy.beginErr = func() error { return tc.err }
			rec := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("idem-VALUE-in-logs"), body: "x"})
			okStatus := false
			for _, s := range tc.status {
				okStatus = okStatus || rec.Code == s
			}
			if !okStatus {
				t.Errorf("Begin fails with %v: %d %s, want one of %v", tc.err, rec.Code, iaCode(rec), tc.status)
			}
			if rec.Code == 503 && iaCode(rec) != "service_unavailable" {
				t.Errorf("503 with code %s", iaCode(rec))
			}
			if rec.Code == 500 && iaCode(rec) != "internal_error" {
				t.Errorf("500 with code %s", iaCode(rec))
			}
			if strings.Contains(rec.Body.String(), "disk on fire") || strings.Contains(rec.Body.String(), "redis") {
				t.Errorf("internals leak: %s", rec.Body)
			}
			if w.count("things") != 0 {
				t.Errorf("handler ran although the key could not be claimed")
			}
			if w.balance("acct-a") != 10 {
				t.Errorf("a store failure spent credits")
			}
			if logs := w.logs.String(); iaContainsSecret(logs, w.secrets()) {
				t.Errorf("log holds an API key:\n%s", logs)
			} else if !strings.Contains(logs, tc.err.Error()) {
				t.Errorf("store failure not logged:\n%s", logs)
			}
		})
	}
	t.Run("finish fails after the handler ran", func(t *testing.T) {
		w := newIaWorld(t, iaOpts{})
		w.spy.finishErr = func() error { return fmt.Errorf("gone: %w", idempotency.ErrUnavailable) }
		rec := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("f"), body: "x"})
		if rec.Code != 201 || !strings.Contains(rec.Body.String(), `"run":1`) {
			t.Errorf("the handler's answer was not delivered when Finish failed: %d %q", rec.Code, rec.Body)
		}
	})
	t.Run("release fails", func(t *testing.T) {
		w := newIaWorld(t, iaOpts{})
		w.spy.releaseErr = func() error { return fmt.Errorf("gone: %w", idempotency.ErrUnavailable) }
		rec := w.do(iaReq{path: "/v1/flaky", key: "a1", idem: iaIdem("f")})
		if rec.Code != 503 || rec.Body.String() != "try later" {
			t.Errorf("the handler's own 503 not delivered when Release failed: %d %q", rec.Code, rec.Body)
		}
	})
	t.Run("store full of live claims", func(t *testing.T) {
		w := newIaWorld(t, iaOpts{memCfg: idempotency.MemoryConfig{MaxRecords: 16}})
		// Fill every shard with live claims, directly.
		fp := idempotency.Fingerprint{}
		for i := 0; i < 10000; i++ {
			if _, _, err := w.mem.Begin(context.Background(), "filler", fmt.Sprint(i), fp, uint64(1<<40+i), time.Hour); err != nil {
				continue
			}
		}
		rec := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("full"), body: "x"})
		if rec.Code != 503 || iaCode(rec) != "service_unavailable" || w.count("things") != 0 {
			t.Errorf("store full of claims: %d %s (runs %d), want 503 and no handler", rec.Code, iaCode(rec), w.count("things"))
		}
	})
}

// A flood of other keys never evicts a request that is running.
func TestIdemAdvLiveClaimSurvivesFlood(t *testing.T) {
	w := newIaWorld(t, iaOpts{memCfg: idempotency.MemoryConfig{MaxRecords: 64, MaxBytes: 64 << 10}})
	q := iaReq{path: "/v1/block", key: "a1", idem: iaIdem("vip"), body: "x"}
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- w.do(q) }()
	iaWait(t, w.entered)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				w.do(iaReq{path: "/v1/things", key: "b", idem: iaIdem(fmt.Sprintf("flood-%d-%d", g, i)), body: "y"})
			}
		}(g)
	}
	wg.Wait()
	if n := w.mem.Len(); n > 64 {
		t.Errorf("store holds %d records, MaxRecords 64", n)
	}
	rec := w.do(q)
	if rec.Code != 409 || w.count("block") != 1 {
		t.Errorf("the running request's key after a flood: %d %s (runs %d); want 409", rec.Code, iaCode(rec), w.count("block"))
	}
	close(w.release)
	<-done
}

// ------------------------------------------------------- client disconnect

func TestIdemAdvClientGoneStillKept(t *testing.T) {
	for _, honour := range []bool{false, true} {
		t.Run(fmt.Sprintf("store honours ctx=%v", honour), func(t *testing.T) {
			w := newIaWorld(t, iaOpts{})
			w.spy.honourCtx = honour
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan *httptest.ResponseRecorder, 1)
			go func() { done <- w.do(iaReq{path: "/v1/ctx", key: "a1", idem: iaIdem("gone"), body: "x", ctx: ctx}) }()
			iaWait(t, w.entered)
			cancel() // the client hangs up; the handler finishes its work
			<-done
			again := w.do(iaReq{path: "/v1/ctx", key: "a1", idem: iaIdem("gone"), body: "x", ctx: context.Background()})
			if again.Code != 201 || !iaReplayed(again) || again.Body.String() != "ctx run 1" {
				t.Errorf("retry after the client went away: %d %q (replayed %v, runs %d); want run 1's answer replayed", again.Code, again.Body, iaReplayed(again), w.count("ctx"))
			}
		})
	}
}

// --------------------------------------------------------------- logging

func TestIdemAdvNothingSecretLogged(t *testing.T) {
	w := newIaWorld(t, iaOpts{idem: func(i *middleware.Idempotency) { i.MaxAnswerBytes = 100 }})
	n := 0
	w.spy.finishErr = func() error {
		n++
		if n%2 == 0 {
			return fmt.Errorf("boom: %w", idempotency.ErrUnavailable)
		}
		return nil
	}
	for i := 0; i < 4; i++ {
		w.do(iaReq{path: "/v1/big", key: "a1", idem: iaIdem(fmt.Sprintf("k%d", i))})
		w.do(iaReq{path: "/v1/keys", key: "a1", idem: iaIdem("kc")})
		w.do(iaReq{path: "/v1/things", key: "a2", idem: iaIdem("bad key")})
		w.do(iaReq{path: "/v1/things", key: "a2", idem: iaIdem(fmt.Sprintf("t%d", i))})
	}
	w.spy.beginErr = func() error { return errors.New("begin broke") }
	w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("x")})
	logs := w.logs.String()
	if logs == "" {
		t.Fatalf("nothing logged at all")
	}
	if iaContainsSecret(logs, w.secrets()) {
		t.Errorf("log holds an API key:\n%s", logs)
	}
}

// ----------------------------------------------------- standalone and config

func TestIdemAdvStandalone(t *testing.T) {
	mem := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	ran := 0
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran++
		w.WriteHeader(201)
		io.WriteString(w, "made")
	})
	i := &middleware.Idempotency{Store: mem, Logger: discardLogger()}
	h := quietWriter(i.Handler(next))
	// Without a verified key: 500, never the handler.
	r := httptest.NewRequest("POST", "/x", strings.NewReader("b"))
	r.Header.Set("Idempotency-Key", "k")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 500 || ran != 0 {
		t.Errorf("no key in the context: %d (handler ran %d), want 500 and no handler", rec.Code, ran)
	}
	// Configuration is copied: changing it afterwards changes nothing.
	i.Store = nil
	i.MaxBodyBytes = 1
	k := &apikey.Key{ID: "abcdefghijkl", Owner: "o", Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite}
	for n := 0; n < 2; n++ {
		r := middlewaretest.WithKey(httptest.NewRequest("POST", "/x", strings.NewReader("body")), k)
		r.Header.Set("Idempotency-Key", "k")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != 201 || rec.Body.String() != "made" {
			t.Errorf("request %d: %d %q", n, rec.Code, rec.Body)
		}
	}
	if ran != 1 {
		t.Errorf("handler ran %d times, want 1", ran)
	}
	// Misconfiguration panics, naming the package and the field.
	for _, tc := range []struct {
		field string
		cfg   middleware.Idempotency
	}{
		{"Store", middleware.Idempotency{}},
		{"LockTimeout", middleware.Idempotency{Store: mem, LockTimeout: -1}},
		{"Retention", middleware.Idempotency{Store: mem, Retention: -time.Second}},
		{"MaxBodyBytes", middleware.Idempotency{Store: mem, MaxBodyBytes: -1}},
		{"MaxAnswerBytes", middleware.Idempotency{Store: mem, MaxAnswerBytes: -1}},
	} {
		func() {
			defer func() {
				p := recover()
				msg := fmt.Sprint(p)
				if p == nil || !strings.Contains(msg, "middleware") || !strings.Contains(msg, tc.field) {
					t.Errorf("Handler with bad %s: panic %v, want one naming middleware and %s", tc.field, p, tc.field)
				}
			}()
			tc.cfg.Handler(next)
		}()
	}
}

func TestIdemAdvGateSnapshot(t *testing.T) {
	w := newIaWorld(t, iaOpts{})
	w.gate.Idempotency.Store = nil
	w.gate.Idempotency.Required = true
	w.gate.Idempotency = nil
	first := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("snap"), body: "x"})
	again := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("snap"), body: "x"})
	none := w.do(iaReq{path: "/v1/things", key: "a1", body: "x"})
	if first.Code != 201 || !iaReplayed(again) || none.Code != 201 {
		t.Errorf("after changing the Gate's Idempotency: %d, %d (replayed %v), %d; the handler must keep its snapshot", first.Code, again.Code, iaReplayed(again), none.Code)
	}
}

func TestIdemAdvTokensNeverReused(t *testing.T) {
	// Two replicas (two Gate handlers) sharing one store.
	w := newIaWorld(t, iaOpts{})
	h2 := (&middleware.Gate{
		Auth:        middleware.Authenticator{Verifier: w.env.Manager},
		Idempotency: &middleware.Idempotency{Store: w.spy},
		Logger:      discardLogger(),
	}).Handler(w.mux)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				h := w.h
				if g%2 == 1 {
					h = h2
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, w.newReq(iaReq{path: "/v1/things", key: "a1", idem: iaIdem(fmt.Sprintf("t-%d-%d", g, i)), body: "x"}))
			}
		}(g)
	}
	wg.Wait()
	w.spy.mu.Lock()
	defer w.spy.mu.Unlock()
	for tok, n := range w.spy.tokens {
		if n > 1 {
			t.Errorf("token %d used for %d Begins", tok, n)
		}
	}
	if len(w.spy.tokens) != 400 {
		t.Errorf("%d distinct tokens for 400 Begins", len(w.spy.tokens))
	}
}

func TestIdemAdvCORS(t *testing.T) {
	w := newIaWorld(t, iaOpts{cors: true})
	r := httptest.NewRequest("OPTIONS", "/v1/things", nil)
	r.Header.Set("Origin", "https://app.example")
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Headers", "authorization, idempotency-key, content-type")
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	allow := strings.ToLower(strings.Join(rec.Result().Header.Values("Access-Control-Allow-Headers"), ","))
	if rec.Code != 204 || !strings.Contains(allow, "idempotency-key") {
		t.Errorf("preflight: %d, Access-Control-Allow-Headers %q; want 204 allowing Idempotency-Key", rec.Code, allow)
	}
	first := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("cors"), body: "x", origin: "https://app.example"})
	again := w.do(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("cors"), body: "x", origin: "https://app.example"})
	if !iaReplayed(again) || again.Result().Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("cross-origin replay: replayed %v, Access-Control-Allow-Origin %q", iaReplayed(again), again.Result().Header.Get("Access-Control-Allow-Origin"))
	}
	exposed := strings.ToLower(strings.Join(again.Result().Header.Values("Access-Control-Expose-Headers"), ","))
	if !strings.Contains(exposed, "idempotent-replayed") {
		t.Logf("note: Access-Control-Expose-Headers %q does not expose Idempotent-Replayed to browsers (first %d)", exposed, first.Code)
	}
}

// ------------------------------------------------------------ more edges

func TestIdemAdvPublicRouteSkipsIdempotency(t *testing.T) {
	w := newIaWorld(t, iaOpts{idem: func(i *middleware.Idempotency) { i.Required = true }})
	for i := 0; i < 2; i++ {
		rec := w.do(iaReq{path: "/v1/public", idem: iaIdem("pub"), body: "x"})
		if rec.Code != 201 || iaReplayed(rec) {
			t.Errorf("public route %d: %d %s (replayed %v); public routes skip idempotency", i, rec.Code, iaCode(rec), iaReplayed(rec))
		}
	}
	if rec := w.do(iaReq{path: "/v1/public", idem: iaIdem("bad key")}); rec.Code != 201 {
		t.Errorf("public route, malformed key: %d %s", rec.Code, iaCode(rec))
	}
	if rec := w.do(iaReq{path: "/v1/public"}); rec.Code != 201 {
		t.Errorf("public route, Required, no key: %d %s", rec.Code, iaCode(rec))
	}
	if b, _, _, _ := w.spy.stats(); b != 0 || w.count("public") != 4 {
		t.Errorf("public route: %d Begins, %d runs; want 0 and 4", b, w.count("public"))
	}
}

func TestIdemAdvBodyReadErrors(t *testing.T) {
	w := newIaWorld(t, iaOpts{})
	t.Run("broken body", func(t *testing.T) {
		r := w.newReq(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("broken")})
		r.Body = io.NopCloser(io.MultiReader(strings.NewReader("partial"), &iaErrReader{errors.New("connection reset")}))
		rec := httptest.NewRecorder()
		w.h.ServeHTTP(rec, r)
		if rec.Code < 400 || w.count("things") != 0 {
			t.Errorf("unreadable body: %d, handler runs %d; want an error and no handler", rec.Code, w.count("things"))
		}
		if strings.Contains(rec.Body.String(), "connection reset") {
			t.Errorf("internals leak: %s", rec.Body)
		}
		if _, _, _, out := w.spy.stats(); out != 0 {
			t.Errorf("an unreadable body left %d claims", out)
		}
		t.Logf("unreadable body answered %d %s", rec.Code, iaCode(rec))
	})
	t.Run("server body limit", func(t *testing.T) {
		rec := httptest.NewRecorder()
		r := w.newReq(iaReq{path: "/v1/things", key: "a1", idem: iaIdem("mbr"), body: strings.Repeat("m", 50)})
		r.Body = http.MaxBytesReader(rec, r.Body, 10)
		w.h.ServeHTTP(rec, r)
		if rec.Code != 413 || w.count("things") != 0 {
			t.Errorf("body over the server's http.MaxBytesReader limit: %d %s; want 413 and no handler", rec.Code, iaCode(rec))
		}
	})
}

type iaErrReader struct{ err error }

func (e *iaErrReader) Read([]byte) (int, error) { return 0, e.err }

func TestIdemAdvAbortHandlerFreesKey(t *testing.T) {
	w := newIaWorld(t, iaOpts{})
	srv := httptest.NewUnstartedServer(w.h)
	srv.Config.ErrorLog = nil
	srv.Start()
	defer srv.Close()
	send := func() (int, string, error) {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/abort", strings.NewReader("x"))
		req.Header.Set("Authorization", "Bearer "+w.keys["a1"])
		req.Header.Set("Idempotency-Key", "abort-1")
		resp, err := srv.Client().Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	send() // aborted mid-answer
	code, body, err := send()
	if err != nil || code != 201 || w.count("abort") != 2 {
		t.Errorf("retry after an aborted handler: %d %q %v (runs %d); want a second run", code, body, err, w.count("abort"))
	}
}
