package apikey

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestManagerCreate(t *testing.T) {
	mem := new(MemoryStore)
	m, clk := newTestManager(t, mem, ManagerConfig{})
	params := CreateParams{
		Name: "ci", Type: SecretKey, Environment: Test, Permission: ReadWrite,
		Scopes: []string{"deploy"}, Owner: "acct_1", Tier: "gold",
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/8")},
		ExpiresAt:       clk.Now().Add(time.Hour), Metadata: map[string]string{"team": "infra"},
	}
	tok, k, err := m.Create(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	want := &Key{
		ID: tok.ID(), Name: "ci", Type: SecretKey, Environment: Test, Permission: ReadWrite,
		Scopes: []string{"deploy"}, Owner: "acct_1", Tier: "gold",
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		CreatedAt:       clk.Now(), ExpiresAt: clk.Now().Add(time.Hour), Metadata: map[string]string{"team": "infra"},
	}
	if diff := cmp.Diff(want, k, prefixCmp, cmpopts.IgnoreFields(Key{}, "Hash")); diff != "" {
		t.Errorf("created record (-want +got):\n%s", diff)
	}
	if HashAlgorithm(k.Hash) != "sha256" || strings.Contains(k.Hash, tok.Reveal()[13:]) {
		t.Errorf("stored hash %q is not a sha256 hash of the key", k.Hash)
	}
	stored, _ := mem.LookupKey(t.Context(), tok.ID())
	if diff := cmp.Diff(k, stored, prefixCmp); diff != "" {
		t.Errorf("stored record differs from returned (-returned +stored):\n%s", diff)
	}
	if got, err := m.Verify(t.Context(), tok.Reveal()); err != nil || got.ID != tok.ID() {
		t.Errorf("Verify(new key %v) = %v, %v", tok, got, err)
	}
	pk, pkRec, err := m.Create(t.Context(), CreateParams{Type: PublishableKey, Environment: Live, Permission: ReadWrite})
	if err != nil {
		t.Fatal(err)
	}
	if pkRec.Permission != ReadOnly || pkRec.CanWrite() || !strings.HasPrefix(pk.String(), "pk_live_") {
		t.Errorf("publishable key %v created with %v", pk, pkRec.Permission)
	}
	if got, _ := m.Get(t.Context(), tok.ID()); got == nil || got.ID != tok.ID() {
		t.Errorf("Get = %v", got)
	}
	if _, err := m.Get(t.Context(), "nonexistent1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
	}
	list, err := m.List(t.Context(), ListFilter{Owner: "acct_1"})
	if err != nil || len(list) != 1 || list[0].ID != tok.ID() {
		t.Errorf("List(owner) = %v, %v", list, err)
	}
}

func TestManagerCreateValidation(t *testing.T) {
	m, clk := newTestManager(t, new(MemoryStore), ManagerConfig{})
	for _, tc := range []struct {
		name  string
		p     CreateParams
		param string
	}{
		{"no type", CreateParams{Environment: Live}, "type"},
		{"no environment", CreateParams{Type: SecretKey}, "environment"},
		{"bad permission", CreateParams{Type: SecretKey, Environment: Live, Permission: 7}, "permission"},
		{"past expiry", CreateParams{Type: SecretKey, Environment: Live, ExpiresAt: clk.Now()}, "expires_at"},
		{"empty scope", CreateParams{Type: SecretKey, Environment: Live, Scopes: []string{""}}, "scopes"},
		{"spaced scope", CreateParams{Type: SecretKey, Environment: Live, Scopes: []string{"a b"}}, "scopes"},
		{"invalid network", CreateParams{Type: SecretKey, Environment: Live, AllowedNetworks: []netip.Prefix{{}}}, "allowed_networks"},
		{"long name", CreateParams{Type: SecretKey, Environment: Live, Name: strings.Repeat("n", 201)}, "name"},
		{"name holding a key", CreateParams{Type: SecretKey, Environment: Live, Name: "ci sk_live_" + strings.Repeat("a1", 25)}, "name"},
		{"empty metadata", CreateParams{Type: SecretKey, Environment: Live, Metadata: map[string]string{"": "x"}}, "metadata"},
	} {
		_, _, err := m.Create(t.Context(), tc.p)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Param != tc.param || pe.Reason == "" || !strings.HasPrefix(err.Error(), "apikey: invalid "+tc.param+": ") {
			t.Errorf("Create(%s) = %v, want a *ParamError for %s", tc.name, err, tc.param)
		}
	}
	// The reason never repeats the value: a scope could be anything.
	_, _, err := m.Create(t.Context(), CreateParams{Type: SecretKey, Environment: Live, Scopes: []string{"sk_live_oops x"}})
	if err == nil || strings.Contains(err.Error(), "oops") {
		t.Errorf("scope error %q repeats the value", err)
	}
	if ks, _ := m.List(t.Context(), ListFilter{}); len(ks) != 0 {
		t.Errorf("rejected Create calls stored %d keys", len(ks))
	}
}

// conflictStore reports ErrConflict for the first n creates.
type conflictStore struct {
	ManagedStore
	mu sync.Mutex
	n  int
}

func (s *conflictStore) CreateKey(ctx context.Context, k *Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n > 0 {
		s.n--
		return ErrConflict
	}
	return s.ManagedStore.CreateKey(ctx, k)
}

func TestManagerCreateRetriesConflicts(t *testing.T) {
	m, _ := newTestManager(t, &conflictStore{ManagedStore: new(MemoryStore), n: createAttempts - 1}, ManagerConfig{})
	if _, _, err := m.Create(t.Context(), CreateParams{Type: SecretKey, Environment: Live}); err != nil {
		t.Errorf("Create after %d conflicts = %v", createAttempts-1, err)
	}
	m, _ = newTestManager(t, &conflictStore{ManagedStore: new(MemoryStore), n: createAttempts}, ManagerConfig{})
	if _, _, err := m.Create(t.Context(), CreateParams{Type: SecretKey, Environment: Live}); !errors.Is(err, ErrConflict) {
		t.Errorf("Create with only conflicts = %v, want ErrConflict", err)
	}
}

func TestManagerRevokeDisableEnable(t *testing.T) {
	m, clk := newTestManager(t, new(MemoryStore), ManagerConfig{})
	tok, _, _ := m.Create(t.Context(), CreateParams{Type: SecretKey, Environment: Live})
	id := tok.ID()
	verify := func() error { _, err := m.Verify(t.Context(), tok.Reveal()); return err }
	if err := verify(); err != nil { // fills the cache
		t.Fatal(err)
	}
	if _, err := m.Disable(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if err := verify(); err != ErrDisabled {
		t.Errorf("after Disable: %v, want ErrDisabled at once", err)
	}
	if _, err := m.Enable(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if err := verify(); err != nil {
		t.Errorf("after Enable: %v", err)
	}
	revokedAt := clk.Now()
	k, err := m.Revoke(t.Context(), id)
	if err != nil || !k.RevokedAt.Equal(revokedAt) {
		t.Fatalf("Revoke = %v, %v", k, err)
	}
	if err := verify(); err != ErrRevoked {
		t.Errorf("after Revoke: %v, want ErrRevoked at once", err)
	}
	clk.Advance(time.Hour)
	if k, err := m.Revoke(t.Context(), id); err != nil || !k.RevokedAt.Equal(revokedAt) {
		t.Errorf("second Revoke = %v, %v; want no change", k, err)
	}
	if _, err := m.Enable(t.Context(), id); !errors.Is(err, ErrRevoked) {
		t.Errorf("Enable of a revoked key = %v, want ErrRevoked", err)
	}
	if _, _, err := m.Roll(t.Context(), id, RollParams{Grace: 0}); !errors.Is(err, ErrRevoked) {
		t.Errorf("Roll of a revoked key = %v, want ErrRevoked", err)
	}
	if _, err := m.Revoke(t.Context(), "nonexistent1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revoke(unknown) = %v, want ErrNotFound", err)
	}
}

func TestManagerRoll(t *testing.T) {
	m, clk := newTestManager(t, new(MemoryStore), ManagerConfig{})
	old, oldRec, _ := m.Create(t.Context(), CreateParams{
		Name: "svc", Type: SecretKey, Environment: Live, Permission: ReadWrite, Scopes: []string{"a"},
		Owner: "o", Tier: "t", Metadata: map[string]string{"k": "v"},
	})
	m.Verify(t.Context(), old.Reveal())
	clk.Advance(time.Minute)
	tok, rec, err := m.Roll(t.Context(), old.ID(), RollParams{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if tok.ID() == old.ID() || rec.ID != tok.ID() {
		t.Fatalf("Roll returned %v for %v", tok, old)
	}
	if diff := cmp.Diff(oldRec, rec, cmpopts.IgnoreFields(Key{}, "ID", "Hash", "CreatedAt")); diff != "" {
		t.Errorf("rolled key attributes (-old +new):\n%s", diff)
	}
	for _, k := range []Token{old, tok} {
		if _, err := m.Verify(t.Context(), k.Reveal()); err != nil {
			t.Errorf("within the grace period, Verify(%v) = %v", k, err)
		}
	}
	clk.Advance(time.Hour)
	if _, err := m.Verify(t.Context(), old.Reveal()); err != ErrExpired {
		t.Errorf("after the grace period, old key: %v, want ErrExpired", err)
	}
	if _, err := m.Verify(t.Context(), tok.Reveal()); err != nil {
		t.Errorf("after the grace period, new key: %v", err)
	}
	// Without grace the old key expires at once.
	tok2, _, err := m.Roll(t.Context(), tok.ID(), RollParams{Grace: 0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(t.Context(), tok.Reveal()); err != ErrExpired {
		t.Errorf("rolled without grace: %v, want ErrExpired", err)
	}
	if _, err := m.Verify(t.Context(), tok2.Reveal()); err != nil {
		t.Errorf("new key: %v", err)
	}
}

// TestManagerRollKeepsAccount: a key without an owner is its own account;
// its successors carry that account as their Owner, roll after roll.
func TestManagerRollKeepsAccount(t *testing.T) {
	m, _ := newTestManager(t, new(MemoryStore), ManagerConfig{})
	old, _, _ := m.Create(t.Context(), CreateParams{Name: "solo", Type: SecretKey, Environment: Live})
	_, next, err := m.Roll(t.Context(), old.ID(), RollParams{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if next.Owner != old.ID() {
		t.Errorf("successor of an ownerless key: Owner %q, want the old key's ID %q", next.Owner, old.ID())
	}
	_, third, err := m.Roll(t.Context(), next.ID, RollParams{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if third.Owner != old.ID() {
		t.Errorf("second roll: Owner %q, want %q", third.Owner, old.ID())
	}
}

// TestManagerConcurrent runs verifications, revocations and rolls at once.
// Every answer must be one a real key can get: success, revoked, or expired.
func TestManagerConcurrent(t *testing.T) {
	m, _ := newTestManager(t, new(MemoryStore), ManagerConfig{Rand: &lockedReader{r: seeded(8)}})
	var (
		mu     sync.Mutex
		tokens []Token
	)
	for range 16 {
		tok, _, err := m.Create(t.Context(), CreateParams{Type: SecretKey, Environment: Live})
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
	}
	pick := func(r *rand.Rand) Token {
		mu.Lock()
		defer mu.Unlock()
		return tokens[r.IntN(len(tokens))]
	}
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range 300 {
				tok := pick(r)
				switch {
				case w < 8:
					_, err := m.Verify(t.Context(), tok.Reveal())
					if err != nil && err != ErrRevoked && err != ErrExpired {
						t.Errorf("Verify(%v) = %v", tok, err)
					}
					if _, err := m.Verify(t.Context(), wrongSecret(tok, w)); err != ErrInvalidKey {
						t.Errorf("Verify(wrong secret for %v) = %v", tok, err)
					}
				case w < 10:
					if r.IntN(20) == 0 {
						if _, err := m.Revoke(t.Context(), tok.ID()); err != nil {
							t.Errorf("Revoke(%v) = %v", tok, err)
						}
					}
				default:
					if r.IntN(10) == 0 {
						nt, _, err := m.Roll(t.Context(), tok.ID(), RollParams{Grace: 0})
						if errors.Is(err, ErrRevoked) || errors.Is(err, ErrExpired) {
							continue // revoked, or rolled already
						}
						if err != nil {
							t.Errorf("Roll(%v) = %v", tok, err)
							continue
						}
						mu.Lock()
						tokens = append(tokens, nt)
						mu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	// Afterwards, the cache agrees with the store for every key.
	for _, tok := range tokens {
		k, err := m.Get(t.Context(), tok.ID())
		if err != nil {
			t.Fatal(err)
		}
		_, verr := m.Verify(t.Context(), tok.Reveal())
		if want := k.Status(m.now()).Err(); verr != want {
			t.Errorf("Verify(%v) = %v, but the record says %v", tok, verr, want)
		}
	}
}

func TestManagerHMACAndMigration(t *testing.T) {
	mem := new(MemoryStore)
	old, _ := newTestManager(t, mem, ManagerConfig{}) // SHA-256 keys
	shaKey, _, _ := old.Create(t.Context(), CreateParams{Type: SecretKey, Environment: Live})
	h := testHMAC(t)
	m, _ := newTestManager(t, mem, ManagerConfig{Hasher: h, Rand: seeded(77), Verifier: VerifierConfig{Hashers: []Hasher{SHA256{}}}})
	hKey, rec, err := m.Create(t.Context(), CreateParams{Type: SecretKey, Environment: Live})
	if err != nil {
		t.Fatal(err)
	}
	if HashAlgorithm(rec.Hash) != "hmac-sha256" {
		t.Errorf("hash = %q", rec.Hash)
	}
	for _, tok := range []Token{shaKey, hKey} {
		if _, err := m.Verify(t.Context(), tok.Reveal()); err != nil {
			t.Errorf("Verify(%v) = %v", tok, err)
		}
	}
}

// Revoke, Disable and Roll through the Manager take effect for every Verify
// that starts after they return, under concurrent load (a look-up in flight
// re-populating the cache with a stale record would break this).
func TestManagerChangesTakeEffectUnderLoad(t *testing.T) {
	for name, op := range map[string]func(m *Manager, id string) error{
		"revoke":  func(m *Manager, id string) error { _, err := m.Revoke(context.Background(), id); return err },
		"disable": func(m *Manager, id string) error { _, err := m.Disable(context.Background(), id); return err },
		"roll": func(m *Manager, id string) error {
			_, _, err := m.Roll(context.Background(), id, RollParams{Grace: 0})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := newTestManager(t, new(MemoryStore), ManagerConfig{
				Verifier: VerifierConfig{LastUsedInterval: -1, CacheTTL: time.Hour},
				Rand:     &lockedReader{r: seeded(9)},
			})
			for range 12 {
				tok, rec, err := m.Create(t.Context(), CreateParams{Type: SecretKey, Environment: Live})
				if err != nil {
					t.Fatal(err)
				}
				var done atomic.Bool
				var bad atomic.Int64
				verified := make(chan struct{}, 64) // one per Verify, as room allows
				var wg sync.WaitGroup
				stop := make(chan struct{})
				for range 4 {
					wg.Go(func() {
						for {
							select {
							case <-stop:
								return
							default:
							}
							after := done.Load()
							_, err := m.Verify(context.Background(), tok.Reveal())
							if after && err == nil {
								bad.Add(1)
							}
							select {
							case verified <- struct{}{}:
							default:
							}
						}
					})
				}
				// Let the workers run before and after the change.
				waitCalls := func(n int) {
					for range n {
						<-verified
					}
				}
				waitCalls(20)
				if err := op(m, rec.ID); err != nil {
					t.Fatal(err)
				}
				done.Store(true)
				for len(verified) > 0 { // ticks of calls made before the change
					<-verified
				}
				waitCalls(100)
				close(stop)
				wg.Wait()
				if b := bad.Load(); b > 0 {
					t.Fatalf("%d verifications started after %s returned still accepted the key", b, name)
				}
			}
		})
	}
}

// Rolling makes a new, working key: it must not revive a key that no longer
// works.
func TestManagerRollState(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(m *Manager, clk *fakeClock, id string)
		want    error
		wantOff bool // the new key is disabled
	}{
		{"active", func(*Manager, *fakeClock, string) {}, nil, false},
		{"expiring later", func(m *Manager, clk *fakeClock, id string) { clk.Advance(59 * time.Minute) }, nil, false},
		{"expired", func(m *Manager, clk *fakeClock, id string) { clk.Advance(time.Hour) }, ErrExpired, false},
		{"revoked", func(m *Manager, clk *fakeClock, id string) { m.Revoke(t.Context(), id) }, ErrRevoked, false},
		{"revoked and expired", func(m *Manager, clk *fakeClock, id string) {
			m.Revoke(t.Context(), id)
			clk.Advance(time.Hour)
		}, ErrRevoked, false},
		{"disabled", func(m *Manager, clk *fakeClock, id string) { m.Disable(t.Context(), id) }, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := new(MemoryStore)
			m, clk := newTestManager(t, mem, ManagerConfig{})
			_, rec, err := m.Create(t.Context(), CreateParams{Type: SecretKey, Environment: Live, ExpiresAt: clk.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(m, clk, rec.ID)
			tok, nk, err := m.Roll(t.Context(), rec.ID, RollParams{Grace: 0})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Roll = %v, want %v", err, tc.want)
			}
			keys, _ := mem.ListKeys(t.Context(), ListFilter{})
			if tc.want != nil {
				if len(keys) != 1 || !tok.IsZero() || nk != nil {
					t.Errorf("refused Roll created a key (%d keys stored)", len(keys))
				}
				return
			}
			// The successor keeps the old key's expiry: rolling never
			// extends a key's life.
			if len(keys) != 2 || nk.Disabled != tc.wantOff || !nk.ExpiresAt.Equal(rec.ExpiresAt) {
				t.Errorf("Roll made %d keys; new key disabled=%v expires=%v, want expiry %v", len(keys), nk.Disabled, nk.ExpiresAt, rec.ExpiresAt)
			}
		})
	}
}

// IPv4-mapped IPv6 networks are stored as IPv4 networks, which is how
// client addresses are compared; otherwise such a key could never be used.
func TestManagerCreateNetworks(t *testing.T) {
	m, _ := newTestManager(t, new(MemoryStore), ManagerConfig{})
	for _, tc := range []struct {
		in, want string
		client   string // an address the key must accept
	}{
		{"10.1.2.3/8", "10.0.0.0/8", "10.9.9.9"},
		{"::ffff:1.2.3.0/120", "1.2.3.0/24", "1.2.3.4"},
		{"::ffff:1.2.3.77/120", "1.2.3.0/24", "::ffff:1.2.3.4"},
		{"::ffff:1.2.3.4/128", "1.2.3.4/32", "1.2.3.4"},
		{"::ffff:0.0.0.0/96", "0.0.0.0/0", "192.0.2.1"},
		{"2001:db8::1/32", "2001:db8::/32", "2001:db8::9"},
		{"::/0", "::/0", "2001:db8::9"},
	} {
		_, rec, err := m.Create(t.Context(), CreateParams{
			Type: SecretKey, Environment: Live, AllowedNetworks: []netip.Prefix{netip.MustParsePrefix(tc.in)},
		})
		if err != nil {
			t.Fatalf("Create with %s: %v", tc.in, err)
		}
		if got := rec.AllowedNetworks[0].String(); got != tc.want {
			t.Errorf("network %s stored as %s, want %s", tc.in, got, tc.want)
		}
		if !rec.AllowsAddr(netip.MustParseAddr(tc.client)) {
			t.Errorf("key for %s rejects %s", tc.in, tc.client)
		}
	}
}

// TestManagerRollInGrace: a key in its grace period that is rolled again
// gives a successor that dies with it, not one that never expires.
func TestManagerRollInGrace(t *testing.T) {
	m, clk := newTestManager(t, new(MemoryStore), ManagerConfig{})
	_, a, err := m.Create(t.Context(), CreateParams{Type: SecretKey, Environment: Live})
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := m.Roll(t.Context(), a.ID, RollParams{Grace: time.Hour})
	if err != nil || !b.ExpiresAt.IsZero() {
		t.Fatalf("first roll: %v, successor expires %v (want never)", err, b.ExpiresAt)
	}
	_, c, err := m.Roll(t.Context(), a.ID, RollParams{Grace: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if want := clk.Now().Add(time.Hour); !c.ExpiresAt.Equal(want) {
		t.Errorf("rolling a key in its grace period: the successor expires %v, want %v (the end of the grace)", c.ExpiresAt, want)
	}
}

// TestManagerRollExpiresAt: RollParams.ExpiresAt caps the successor's
// expiry, and never lengthens it.
func TestManagerRollExpiresAt(t *testing.T) {
	for _, tc := range []struct {
		name         string
		old, capAt   time.Duration // from now; 0: none
		want         time.Duration // 0: never
		wantParamErr bool
	}{
		{"no expiry, no cap", 0, 0, 0, false},
		{"no expiry, a cap", 0, 2 * time.Hour, 2 * time.Hour, false},
		{"an expiry, a later cap", 3 * time.Hour, 5 * time.Hour, 3 * time.Hour, false},
		{"an expiry, an earlier cap", 3 * time.Hour, time.Hour, time.Hour, false},
		{"a cap in the past", 0, -time.Hour, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, clk := newTestManager(t, new(MemoryStore), ManagerConfig{})
			var exp, capAt time.Time
			if tc.old != 0 {
				exp = clk.Now().Add(tc.old)
			}
			if tc.capAt != 0 {
				capAt = clk.Now().Add(tc.capAt)
			}
			_, k, err := m.Create(t.Context(), CreateParams{Type: SecretKey, Environment: Live, ExpiresAt: exp})
			if err != nil {
				t.Fatal(err)
			}
			_, nk, err := m.Roll(t.Context(), k.ID, RollParams{Grace: time.Minute, ExpiresAt: capAt})
			var pe *ParamError
			if tc.wantParamErr {
				if !errors.As(err, &pe) || pe.Param != "expires_at" {
					t.Fatalf("Roll with a past cap: %v, want a ParamError for expires_at", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want time.Time
			if tc.want != 0 {
				want = clk.Now().Add(tc.want)
			}
			if !nk.ExpiresAt.Equal(want) {
				t.Errorf("successor expires %v, want %v", nk.ExpiresAt, want)
			}
		})
	}
}
