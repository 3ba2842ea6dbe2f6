package middleware_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/middleware/middlewaretest"
)

// BenchmarkIdempotency measures the Idempotency part alone, a key already
// in the context, the in-memory store, a handler that writes 1 KiB:
// "bare" is the handler without the part, "pass-through" a write without
// the header and a read with it, "first" a new key with a 1 KiB body
// (the body's SHA-256 included) in a store that fills to its 64 MiB bound
// and evicts, "first-small-store" the same in a store that stays small,
// "replay" a retry answered from the store.
func BenchmarkIdempotency(b *testing.B) {
	answer := bytes.Repeat([]byte("a"), 1<<10)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(answer)
	})
	body := bytes.Repeat([]byte("b"), 1<<10)
	k := &apikey.Key{ID: "01uoTHatT215", Owner: "acct_bench", Type: apikey.SecretKey, Permission: apikey.ReadWrite}
	newPart := func() http.Handler {
		return (&middleware.Idempotency{Store: idempotency.NewMemoryStore(idempotency.MemoryConfig{}), Logger: discardLogger()}).Handler(handler)
	}
	// A part whose answers expire at once, so that its store stays small
	// (the first requests of a service that is not busy).
	newSmallPart := func() http.Handler {
		return (&middleware.Idempotency{Store: idempotency.NewMemoryStore(idempotency.MemoryConfig{}), Retention: time.Nanosecond, Logger: discardLogger()}).Handler(handler)
	}
	run := func(b *testing.B, h http.Handler, method func(int) string, idemKey func(int) []string) {
		r := middlewaretest.WithKey(httptest.NewRequest("POST", "/v1/monitors", nil), k)
		br := bytes.NewReader(body)
		rc := io.NopCloser(br)
		w := &nopWriter{h: make(http.Header)}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			clear(w.h)
			br.Reset(body)
			r.Body, r.ContentLength = rc, int64(len(body))
			r.Method = method(i)
			if v := idemKey(i); v != nil {
				r.Header["Idempotency-Key"] = v
			} else {
				delete(r.Header, "Idempotency-Key")
			}
			h.ServeHTTP(w, r)
		}
	}
	post := func(int) string { return "POST" }
	none := func(int) []string { return nil }
	one := []string{"8e03978e-40d5-43e8-bc93-6894a57f9324"}
	same := func(int) []string { return one }
	b.Run("bare", func(b *testing.B) { run(b, handler, post, none) })
	b.Run("pass-through-no-header", func(b *testing.B) { run(b, newPart(), post, none) })
	b.Run("pass-through-read", func(b *testing.B) { run(b, newPart(), func(int) string { return "GET" }, same) })
	newKeys := func(n int) func(int) []string {
		keys := make([][]string, n)
		for i := range keys {
			keys[i] = []string{"8e03978e-40d5-43e8-" + strconv.Itoa(i)}
		}
		return func(i int) []string { return keys[i%len(keys)] }
	}
	b.Run("first", func(b *testing.B) { run(b, newPart(), post, newKeys(1<<20)) })
	// The small store forgets its keys at once: a few thousand will do,
	// and fewer live keys are less GC work for the benchmark itself.
	b.Run("first-small-store", func(b *testing.B) { run(b, newSmallPart(), post, newKeys(1<<12)) })
	b.Run("replay", func(b *testing.B) { run(b, newPart(), post, same) })
}
