package apikeytest

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// Config configures an Env. The zero value is ready to use: deterministic
// keys from seed 0, a Clock at 2030-01-01T00:00:00Z, a new in-memory store and
// a Manager with apikey's defaults.
type Config struct {
	// Seed seeds the ChaCha8 generator the keys are drawn from. Every seed,
	// 0 included, is deterministic: the same seed and the same sequence of
	// Mint calls give the same keys on every run.
	Seed uint64

	// Start is the initial time of the Env's Clock. Zero means
	// 2030-01-01T00:00:00Z.
	Start time.Time

	// Store holds the key records. Nil means a new apikey.MemoryStore.
	Store apikey.ManagedStore

	// Manager configures the Env's Manager: Format, Hasher, cache TTLs and
	// so on. Its Rand, if nil, becomes the generator seeded with Seed
	// (set it to crypto/rand.Reader for keys that differ on every run), and
	// its Verifier.Now, if nil, becomes the Env's Clock.Now.
	Manager apikey.ManagerConfig
}

// Env is a key store and a Manager ready for a test. Create one with New
// (or NewEnv outside a test). Its fields may be used directly; its methods
// are shortcuts that fail the test instead of returning errors. An Env is
// safe for concurrent use.
type Env struct {
	// Clock is the fake clock that key expiry obeys (unless
	// Config.Manager.Verifier.Now named another clock).
	Clock *Clock

	// Store holds the key records: Config.Store, or an
	// *apikey.MemoryStore. Changes made to it directly are seen by the
	// Manager's Verifier only after its cache expires, or after
	// Manager.Verifier().Invalidate.
	Store apikey.ManagedStore

	// Manager creates and verifies keys in Store. It implements
	// middleware.KeyVerifier, so it can be an Authenticator's Verifier.
	Manager *apikey.Manager

	tb  testing.TB       // nil for an Env from NewEnv
	now func() time.Time // the Manager's clock
}

// New returns an Env for the test (or benchmark, or fuzz target) t, closed
// by t.Cleanup. It stops the test with t.Fatal if cfg is invalid. The Env's
// methods report failures to t as well.
func New(t testing.TB, cfg Config) *Env {
	t.Helper()
	e, err := NewEnv(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.tb = t
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("apikeytest: closing the Env: %v", err)
		}
	})
	return e
}

// NewEnv returns an Env that belongs to no test: for TestMain, examples and
// other code without a testing.TB. The caller must Close it. Its methods
// panic where those of an Env from New would fail the test.
func NewEnv(cfg Config) (*Env, error) {
	e := &Env{Clock: NewClock(cfg.Start), Store: cfg.Store}
	if e.Store == nil {
		e.Store = new(apikey.MemoryStore)
	}
	mc := cfg.Manager
	if mc.Rand == nil {
		mc.Rand = NewRand(cfg.Seed)
	}
	if mc.Verifier.Now == nil {
		mc.Verifier.Now = e.Clock.Now
	}
	e.now = mc.Verifier.Now
	m, err := apikey.NewManager(e.Store, mc)
	if err != nil {
		return nil, fmt.Errorf("apikeytest: %w", err)
	}
	e.Manager = m
	return e, nil
}

// NewRand returns a deterministic source of key randomness seeded with seed,
// safe for concurrent use, for apikey.ManagerConfig.Rand or
// apikey.Format.Generate. Never use it outside tests: anyone who knows the
// seed can compute the keys.
func NewRand(seed uint64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return &lockedReader{r: rand.NewChaCha8(s)}
}

// lockedReader makes a ChaCha8 safe for concurrent use.
type lockedReader struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// Close closes the Manager, which writes pending last-use times to the
// Store. An Env from New is closed by its test's Cleanup; calling Close as
// well is harmless.
func (e *Env) Close() error { return e.Manager.Close() }

