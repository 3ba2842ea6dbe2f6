package leakreport

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/gatekey/gatekey/apikey"
)

// BenchmarkGitHub is the cost of a report: its signature (ECDSA P-256
// verification dominates), its JSON, and the Manager's check of each
// token. The genuine key was revoked by the first report, so every
// iteration does the same work.
func BenchmarkGitHub(b *testing.B) {
	m, err := apikey.NewManager(new(apikey.MemoryStore), apikey.ManagerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	tok, _, _ := m.Create(context.Background(), apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live})
	other, _ := apikey.Format{}.Generate(nil, apikey.SecretKey, apikey.Live)
	s := newSigner(b, "k")
	h := (&GitHub{Revoker: m, PublicKeys: []PublicKey{s.public()}, Logger: slog.New(slog.DiscardHandler)}).Handler()
	for _, n := range []int{1, 10} {
		var tokens []string
		for i := range n {
			if i == 0 {
				tokens = append(tokens, tok.Reveal())
			} else {
				tokens = append(tokens, other.Reveal())
			}
		}
		body := report(b, tokens...)
		sig := s.sign(b, body)
		b.Run(map[int]string{1: "1-finding", 10: "10-findings"}[n], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
				r.Header.Set(headerKeyID, s.id)
				r.Header.Set(headerSignature, sig)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
