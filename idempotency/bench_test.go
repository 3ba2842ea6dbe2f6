package idempotency_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/idempotency"
)

// BenchmarkMemoryStore measures the store's two paths: a first request
// (Begin that claims, then Finish) and a replay (Begin that finds the
// answer).
func BenchmarkMemoryStore(b *testing.B) {
	a := &idempotency.Answer{Status: 201, Header: http.Header{"Content-Type": {"application/json"}}, Body: make([]byte, 1<<10)}
	b.Run("first", func(b *testing.B) {
		s := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
		keys := make([]string, 1<<16)
		for i := range keys {
			keys[i] = "key-" + strconv.Itoa(i)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			k := keys[i&(len(keys)-1)]
			tok := uint64(i)
			if _, ok, _ := s.Begin(ctx, "acct_1", k, fp(k), tok, time.Minute); ok {
				s.Finish(ctx, "acct_1", k, tok, a, time.Hour)
			}
			if i&(len(keys)-1) == len(keys)-1 {
				b.StopTimer()
				s = idempotency.NewMemoryStore(idempotency.MemoryConfig{})
				b.StartTimer()
			}
		}
	})
	b.Run("replay", func(b *testing.B) {
		s := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
		s.Begin(ctx, "acct_1", "key", fp("key"), 1, time.Minute)
		s.Finish(ctx, "acct_1", "key", 1, a, time.Hour)
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, _ := s.Begin(ctx, "acct_1", "key", fp("key"), 2, time.Minute); ok {
				b.Fatal("claimed an answered key")
			}
		}
	})
}

// BenchmarkReadRequest measures the fingerprint of a 1 KiB body.
func BenchmarkReadRequest(b *testing.B) {
	body := strings.Repeat("a", 1<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r, _ := http.NewRequest("POST", "http://x/v1/monitors", strings.NewReader(body))
		if _, err := idempotency.ReadRequest(r, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseKey(b *testing.B) {
	b.ReportAllocs()
	for _, v := range []string{"8e03978e-40d5-43e8-bc93-6894a57f9324", `"8e03978e-40d5-43e8-bc93-6894a57f9324"`} {
		b.Run(strconv.Itoa(len(v)), func(b *testing.B) {
			for b.Loop() {
				idempotency.ParseKey(v)
			}
		})
	}
}