// Mint creates a key as Manager.Create does, with two defaults for a zero
// field: Type SecretKey and Environment Live. Every other field means what
// it means to Manager.Create; in particular the zero Permission is
// ReadOnly, and ExpiresAt must be after the Clock's current time (mint the
// key, then Expire it, for a key that is already expired).
//
// Mint returns the plaintext Token, to send in requests, and the stored
// record. It fails the test if the key cannot be created.
func (e *Env) Mint(p apikey.CreateParams) (apikey.Token, *apikey.Key) {
	if e.tb != nil {
		e.tb.Helper()
	}
	if p.Type == 0 {
		p.Type = apikey.SecretKey
	}
	if p.Environment == 0 {
		p.Environment = apikey.Live
	}
	tok, k, err := e.Manager.Create(context.Background(), p)
	if err != nil {
		e.fatalf("apikeytest: Mint: %v", err)
		return apikey.Token{}, nil
	}
	return tok, k
}

// MintSecret mints a live secret key with read-write permission and the
// given scopes: a key that passes every check except RequireScopes for
// scopes it lacks.
func (e *Env) MintSecret(scopes ...string) (apikey.Token, *apikey.Key) {
	if e.tb != nil {
		e.tb.Helper()
	}
	return e.Mint(apikey.CreateParams{Type: apikey.SecretKey, Permission: apikey.ReadWrite, Scopes: slices.Clone(scopes)})
}

// MintReadOnly mints a live secret key with read-only permission and the
// given scopes: it may use read methods, and gets 403
// insufficient_permissions on writes.
func (e *Env) MintReadOnly(scopes ...string) (apikey.Token, *apikey.Key) {
	if e.tb != nil {
		e.tb.Helper()
	}
	return e.Mint(apikey.CreateParams{Type: apikey.SecretKey, Permission: apikey.ReadOnly, Scopes: slices.Clone(scopes)})
}

// MintPublishable mints a live publishable key with the given scopes.
// Publishable keys are always read-only, and get 403 secret_key_required
// on routes that take secret keys only.
func (e *Env) MintPublishable(scopes ...string) (apikey.Token, *apikey.Key) {
	if e.tb != nil {
		e.tb.Helper()
	}
	return e.Mint(apikey.CreateParams{Type: apikey.PublishableKey, Scopes: slices.Clone(scopes)})
}

// Revoke revokes the key with the given id through the Manager, so that
// from now on it answers apikey.ErrRevoked (401 revoked_api_key), and
// returns its updated record. It fails the test if there is no such key.
func (e *Env) Revoke(id string) *apikey.Key {
	if e.tb != nil {
		e.tb.Helper()
	}
	k, err := e.Manager.Revoke(context.Background(), id)
	if err != nil {
		e.fatalf("apikeytest: Revoke: %v", err)
	}
	return k
}

// Disable disables the key with the given id through the Manager, so that
// it answers apikey.ErrDisabled (401 disabled_api_key) until
// Manager.Enable, and returns its updated record. It fails the test if there
// is no such key or it is revoked.
func (e *Env) Disable(id string) *apikey.Key {
	if e.tb != nil {
		e.tb.Helper()
	}
	k, err := e.Manager.Disable(context.Background(), id)
	if err != nil {
		e.fatalf("apikeytest: Disable: %v", err)
	}
	return k
}

// Expire makes the key with the given id expire now, by the Manager's
// clock (an earlier expiry is kept), so that it answers apikey.ErrExpired (401 expired_api_key), and
// returns its updated record. It writes the Store directly and invalidates
// the Verifier's cache entry for the key. (To watch a key expire, mint it
// with an ExpiresAt and Advance the Clock past it.) It fails the test if
// there is no such key.
func (e *Env) Expire(id string) *apikey.Key {
	if e.tb != nil {
		e.tb.Helper()
	}
	ctx := context.Background()
	k, err := e.Store.LookupKey(ctx, id)
	if err != nil {
		e.fatalf("apikeytest: Expire: %v", err)
		return nil
	}
	if now := e.now().Round(0); k.ExpiresAt.IsZero() || k.ExpiresAt.After(now) {
		k.ExpiresAt = now
	}
	if err := e.Store.UpdateKey(ctx, k); err != nil {
		e.fatalf("apikeytest: Expire: %v", err)
		return nil
	}
	e.Manager.Verifier().Invalidate(id)
	return k
}

// fatalf stops the test, or panics for an Env from NewEnv.
func (e *Env) fatalf(format string, args ...any) {
	if e.tb == nil {
		panic(fmt.Sprintf(format, args...))
	}
	e.tb.Helper()
	e.tb.Fatalf(format, args...)
}
