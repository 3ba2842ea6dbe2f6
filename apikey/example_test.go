package apikey_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// deterministic returns a fixed random source so that the examples' output
// is stable. Real code leaves Rand nil (crypto/rand).
func deterministic() *rand.ChaCha8 { return rand.NewChaCha8([32]byte{'g', 'k'}) }

// exampleNow is a fixed clock for the examples.
func exampleNow() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }

func ExampleFormat_Generate() {
	f := apikey.Format{Service: "acme"}
	tok, err := f.Generate(deterministic(), apikey.SecretKey, apikey.Test)
	if err != nil {
		log.Fatal(err)
	}
	// Printing a Token shows its redacted form; Reveal gives the key.
	fmt.Println(tok)
	fmt.Println(len(tok.Reveal()), tok.Service(), tok.Type(), tok.Environment(), tok.ID())

	parsed, err := f.Parse(tok.Reveal())
	fmt.Println(parsed.Equal(tok), err)

	_, err = f.Parse("acme_sk_test_nope")
	fmt.Println(err, errors.Is(err, apikey.ErrInvalidKey))
	// Output:
	// acme_sk_test_b3YsmsAKtEDi…
	// 63 acme secret test b3YsmsAKtEDi
	// true <nil>
	// apikey: malformed key: wrong length true
}

// Creating a key stores only its hash and returns the plaintext once.
func ExampleManager_Create() {
	ctx := context.Background()
	store := new(apikey.MemoryStore)
	m, err := apikey.NewManager(store, apikey.ManagerConfig{
		Rand:     deterministic(),
		Verifier: apikey.VerifierConfig{Now: exampleNow},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	tok, rec, err := m.Create(ctx, apikey.CreateParams{
		Name:        "billing service",
		Type:        apikey.SecretKey,
		Environment: apikey.Live,
		Permission:  apikey.ReadWrite,
		Owner:       "acct_42",
	})
	if err != nil {
		log.Fatal(err)
	}
	// Show tok.Reveal() to the key's owner, once. Everything else sees:
	fmt.Println("key:", tok)
	fmt.Println("record:", rec.ID, rec.Name, rec.Type, rec.Permission, rec.CreatedAt.Format(time.RFC3339))
	fmt.Println("stored hash algorithm:", apikey.HashAlgorithm(rec.Hash))
	// Output:
	// key: sk_live_b3YsmsAKtEDi…
	// record: b3YsmsAKtEDi billing service secret read_write 2030-01-02T03:04:05Z
	// stored hash algorithm: sha256
}

// A service verifies presented keys with a Verifier over its store.
func ExampleVerifier_Verify() {
	ctx := context.Background()
	store := new(apikey.MemoryStore)
	m, _ := apikey.NewManager(store, apikey.ManagerConfig{Rand: deterministic()})
	defer m.Close()
	tok, _, _ := m.Create(ctx, apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live, Owner: "acct_42"})

	v, err := apikey.NewVerifier(store, apikey.VerifierConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	key, err := v.Verify(ctx, tok.Reveal())
	fmt.Println(key.Owner, err)

	for _, presented := range []string{"sk_live_garbage", "hunter2"} {
		_, err = v.Verify(ctx, presented)
		fmt.Println(errors.Is(err, apikey.ErrInvalidKey), err)
	}

	m.Revoke(ctx, tok.ID())
	v.Invalidate(tok.ID()) // m's own Verifier needs no such call
	_, err = v.Verify(ctx, tok.Reveal())
	fmt.Println(err)
	// Output:
	// acct_42 <nil>
	// true apikey: malformed key: wrong length
	// true apikey: malformed key: wrong length
	// apikey: key revoked
}

// Rolling replaces a key; the old one keeps working for a grace period.
func ExampleManager_Roll() {
	ctx := context.Background()
	now := exampleNow()
	m, _ := apikey.NewManager(new(apikey.MemoryStore), apikey.ManagerConfig{
		Rand:     deterministic(),
		Verifier: apikey.VerifierConfig{Now: func() time.Time { return now }},
	})
	defer m.Close()
	old, _, _ := m.Create(ctx, apikey.CreateParams{Name: "ci", Type: apikey.SecretKey, Environment: apikey.Test})

	tok, rec, err := m.Roll(ctx, old.ID(), apikey.RollParams{Grace: 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("new:", tok, rec.Name)

	_, err = m.Verify(ctx, old.Reveal())
	fmt.Println("old key during grace:", err)
	now = now.Add(24 * time.Hour)
	_, err = m.Verify(ctx, old.Reveal())
	fmt.Println("old key after grace:", err)
	_, err = m.Verify(ctx, tok.Reveal())
	fmt.Println("new key:", err)
	// Output:
	// new: sk_test_qQaLpZSXH3bC… ci
	// old key during grace: <nil>
	// old key after grace: apikey: key expired
	// new key: <nil>
}

// With a pepper, a leaked table of hashes cannot be checked offline.
// Rotation: make the new pepper current and keep the old one as previous.
func ExampleNewHMAC() {
	ctx := context.Background()
	// Load peppers from a secret manager; never hard-code them.
	oldPepper := apikey.Pepper{ID: "2029", Secret: bytes.Repeat([]byte{1}, 32)}
	newPepper := apikey.Pepper{ID: "2030", Secret: bytes.Repeat([]byte{2}, 32)}

	store := new(apikey.MemoryStore)
	h1, _ := apikey.NewHMAC(oldPepper)
	m1, _ := apikey.NewManager(store, apikey.ManagerConfig{Hasher: h1, Rand: deterministic()})
	oldKey, _, _ := m1.Create(ctx, apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live})
	m1.Close()

	h2, err := apikey.NewHMAC(newPepper, oldPepper)
	if err != nil {
		log.Fatal(err)
	}
	m2, _ := apikey.NewManager(store, apikey.ManagerConfig{Hasher: h2, Rand: rand.NewChaCha8([32]byte{2})})
	defer m2.Close()
	newKey, rec, _ := m2.Create(ctx, apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live})

	oldRec, _ := m2.Get(ctx, oldKey.ID())
	fmt.Println("old key needs rehash:", h2.NeedsRehash(oldRec.Hash))
	fmt.Println("new key needs rehash:", h2.NeedsRehash(rec.Hash))
	for _, tok := range []apikey.Token{oldKey, newKey} {
		_, err := m2.Verify(ctx, tok.Reveal())
		fmt.Println(tok, err)
	}
	_, err = apikey.NewHMAC(apikey.Pepper{ID: "short", Secret: []byte("too short")})
	fmt.Println(err)
	// Output:
	// old key needs rehash: true
	// new key needs rehash: false
	// sk_live_b3YsmsAKtEDi… <nil>
	// sk_live_KK6jvDrq1Bbf… <nil>
	// apikey: pepper "short" is 9 bytes; need at least 32
}

func ExampleRedact() {
	tok, _ := apikey.Format{}.Generate(deterministic(), apikey.SecretKey, apikey.Live)
	fmt.Println(apikey.Redact(tok.Reveal()))
	fmt.Println(apikey.Redact("sk_live_" + "not-a-real-key"))
	// Output:
	// sk_live_b3YsmsAKtEDi…
	// [redacted]
}
