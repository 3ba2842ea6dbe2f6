package apikeytest_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/apikeytest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ignoreGenerated ignores the fields of a record that depend on the random
// key: its id and hash.
var ignoreGenerated = cmpopts.IgnoreFields(apikey.Key{}, "ID", "Hash")

func TestMint(t *testing.T) {
	expiry := start.Add(time.Hour)
	for _, tc := range []struct {
		name string
		mint func(e *apikeytest.Env) (apikey.Token, *apikey.Key)
		want apikey.Key
	}{
		{
			name: "zero params",
			mint: func(e *apikeytest.Env) (apikey.Token, *apikey.Key) { return e.Mint(apikey.CreateParams{}) },
			want: apikey.Key{Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadOnly, CreatedAt: start},
		},
		{
			name: "every field",
			mint: func(e *apikeytest.Env) (apikey.Token, *apikey.Key) {
				return e.Mint(apikey.CreateParams{
					Name: "ci", Type: apikey.SecretKey, Environment: apikey.Test, Permission: apikey.ReadWrite,
					Scopes: []string{"a", "b"}, Owner: "acct_1", Tier: "gold", ExpiresAt: expiry,
					Metadata: map[string]string{"team": "qa"}, Disabled: true,
				})
			},
			want: apikey.Key{
				Name: "ci", Type: apikey.SecretKey, Environment: apikey.Test, Permission: apikey.ReadWrite,
				Scopes: []string{"a", "b"}, Owner: "acct_1", Tier: "gold", CreatedAt: start, ExpiresAt: expiry,
				Metadata: map[string]string{"team": "qa"}, Disabled: true,
			},
		},
		{
			name: "publishable via Mint is read-only",
			mint: func(e *apikeytest.Env) (apikey.Token, *apikey.Key) {
				return e.Mint(apikey.CreateParams{Type: apikey.PublishableKey, Permission: apikey.ReadWrite})
			},
			want: apikey.Key{Type: apikey.PublishableKey, Environment: apikey.Live, Permission: apikey.ReadOnly, CreatedAt: start},
		},
		{
			name: "MintSecret",
			mint: func(e *apikeytest.Env) (apikey.Token, *apikey.Key) { return e.MintSecret("monitors:write") },
			want: apikey.Key{Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite,
				Scopes: []string{"monitors:write"}, CreatedAt: start},
		},
		{
			name: "MintReadOnly",
			mint: func(e *apikeytest.Env) (apikey.Token, *apikey.Key) { return e.MintReadOnly() },
			want: apikey.Key{Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadOnly, CreatedAt: start},
		},
		{
			name: "MintPublishable",
			mint: func(e *apikeytest.Env) (apikey.Token, *apikey.Key) { return e.MintPublishable("monitors:read") },
			want: apikey.Key{Type: apikey.PublishableKey, Environment: apikey.Live, Permission: apikey.ReadOnly,
				Scopes: []string{"monitors:read"}, CreatedAt: start},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := apikeytest.New(t, apikeytest.Config{})
			tok, rec := tc.mint(env)
			if diff := cmp.Diff(&tc.want, rec, ignoreGenerated); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
			if tok.ID() != rec.ID || tok.Type() != rec.Type || tok.Environment() != rec.Environment {
				t.Errorf("token %v does not match record %s %v %v", tok, rec.ID, rec.Type, rec.Environment)
			}
			stored, err := env.Store.LookupKey(t.Context(), rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rec, stored); diff != "" {
				t.Errorf("stored record differs from the returned one (-returned +stored):\n%s", diff)
			}
			if rec.Disabled {
				return
			}
			got, err := env.Manager.Verify(t.Context(), tok.Reveal())
			if err != nil {
				t.Fatalf("Verify(%v): %v", tok, err)
			}
			if diff := cmp.Diff(rec, got); diff != "" {
				t.Errorf("verified record differs from the minted one (-minted +verified):\n%s", diff)
			}
		})
	}
}

