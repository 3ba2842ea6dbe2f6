package apikey

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

func benchKey(b *testing.B, h Hasher) (*MemoryStore, Token) {
	tok, _ := Format{}.Generate(seeded(1), SecretKey, Live)
	hash, err := h.Hash(tok.Reveal())
	if err != nil {
		b.Fatal(err)
	}
	store := new(MemoryStore)
	if err := store.CreateKey(context.Background(), &Key{ID: tok.ID(), Type: SecretKey, Environment: Live, Hash: hash}); err != nil {
		b.Fatal(err)
	}
	return store, tok
}

func benchVerifier(b *testing.B, s Store, cfg VerifierConfig) *Verifier {
	v, err := NewVerifier(s, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { v.Close() })
	return v
}

var sinkDigest [32]byte

// BenchmarkBaseline is the reference for the hot-path target: one SHA-256 of
// the key plus one map look-up.
func BenchmarkBaseline(b *testing.B) {
	tok, _ := Format{}.Generate(seeded(1), SecretKey, Live)
	s := tok.Reveal()
	m := map[string]*Key{tok.ID(): {}}
	b.Run("sha256+map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkDigest = sumKey(s)
			if m[s[8:8+IDLen]] == nil {
				b.Fatal("missing")
			}
		}
	})
	b.Run("sha256.Sum256", func(b *testing.B) {
		b.ReportAllocs()
		var buf [maxKeyLen]byte
		for b.Loop() {
			n := copy(buf[:], s)
			sinkDigest = sha256.Sum256(buf[:n])
		}
	})
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (Format{}).Generate(nil, SecretKey, Live); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	tok, _ := Format{}.Generate(seeded(1), SecretKey, Live)
	s := tok.Reveal()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	run := func(name string, v *Verifier, key string, wantErr bool) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, key); (err != nil) != wantErr {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(ctx, key); (err != nil) != wantErr {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	store, tok := benchKey(b, SHA256{})
	run("hit-sha256", benchVerifier(b, store, VerifierConfig{}), tok.Reveal(), false)
	run("hit-sha256-wrong-secret", benchVerifier(b, store, VerifierConfig{}), wrongSecret(tok, 0), true)
	run("miss-sha256", benchVerifier(b, store, VerifierConfig{CacheTTL: -1}), tok.Reveal(), false)
	unknown, _ := Format{}.Generate(seeded(2), SecretKey, Live)
	run("unknown-negative-cache", benchVerifier(b, store, VerifierConfig{}), unknown.Reveal(), true)
	run("malformed", benchVerifier(b, store, VerifierConfig{}), tok.Reveal()[:40]+"!"+tok.Reveal()[41:], true)

	argon := Argon2id{} // production defaults
	astore, atok := benchKey(b, argon)
	run("hit-argon2id", benchVerifier(b, astore, VerifierConfig{Hashers: []Hasher{argon}}), atok.Reveal(), false)
	run("miss-argon2id", benchVerifier(b, astore, VerifierConfig{Hashers: []Hasher{argon}, CacheTTL: -1}), atok.Reveal(), false)
}

// BenchmarkInvalidate measures what a change feed costs a replica: one
// Invalidate ("invalidate"; its inverse is the invalidations a second one
// replica can take), and a cache hit on a hot key while another goroutine
// invalidates other ids 10,000 times a second ("hit-while-invalidating",
// to compare with BenchmarkVerify/hit-sha256).
func BenchmarkInvalidate(b *testing.B) {
	ctx := context.Background()
	store, tok := benchKey(b, SHA256{})
	v := benchVerifier(b, store, VerifierConfig{})
	if _, err := v.Verify(ctx, tok.Reveal()); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("%012d", i)
	}
	b.Run("invalidate", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			v.Invalidate(ids[i%len(ids)])
		}
	})
	b.Run("hit-while-invalidating", func(b *testing.B) {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			tick := time.NewTicker(100 * time.Microsecond) // 10,000 a second
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
					v.Invalidate(ids[i%len(ids)])
				}
			}
		}()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, tok.Reveal()); err != nil {
				b.Fatal(err)
			}
		}
		close(stop)
		<-done
	})
}
