package middleware_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/middleware/middlewaretest"
)

// BenchmarkIdempotency measures the Idempotency part alone, a key already
// in the context, the in-memory store, a handler that writes 1 KiB:
// "bare" is the handler without the part, "pass-through" a write without
// the header and a read with it, "first" a new key with a 1 KiB body
// (the body's SHA-256 included), "replay" a retry answered from the store.
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
	run := func(b *testing.B, h http.Handler, method, idemKey func(int) string) {
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
			if v := idemKey(i); v != "" {
				r.Header["Idempotency-Key"] = []string{v}
			} else {
				delete(r.Header, "Idempotency-Key")
			}
			h.ServeHTTP(w, r)
		}
	}
	post := func(int) string { return "POST" }
	none := func(int) string { return "" }
	b.Run("bare", func(b *testing.B) { run(b, handler, post, none) })
	b.Run("pass-through-no-header", func(b *testing.B) { run(b, newPart(), post, none) })
	b.Run("pass-through-read", func(b *testing.B) {
		run(b, newPart(), func(int) string { return "GET" }, func(int) string { return "k" })
	})
	keys := make([]string, 1<<20)
	for i := range keys {
		keys[i] = "8e03978e-40d5-43e8-" + strconv.Itoa(i)
	}
	b.Run("first", func(b *testing.B) {
		run(b, newPart(), post, func(i int) string { return keys[i%len(keys)] })
	})
	b.Run("replay", func(b *testing.B) {
		run(b, newPart(), post, func(int) string { return "8e03978e-40d5-43e8-bc93-6894a57f9324" })
	})
}