// The state helpers and the clock make keys answer what the verifier and
// so the middleware map to 401 revoked, disabled and expired.
func TestKeyStates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		params  apikey.CreateParams
		change  func(e *apikeytest.Env, id string) *apikey.Key
		wantErr error
		check   func(t *testing.T, e *apikeytest.Env, k *apikey.Key)
	}{
		{
			name:    "Revoke",
			change:  func(e *apikeytest.Env, id string) *apikey.Key { return e.Revoke(id) },
			wantErr: apikey.ErrRevoked,
			check: func(t *testing.T, e *apikeytest.Env, k *apikey.Key) {
				if !k.RevokedAt.Equal(e.Clock.Now()) {
					t.Errorf("RevokedAt = %v, want %v", k.RevokedAt, e.Clock.Now())
				}
			},
		},
		{
			name:    "Disable",
			change:  func(e *apikeytest.Env, id string) *apikey.Key { return e.Disable(id) },
			wantErr: apikey.ErrDisabled,
			check: func(t *testing.T, _ *apikeytest.Env, k *apikey.Key) {
				if !k.Disabled {
					t.Error("Disabled = false, want true")
				}
			},
		},
		{
			name: "Expire",
			change: func(e *apikeytest.Env, id string) *apikey.Key {
				e.Clock.Advance(time.Minute)
				return e.Expire(id)
			},
			wantErr: apikey.ErrExpired,
			check: func(t *testing.T, e *apikeytest.Env, k *apikey.Key) {
				if want := start.Add(time.Minute); !k.ExpiresAt.Equal(want) {
					t.Errorf("ExpiresAt = %v, want %v", k.ExpiresAt, want)
				}
			},
		},
		{
			name:   "Expire keeps an earlier expiry",
			params: apikey.CreateParams{ExpiresAt: start.Add(time.Hour)},
			change: func(e *apikeytest.Env, id string) *apikey.Key {
				e.Clock.Advance(2 * time.Hour)
				return e.Expire(id)
			},
			wantErr: apikey.ErrExpired,
			check: func(t *testing.T, e *apikeytest.Env, k *apikey.Key) {
				if want := start.Add(time.Hour); !k.ExpiresAt.Equal(want) {
					t.Errorf("ExpiresAt = %v, want %v", k.ExpiresAt, want)
				}
			},
		},
		{
			name:   "clock reaches ExpiresAt",
			params: apikey.CreateParams{ExpiresAt: start.Add(time.Hour)},
			change: func(e *apikeytest.Env, id string) *apikey.Key {
				e.Clock.Advance(time.Hour)
				return nil
			},
			wantErr: apikey.ErrExpired,
		},
		{
			name:   "clock short of ExpiresAt",
			params: apikey.CreateParams{ExpiresAt: start.Add(time.Hour)},
			change: func(e *apikeytest.Env, id string) *apikey.Key {
				e.Clock.Advance(time.Hour - time.Nanosecond)
				return nil
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := apikeytest.New(t, apikeytest.Config{})
			tok, rec := env.Mint(tc.params)
			// Verify first, so that the record is cached: the helpers must
			// take effect anyway.
			if _, err := env.Manager.Verify(t.Context(), tok.Reveal()); err != nil {
				t.Fatalf("Verify(%v) before the change: %v", tok, err)
			}
			k := tc.change(env, rec.ID)
			if _, err := env.Manager.Verify(t.Context(), tok.Reveal()); !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("Verify(%v) after the change: %v, want %v", tok, err, tc.wantErr)
			}
			if tc.check == nil {
				return
			}
			tc.check(t, env, k)
			stored, err := env.Store.LookupKey(t.Context(), rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(k, stored); diff != "" {
				t.Errorf("stored record differs from the returned one (-returned +stored):\n%s", diff)
			}
		})
	}
}

// mintAll mints one key of each kind and returns the tokens and records.
func mintAll(t *testing.T, cfg apikeytest.Config) ([]apikey.Token, []*apikey.Key) {
	env := apikeytest.New(t, cfg)
	var toks []apikey.Token
	var recs []*apikey.Key
	for _, mint := range []func(...string) (apikey.Token, *apikey.Key){env.MintSecret, env.MintReadOnly, env.MintPublishable} {
		tok, rec := mint()
		toks = append(toks, tok)
		recs = append(recs, rec)
	}
	return toks, recs
}

// same reports whether two token lists hold the same keys, without ever
// printing one.
func same(a, b []apikey.Token) bool {
	for i := range a {
		if a[i].Reveal() != b[i].Reveal() {
			return false
		}
	}
	return len(a) == len(b)
}

func TestDeterministic(t *testing.T) {
	toks, recs := mintAll(t, apikeytest.Config{Seed: 7})
	for _, tc := range []struct {
		name     string
		cfg      apikeytest.Config
		wantSame bool
	}{
		{"same seed", apikeytest.Config{Seed: 7}, true},
		{"other seed", apikeytest.Config{Seed: 8}, false},
		{"seed 0", apikeytest.Config{}, false},
		{"crypto/rand", apikeytest.Config{Seed: 7, Manager: apikey.ManagerConfig{Rand: rand.Reader}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			toks2, recs2 := mintAll(t, tc.cfg)
			if got := same(toks, toks2); got != tc.wantSame {
				t.Errorf("same keys = %v, want %v (first keys %v and %v)", got, tc.wantSame, toks[0], toks2[0])
			}
			if !tc.wantSame {
				return
			}
			// Records are identical too, hashes and times included.
			if diff := cmp.Diff(recs, recs2); diff != "" {
				t.Errorf("records differ (-first +second):\n%s", diff)
			}
		})
	}
}

// NewRand is the generator Env uses: a Manager built on it by hand makes
// the same keys as an Env with the same seed.
func TestNewRand(t *testing.T) {
	toks, _ := mintAll(t, apikeytest.Config{Seed: 3})
	m, err := apikey.NewManager(new(apikey.MemoryStore), apikey.ManagerConfig{Rand: apikeytest.NewRand(3)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	tok, _, err := m.Create(t.Context(), apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Reveal() != toks[0].Reveal() {
		t.Errorf("NewRand(3) made %v, Env with Seed 3 made %v", tok, toks[0])
	}
}

func TestConfig(t *testing.T) {
	at := time.Date(2040, 6, 7, 8, 9, 10, 0, time.UTC)
	other := apikeytest.NewClock(at.Add(24 * time.Hour))
	store := new(apikey.MemoryStore)
	for _, tc := range []struct {
		name  string
		cfg   apikeytest.Config
		check func(t *testing.T, e *apikeytest.Env, tok apikey.Token, rec *apikey.Key)
	}{
		{"Start", apikeytest.Config{Start: at}, func(t *testing.T, e *apikeytest.Env, _ apikey.Token, rec *apikey.Key) {
			if !e.Clock.Now().Equal(at) || !rec.CreatedAt.Equal(at) {
				t.Errorf("clock %v, CreatedAt %v, want both %v", e.Clock.Now(), rec.CreatedAt, at)
			}
		}},
		{"Store", apikeytest.Config{Store: store}, func(t *testing.T, e *apikeytest.Env, _ apikey.Token, rec *apikey.Key) {
			if e.Store != apikey.ManagedStore(store) {
				t.Error("Env.Store is not Config.Store")
			}
			if _, err := store.LookupKey(t.Context(), rec.ID); err != nil {
				t.Errorf("key not in Config.Store: %v", err)
			}
		}},
		{"Format", apikeytest.Config{Manager: apikey.ManagerConfig{Verifier: apikey.VerifierConfig{Format: apikey.Format{Service: "acme"}}}},
			func(t *testing.T, e *apikeytest.Env, tok apikey.Token, _ *apikey.Key) {
				if tok.Service() != "acme" {
					t.Errorf("token %v, want service acme", tok)
				}
				if _, err := e.Manager.Verify(t.Context(), tok.Reveal()); err != nil {
					t.Errorf("Verify(%v): %v", tok, err)
				}
			}},
		{"Verifier.Now", apikeytest.Config{Manager: apikey.ManagerConfig{Verifier: apikey.VerifierConfig{Now: other.Now}}},
			func(t *testing.T, e *apikeytest.Env, _ apikey.Token, rec *apikey.Key) {
				if !rec.CreatedAt.Equal(other.Now()) {
					t.Errorf("CreatedAt %v, want the configured clock's %v", rec.CreatedAt, other.Now())
				}
				if k := e.Expire(rec.ID); !k.ExpiresAt.Equal(other.Now()) {
					t.Errorf("Expire set ExpiresAt %v, want the configured clock's %v", k.ExpiresAt, other.Now())
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := apikeytest.New(t, tc.cfg)
			tok, rec := env.MintSecret()
			tc.check(t, env, tok, rec)
		})
	}
}

// New closes the Env when the test ends, which writes last-use times.
func TestNewCleanup(t *testing.T) {
	store := new(apikey.MemoryStore)
	var id string
	t.Run("test", func(t *testing.T) {
		env := apikeytest.New(t, apikeytest.Config{Store: store})
		tok, rec := env.MintSecret()
		id = rec.ID
		env.Clock.Advance(time.Minute)
		if _, err := env.Manager.Verify(t.Context(), tok.Reveal()); err != nil {
			t.Fatal(err)
		}
	})
	k, err := store.LookupKey(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(time.Minute); !k.LastUsedAt.Equal(want) {
		t.Errorf("LastUsedAt = %v after the test, want %v (written by Close)", k.LastUsedAt, want)
	}
}

// fatalTB is a testing.TB whose Fatal and Fatalf record the message and
// end the goroutine, as the real ones do.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatal(args ...any) { f.msg = fmt.Sprint(args...); runtime.Goexit() }

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatal runs fn with a fatalTB on its own goroutine and returns the
// message it failed with, or "" if it did not fail.
func fatal(t *testing.T, fn func(tb testing.TB)) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.msg
}

func TestFailures(t *testing.T) {
	badFormat := apikeytest.Config{Manager: apikey.ManagerConfig{Verifier: apikey.VerifierConfig{Format: apikey.Format{Service: "Not A Tag"}}}}
	for _, tc := range []struct {
		name string
		fn   func(e *apikeytest.Env)
		want string
	}{
		{"Mint invalid type", func(e *apikeytest.Env) { e.Mint(apikey.CreateParams{Type: 9}) }, "apikeytest: Mint: apikey:"},
		{"Mint past expiry", func(e *apikeytest.Env) { e.Mint(apikey.CreateParams{ExpiresAt: start}) }, "apikeytest: Mint: apikey:"},
		{"MintSecret invalid scope", func(e *apikeytest.Env) { e.MintSecret("two words") }, "apikeytest: Mint: apikey:"},
		{"Revoke unknown", func(e *apikeytest.Env) { e.Revoke("000000000000") }, "apikeytest: Revoke:"},
		{"Disable unknown", func(e *apikeytest.Env) { e.Disable("000000000000") }, "apikeytest: Disable:"},
		{"Expire unknown", func(e *apikeytest.Env) { e.Expire("000000000000") }, "apikeytest: Expire:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fatal(t, func(tb testing.TB) { tc.fn(apikeytest.New(tb, apikeytest.Config{})) })
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("test failed with %q, want prefix %q", got, tc.want)
			}
			env, err := apikeytest.NewEnv(apikeytest.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer env.Close()
			defer func() {
				if msg, _ := recover().(string); !strings.HasPrefix(msg, tc.want) {
					t.Errorf("NewEnv's Env panicked with %q, want prefix %q", msg, tc.want)
				}
			}()
			tc.fn(env)
		})
	}
	t.Run("New invalid config", func(t *testing.T) {
		if got := fatal(t, func(tb testing.TB) { apikeytest.New(tb, badFormat) }); !strings.HasPrefix(got, "apikeytest: ") {
			t.Errorf("New failed with %q, want an apikeytest error", got)
		}
	})
	t.Run("NewEnv invalid config", func(t *testing.T) {
		if _, err := apikeytest.NewEnv(badFormat); err == nil || !strings.HasPrefix(err.Error(), "apikeytest: ") {
			t.Errorf("NewEnv returned %v, want an apikeytest error", err)
		}
	})
}

func TestConcurrent(t *testing.T) {
	env := apikeytest.New(t, apikeytest.Config{})
	const workers, each = 8, 20
	ids := make(chan string, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				tok, rec := env.MintSecret()
				env.Clock.Advance(time.Millisecond)
				if _, err := env.Manager.Verify(context.Background(), tok.Reveal()); err != nil {
					t.Errorf("Verify(%v): %v", tok, err)
				}
				ids <- rec.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("id %s minted twice", id)
		}
		seen[id] = true
	}
	if len(seen) != workers*each {
		t.Errorf("%d distinct keys, want %d", len(seen), workers*each)
	}
}
