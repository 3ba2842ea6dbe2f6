package apikey

// Adversarial tests of the lifecycle events and of Manager.RevokeLeaked,
// written from the contract (issue 17), not from the code's comments.
// Every identifier here starts with "adv" to stay clear of the package's
// other tests.

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// advEvents records events as "kind[/reason] id[ -> successor]" strings
// and checks every event against the contract as it arrives: no Hash,
// the Manager's clock, a reason only on EventRevoked.
type advEvents struct {
	t   *testing.T
	clk *fakeClock
	mu  sync.Mutex
	got []string
	raw []Event
}

func (l *advEvents) hook(_ context.Context, e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := e.Kind.String()
	if e.Reason != 0 {
		s += "/" + e.Reason.String()
	}
	if e.Key == nil {
		l.t.Errorf("event %s without a Key", s)
		return
	}
	s += " " + e.Key.ID
	if e.Successor != nil {
		s += " -> " + e.Successor.ID
		if e.Successor.Hash != "" {
			l.t.Errorf("event %s carries the successor's Hash", s)
		}
	}
	if e.Key.Hash != "" {
		l.t.Errorf("event %s carries the Hash", s)
	}
	if (e.Kind == EventRevoked) != (e.Reason != 0) {
		l.t.Errorf("event %s: a reason belongs to EventRevoked only", s)
	}
	if (e.Kind == EventRolled) != (e.Successor != nil) {
		l.t.Errorf("event %s: a successor belongs to EventRolled only", s)
	}
	if l.clk != nil && !e.Time.Equal(l.clk.Now()) {
		l.t.Errorf("event %s at %v, not the Manager's clock %v", s, e.Time, l.clk.Now())
	}
	l.got = append(l.got, s)
	l.raw = append(l.raw, e)
}

func (l *advEvents) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.got
	l.got, l.raw = nil, nil
	return g
}

// advManager is a Manager over a MemoryStore with a fake clock whose
// events go to the returned log.
func advManager(t *testing.T, cfg ManagerConfig) (*Manager, *fakeClock, *advEvents) {
	t.Helper()
	clk := newClock()
	log := &advEvents{t: t, clk: clk}
	cfg.Verifier.Now = clk.Now
	if cfg.OnEvent == nil {
		cfg.OnEvent = log.hook
	}
	if cfg.Rand == nil {
		cfg.Rand = &lockedReader{r: seeded(77)}
	}
	m, err := NewManager(new(MemoryStore), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, clk, log
}

// advChecksum computes the checksum of head as the contract defines it:
// CRC-32 (IEEE) of every character, base62 (0-9A-Za-z), big-endian, six
// digits. It is written independently of the package's implementation.
func advChecksum(head string) string {
	const a = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	v := uint64(crc32.ChecksumIEEE([]byte(head)))
	d := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		d[i] = a[v%62]
		v /= 62
	}
	return string(d)
}

// advResum replaces the checksum of a key-shaped string with a valid one.
func advResum(s string) string { return s[:len(s)-6] + advChecksum(s[:len(s)-6]) }

// advForgeries returns strings a scanner might report for the genuine key
// k (of the zero Format): all have a valid checksum and the same id, none
// is k.
func advForgeries(k string) map[string]string {
	body := k[len(k)-BodyLen:]
	id, secret := body[:IDLen], body[IDLen:IDLen+SecretLen]
	prefix := k[:len(k)-BodyLen]
	other := func(c byte) byte {
		if c == 'A' {
			return 'B'
		}
		return 'A'
	}
	flip := func(s string, i int) string { return s[:i] + string(other(s[i])) + s[i+1:] }
	return map[string]string{
		"secret, first character":      advResum(prefix + id + flip(secret, 0) + "000000"),
		"secret, last character":       advResum(prefix + id + flip(secret, SecretLen-1) + "000000"),
		"secret, all zeros":            advResum(prefix + id + strings.Repeat("0", SecretLen) + "000000"),
		"secret of the right length 0": advResum(prefix + id + strings.Repeat("z", SecretLen) + "000000"),
		"type label":                   advResum(strings.Replace(prefix, "sk_", "pk_", 1) + body),
		"environment label":            advResum(strings.Replace(prefix, "_live_", "_test_", 1) + body),
		"live label dropped":           advResum(strings.Replace(prefix, "_live_", "_", 1) + body),
		"service tag added":            advResum("acme_" + prefix + body),
	}
}

// TestAdvLifecycleEvents runs every Manager operation, including the ones
// that change nothing or fail, and holds the events sent to the contract.
func TestAdvLifecycleEvents(t *testing.T) {
	ctx := context.Background()
	m, clk, log := advManager(t, ManagerConfig{})
	_, a, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Live, Metadata: map[string]string{"k": "v"}, Scopes: []string{"s"}})
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := m.Create(ctx, CreateParams{Type: PublishableKey, Environment: Test, Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"created " + a.ID, "created " + b.ID}, log.take()); diff != "" {
		t.Fatalf("create (-want +got):\n%s", diff)
	}
	var successor string
	steps := []struct {
		name string
		op   func() error
		want func() []string
	}{
		{"disable", func() error { _, err := m.Disable(ctx, a.ID); return err }, func() []string { return []string{"disabled " + a.ID} }},
		{"disable again", func() error { _, err := m.Disable(ctx, a.ID); return err }, nil},
		{"enable", func() error { _, err := m.Enable(ctx, a.ID); return err }, func() []string { return []string{"enabled " + a.ID} }},
		{"enable again", func() error { _, err := m.Enable(ctx, a.ID); return err }, nil},
		{"enable a key created disabled", func() error { _, err := m.Enable(ctx, b.ID); return err }, func() []string { return []string{"enabled " + b.ID} }},
		{"disable unknown", func() error { m.Disable(ctx, "AAAAAAAAAAAA"); return nil }, nil},
		{"roll", func() error {
			clk.Advance(time.Minute)
			_, nk, err := m.Roll(ctx, a.ID, RollParams{Grace: time.Hour})
			if nk != nil {
				successor = nk.ID
			}
			return err
		}, func() []string { return []string{"rolled " + a.ID + " -> " + successor} }},
		{"revoke", func() error { _, err := m.Revoke(ctx, b.ID); return err }, func() []string { return []string{"revoked/user " + b.ID} }},
		{"revoke again", func() error { _, err := m.Revoke(ctx, b.ID); return err }, nil},
		{"enable a revoked key", func() error {
			if _, err := m.Enable(ctx, b.ID); !errors.Is(err, ErrRevoked) {
				return fmt.Errorf("Enable of a revoked key: %v, want ErrRevoked", err)
			}
			return nil
		}, nil},
		{"roll a revoked key", func() error {
			if _, _, err := m.Roll(ctx, b.ID, RollParams{Grace: 0}); !errors.Is(err, ErrRevoked) {
				return fmt.Errorf("Roll of a revoked key: %v, want ErrRevoked", err)
			}
			return nil
		}, nil},
		{"revoke unknown", func() error { m.Revoke(ctx, "AAAAAAAAAAAA"); return nil }, nil},
	}
	for _, s := range steps {
		if err := s.op(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		var want []string
		if s.want != nil {
			want = s.want()
		}
		if diff := cmp.Diff(want, log.take()); diff != "" {
			t.Errorf("%s: events (-want +got):\n%s", s.name, diff)
		}
	}
}

// TestAdvEventKeyIsTheStateAfterTheChange checks what an event's Key says,
// and that a hook mutating it cannot change the store or the cache.
func TestAdvEventKeyIsTheStateAfterTheChange(t *testing.T) {
	ctx := context.Background()
	var m *Manager
	var seen []Event
	m, clk, _ := advManager(t, ManagerConfig{OnEvent: func(_ context.Context, e Event) {
		seen = append(seen, e)
		// A careless hook: it scribbles on what it was given.
		if e.Key.Metadata != nil {
			e.Key.Metadata["k"] = "scribbled"
		}
		if len(e.Key.Scopes) > 0 {
			e.Key.Scopes[0] = "scribbled"
		}
		e.Key.Disabled = !e.Key.Disabled
	}})
	tok, k, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Live, Metadata: map[string]string{"k": "v"}, Scopes: []string{"s"},
		ExpiresAt: clk.Now().Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(ctx, tok.Reveal()); err != nil { // expiring_soon, from the cached record
		t.Fatal(err)
	}
	m.Disable(ctx, k.ID)
	m.Enable(ctx, k.ID)
	grace := 2 * time.Hour
	_, nk, err := m.Roll(ctx, k.ID, RollParams{Grace: grace})
	if err != nil {
		t.Fatal(err)
	}
	m.Revoke(ctx, nk.ID)

	want := []struct {
		kind     EventKind
		disabled bool
		revoked  bool
	}{{EventCreated, false, false}, {EventExpiringSoon, false, false}, {EventDisabled, true, false}, {EventEnabled, false, false}, {EventRolled, false, false}, {EventRevoked, false, true}}
	if len(seen) != len(want) {
		t.Fatalf("got %d events, want %d", len(seen), len(want))
	}
	for i, w := range want {
		e := seen[i]
		// The hook flipped Disabled: undo that to read what was sent.
		if e.Kind != w.kind || !e.Key.Disabled != w.disabled || e.Key.RevokedAt.IsZero() == w.revoked {
			t.Errorf("event %d: %v disabled=%v revoked=%v, want %v disabled=%v revoked=%v",
				i, e.Kind, !e.Key.Disabled, !e.Key.RevokedAt.IsZero(), w.kind, w.disabled, w.revoked)
		}
	}
	if r := seen[4]; !r.Key.ExpiresAt.Equal(clk.Now().Add(grace)) || r.Successor == nil || r.Successor.ID != nk.ID {
		t.Errorf("rolled: old expires %v (want %v), successor %v", r.Key.ExpiresAt, clk.Now().Add(grace), r.Successor)
	}

	got, err := m.Get(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata["k"] != "v" || got.Scopes[0] != "s" || got.Disabled {
		t.Errorf("a hook changed the stored record: %+v", got)
	}
	m.Verifier().Invalidate(k.ID)
	if v, err := m.Verify(ctx, tok.Reveal()); err != nil || v.Metadata["k"] != "v" || v.Scopes[0] != "s" {
		t.Errorf("a hook changed the verified record: %v, %v", v, err)
	}
}

// TestAdvWrongSecretNeverSendsAnEvent presents, for keys in every state,
// strings with the key's id and a valid checksum that are not the key,
// through Verify and RevokeLeaked, with both a fast and a slow hasher: no
// event, ever, and nothing revoked.
func TestAdvWrongSecretNeverSendsAnEvent(t *testing.T) {
	ctx := context.Background()
	hashers := map[string]Hasher{"sha256": SHA256{}, "argon2id": Argon2id{Time: 1, Memory: 64, Threads: 1}}
	for hname, h := range hashers {
		t.Run(hname, func(t *testing.T) {
			m, clk, log := advManager(t, ManagerConfig{Hasher: h, ExpiryWarning: time.Hour})
			mk := func(p CreateParams) string {
				p.Type, p.Environment = SecretKey, Live
				tok, _, err := m.Create(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				return tok.Reveal()
			}
			keys := map[string]string{
				"active":        mk(CreateParams{}),
				"disabled":      mk(CreateParams{Disabled: true}),
				"expiring soon": mk(CreateParams{ExpiresAt: clk.Now().Add(30 * time.Minute)}),
				"expiring":      mk(CreateParams{ExpiresAt: clk.Now().Add(90 * time.Minute)}),
			}
			log.take()
			for round := range 3 { // before, within the warning, after expiry
				for state, k := range keys {
					for what, forged := range advForgeries(k) {
						if _, err := m.Verify(ctx, forged); !errors.Is(err, ErrInvalidKey) {
							t.Errorf("round %d, %s key, %s: Verify = %v, want ErrInvalidKey", round, state, what, err)
						}
						if r, err := m.RevokeLeaked(ctx, forged); !errors.Is(err, ErrInvalidKey) || r != nil {
							t.Errorf("round %d, %s key, %s: RevokeLeaked = %v, %v, want nil, ErrInvalidKey", round, state, what, r != nil, err)
						}
					}
				}
				if got := log.take(); len(got) != 0 {
					t.Errorf("round %d: wrong secrets sent %q", round, got)
				}
				clk.Advance(45 * time.Minute)
			}
			keysNow, err := m.List(ctx, ListFilter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keysNow {
				if !k.RevokedAt.IsZero() {
					t.Errorf("key %s was revoked by a wrong secret", k.ID)
				}
			}
		})
	}
}

// TestAdvExpiryEventsOncePerKey uses keys around their expiry from many
// goroutines, across cache refreshes: one expiring_soon and one
// revoked/expired per key and expiry, at the documented boundaries.
func TestAdvExpiryEventsOncePerKey(t *testing.T) {
	ctx := context.Background()
	const warn = 24 * time.Hour
	tests := []struct {
		name    string
		warning time.Duration
		steps   []time.Duration // the clock moves by each, then the key is used (the first from creation)
		want    []string
	}{
		{"just outside the warning", warn, []time.Duration{time.Nanosecond}, nil},
		{"at the start of the warning", warn, []time.Duration{2 * time.Nanosecond}, []string{"expiring_soon"}},
		{"first use after expiry: no expiring_soon", warn, []time.Duration{warn + time.Second}, []string{"revoked/expired"}},
		{"at the expiry instant", warn, []time.Duration{warn + 1, time.Nanosecond}, []string{"expiring_soon", "revoked/expired"}},
		{"just before expiry", warn, []time.Duration{warn + 1}, []string{"expiring_soon"}},
		{"many uses", warn, []time.Duration{time.Hour, time.Hour, warn, time.Hour, 30 * 24 * time.Hour}, []string{"expiring_soon", "revoked/expired"}},
		{"warning off", -time.Nanosecond, []time.Duration{time.Hour, warn, time.Hour}, []string{"revoked/expired"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, clk, log := advManager(t, ManagerConfig{ExpiryWarning: tt.warning, Verifier: VerifierConfig{CacheTTL: time.Minute}})
			// The key expires warn + 2ns from now: the warning starts 2ns from now.
			tok, k, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Live, ExpiresAt: clk.Now().Add(warn + 2*time.Nanosecond)})
			if err != nil {
				t.Fatal(err)
			}
			log.take()
			for _, d := range tt.steps {
				clk.Advance(d)
				var wg sync.WaitGroup
				for range 16 {
					wg.Go(func() { m.Verify(ctx, tok.Reveal()) })
				}
				wg.Wait()
				m.Verifier().Invalidate(k.ID) // a fresh entry must not send it again
				m.Verify(ctx, tok.Reveal())
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, w+" "+k.ID)
			}
			if diff := cmp.Diff(want, log.take()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAdvExpiryEventOnceAtScale: "once per key and expiry per Manager"
// must hold for a service with many keys near their expiry, not only for a
// few: a key that was warned must not be warned again when its cache
// entry is read anew.
func TestAdvExpiryEventOnceAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10001 keys")
	}
	ctx := context.Background()
	var mu sync.Mutex
	soon := map[string]int{}
	m, clk, _ := advManager(t, ManagerConfig{OnEvent: func(_ context.Context, e Event) {
		if e.Kind == EventExpiringSoon {
			mu.Lock()
			soon[e.Key.ID]++
			mu.Unlock()
		}
	}})
	const n = 10001
	toks := make([]string, n)
	ids := make([]string, n)
	for i := range n {
		tok, k, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Live, ExpiresAt: clk.Now().Add(72 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		toks[i], ids[i] = tok.Reveal(), k.ID
	}
	for _, k := range toks {
		if _, err := m.Verify(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	// The cache entries are refreshed (as they are every CacheTTL) and the
	// keys used again.
	m.Verifier().InvalidateAll()
	for _, k := range toks[:100] {
		m.Verify(ctx, k)
	}
	mu.Lock()
	defer mu.Unlock()
	again := 0
	for _, id := range ids {
		if soon[id] != 1 {
			again++
		}
	}
	if again != 0 {
		t.Errorf("%d of %d keys were sent expiring_soon other than once for one expiry", again, n)
	}
}

// TestAdvRolledExpiryIsANewExpiry: a key warned for one expiry is warned
// again when Roll gives it another, and refused-expired is sent once.
func TestAdvRolledExpiryIsANewExpiry(t *testing.T) {
	ctx := context.Background()
	m, clk, log := advManager(t, ManagerConfig{ExpiryWarning: 48 * time.Hour})
	tok, k, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Live, ExpiresAt: clk.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	m.Verify(ctx, tok.Reveal())
	m.Verify(ctx, tok.Reveal())
	_, nk, err := m.Roll(ctx, k.ID, RollParams{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	m.Verify(ctx, tok.Reveal())
	clk.Advance(time.Hour)
	for range 3 {
		if _, err := m.Verify(ctx, tok.Reveal()); !errors.Is(err, ErrExpired) {
			t.Fatalf("Verify after the grace: %v", err)
		}
	}
	want := []string{"created " + k.ID, "expiring_soon " + k.ID, "rolled " + k.ID + " -> " + nk.ID, "expiring_soon " + k.ID, "revoked/expired " + k.ID}
	if diff := cmp.Diff(want, log.take()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestAdvRefusedForAnotherReasonIsNotExpired: a revoked key past its
// expiry is refused as revoked, which is not a refusal because expired.
func TestAdvRefusedForAnotherReasonIsNotExpired(t *testing.T) {
	ctx := context.Background()
	m, clk, log := advManager(t, ManagerConfig{ExpiryWarning: -1})
	tok, k, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Live, ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	m.Revoke(ctx, k.ID)
	clk.Advance(2 * time.Hour)
	if _, err := m.Verify(ctx, tok.Reveal()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Verify: %v, want ErrRevoked", err)
	}
	if diff := cmp.Diff([]string{"created " + k.ID, "revoked/user " + k.ID}, log.take()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestAdvHooksRunOutsideTheLocks: every hook, whatever sends it, must run
// with no lock of the Manager or its Verifier held, and may call the
// Manager.
func TestAdvHooksRunOutsideTheLocks(t *testing.T) {
	ctx := context.Background()
	var m *Manager
	var mu sync.Mutex
	var kinds []string
	var clk *fakeClock
	m, clk, _ = advManager(t, ManagerConfig{ExpiryWarning: time.Hour, OnEvent: func(ctx context.Context, e Event) {
		if !m.mu.TryLock() {
			t.Errorf("%v: the hook runs under the Manager's lock", e.Kind)
		} else {
			m.mu.Unlock()
		}
		if w := m.v.expiry; w != nil {
			if !w.mu.TryLock() {
				t.Errorf("%v: the hook runs under the expiry watch's lock", e.Kind)
			} else {
				w.mu.Unlock()
			}
		}
		if !m.v.records.mu.TryLock() {
			t.Errorf("%v: the hook runs under the record cache's lock", e.Kind)
		} else {
			m.v.records.mu.Unlock()
		}
		// And it may call the Manager, even about the same key.
		if _, err := m.Get(ctx, e.Key.ID); err != nil {
			t.Errorf("%v: Get from the hook: %v", e.Kind, err)
		}
		if e.Key.Name != "from hook" {
			if _, _, err := m.Create(ctx, CreateParams{Type: PublishableKey, Environment: Test, Name: "from hook"}); err != nil {
				t.Errorf("%v: Create from the hook: %v", e.Kind, err)
			}
		}
		mu.Lock()
		kinds = append(kinds, e.Kind.String())
		mu.Unlock()
	}})
	tok, k, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Live, ExpiresAt: clk.Now().Add(30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	m.Verify(ctx, tok.Reveal()) // expiring_soon
	m.Disable(ctx, k.ID)
	m.Enable(ctx, k.ID)
	_, nk, err := m.Roll(ctx, k.ID, RollParams{Grace: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(20 * time.Minute)
	m.Verify(ctx, tok.Reveal()) // revoked/expired
	m.Revoke(ctx, nk.ID)
	tok2, _, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Live})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.RevokeLeaked(ctx, tok2.Reveal()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"created", "expiring_soon", "disabled", "enabled", "rolled", "revoked"} {
		if !strings.Contains(strings.Join(kinds, " "), want) {
			t.Errorf("no %s event seen (got %v)", want, kinds)
		}
	}
}

// advProbeHasher is SHA-256 under another algorithm tag, so that the
// Verifier treats it as a slow hash; Verify calls probe first.
type advProbeHasher struct{ probe func() }

func (advProbeHasher) Algorithm() string { return "advprobe" }
func (h advProbeHasher) Hash(key string) (string, error) {
	s, err := SHA256{}.Hash(key)
	return "advprobe$" + strings.TrimPrefix(s, "sha256$"), err
}
func (h advProbeHasher) Verify(key, stored string) (bool, error) {
	if h.probe != nil {
		h.probe()
	}
	return SHA256{}.Verify(key, "sha256$"+strings.TrimPrefix(stored, "advprobe$"))
}

// TestAdvRevokeLeakedHashesOutsideTheLock: anyone can have GitHub report
// any string of a key's shape (by pushing it to a public repository), and
// a key's id is not secret, so the cost of checking a reported secret is
// in an attacker's hands. With a slow Hasher (Argon2id, tens of ms each)
// that check must not hold the Manager's lock, which serialises every
// Create, Revoke, Disable and Roll of the service.
func TestAdvRevokeLeakedHashesOutsideTheLock(t *testing.T) {
	ctx := context.Background()
	var m *Manager
	var underLock, calls int
	h := advProbeHasher{probe: func() {
		calls++
		if m.mu.TryLock() {
			m.mu.Unlock()
		} else {
			underLock++
		}
	}}
	m, _, _ = advManager(t, ManagerConfig{Hasher: h})
	tok, _, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Live})
	if err != nil {
		t.Fatal(err)
	}
	forged := advForgeries(tok.Reveal())["secret, last character"]
	tests := []struct{ name, key string }{{"wrong secret", forged}, {"genuine", tok.Reveal()}}
	for _, tt := range tests {
		calls, underLock = 0, 0
		m.RevokeLeaked(ctx, tt.key)
		if calls == 0 {
			t.Errorf("%s: the stored hash was not checked", tt.name)
		}
		if underLock != 0 {
			t.Errorf("%s: RevokeLeaked ran %d slow hash check(s) holding the Manager's lock", tt.name, underLock)
		}
	}
}

// TestAdvRevokeLeakedContract holds RevokeLeaked to the contract for
// everything a leak report may hold.
func TestAdvRevokeLeakedContract(t *testing.T) {
	ctx := context.Background()
	m, clk, log := advManager(t, ManagerConfig{})
	mk := func(p CreateParams) (string, *Key) {
		t.Helper()
		tok, k, err := m.Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Reveal(), k
	}
	live, lk := mk(CreateParams{Type: SecretKey, Environment: Live})
	test, tk := mk(CreateParams{Type: PublishableKey, Environment: Test})
	victim, vk := mk(CreateParams{Type: SecretKey, Environment: Live})
	// Used, so that it sits in the Verifier's cache with a pending last use.
	if _, err := m.Verify(ctx, live); err != nil {
		t.Fatal(err)
	}
	log.take()
	type tcase struct {
		name    string
		key     string
		genuine string // the id it must revoke, "" if none
		event   bool
	}
	tests := []tcase{
		{"genuine live", live, lk.ID, true},
		{"genuine again", live, lk.ID, false},
		{"genuine test publishable", test, tk.ID, true},
		{"with a trailing newline", victim + "\n", "", false},
		{"with a leading space", " " + victim, "", false},
		{"upper-cased", strings.ToUpper(victim), "", false},
		{"twice", victim + victim, "", false},
		{"NUL inside", victim[:10] + "\x00" + victim[11:], "", false},
		{"checksum broken", victim[:len(victim)-1] + string(victim[len(victim)-1]^1), "", false},
		{"empty", "", "", false},
		{"huge", strings.Repeat("a", 1<<16), "", false},
	}
	for what, forged := range advForgeries(victim) {
		tests = append(tests, tcase{"forged: " + what, forged, "", false})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := m.RevokeLeaked(ctx, tt.key)
			if tt.genuine == "" {
				if !errors.Is(err, ErrInvalidKey) || k != nil {
					t.Errorf("RevokeLeaked = %v, %v; want nil and ErrInvalidKey", k != nil, err)
				}
				if err != nil && strings.Contains(err.Error(), tt.key) && tt.key != "" {
					t.Errorf("the error quotes the key")
				}
			} else if err != nil || k == nil || k.ID != tt.genuine || k.RevokedAt.IsZero() {
				t.Errorf("RevokeLeaked = %v, %v; want the revoked record of %s", k, err, tt.genuine)
			}
			var want []string
			if tt.event {
				want = []string{"revoked/leaked " + tt.genuine}
			}
			if diff := cmp.Diff(want, log.take()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
	if got, _ := m.Get(ctx, vk.ID); !got.RevokedAt.IsZero() {
		t.Errorf("the victim key was revoked by strings that are not it")
	}
	if _, err := m.Verify(ctx, live); !errors.Is(err, ErrRevoked) {
		t.Errorf("Verify of a cached key after RevokeLeaked: %v, want ErrRevoked", err)
	}
	clk.Advance(time.Hour)
	if err := m.Verifier().Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// live was used once before the report: that use may be recorded; the
	// test key was never used, and a report is not a use.
	if got, _ := m.Get(ctx, tk.ID); !got.LastUsedAt.IsZero() {
		t.Errorf("RevokeLeaked recorded a use of the key")
	}
}

// advFailingStore fails LookupKey or UpdateKey on demand.
type advFailingStore struct {
	ManagedStore
	mu                 sync.Mutex
	failLookup, failUp bool
}

func (s *advFailingStore) LookupKey(ctx context.Context, id string) (*Key, error) {
	s.mu.Lock()
	f := s.failLookup
	s.mu.Unlock()
	if f {
		return nil, fmt.Errorf("%w: injected", ErrUnavailable)
	}
	return s.ManagedStore.LookupKey(ctx, id)
}

func (s *advFailingStore) UpdateKey(ctx context.Context, k *Key) error {
	s.mu.Lock()
	f := s.failUp
	s.mu.Unlock()
	if f {
		return fmt.Errorf("%w: injected", ErrUnavailable)
	}
	return s.ManagedStore.UpdateKey(ctx, k)
}

// TestAdvRevokeLeakedStoreFailure: a store that fails is never reported as
// a false positive (that would tell GitHub to forget a real leak).
func TestAdvRevokeLeakedStoreFailure(t *testing.T) {
	tests := []struct {
		name           string
		lookup, update bool
		cancel         bool
	}{
		{"look-up fails", true, false, false},
		{"update fails", false, true, false},
		{"context cancelled", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &advFailingStore{ManagedStore: new(MemoryStore)}
			clk := newClock()
			log := &advEvents{t: t, clk: clk}
			m, err := NewManager(store, ManagerConfig{OnEvent: log.hook, Verifier: VerifierConfig{Now: clk.Now}})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			tok, k, err := m.Create(context.Background(), CreateParams{Type: SecretKey, Environment: Live})
			if err != nil {
				t.Fatal(err)
			}
			log.take()
			store.mu.Lock()
			store.failLookup, store.failUp = tt.lookup, tt.update
			store.mu.Unlock()
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancel {
				cancel()
			}
			defer cancel()
			r, err := m.RevokeLeaked(ctx, tok.Reveal())
			if err == nil || errors.Is(err, ErrInvalidKey) || r != nil {
				t.Errorf("RevokeLeaked = %v, %v; want a store error that does not match ErrInvalidKey", r != nil, err)
			}
			if got := log.take(); len(got) != 0 {
				t.Errorf("events for a revocation that was not stored: %q", got)
			}
			store.mu.Lock()
			store.failLookup, store.failUp = false, false
			store.mu.Unlock()
			if got, _ := m.Get(context.Background(), k.ID); !got.RevokedAt.IsZero() && tt.update {
				t.Errorf("the key is revoked though the update failed")
			}
		})
	}
}

// TestAdvConcurrentRevocationsOneEvent: many reports of one leaked key at
// once, racing a revocation by its owner: exactly one revocation event.
func TestAdvConcurrentRevocationsOneEvent(t *testing.T) {
	ctx := context.Background()
	m, _, log := advManager(t, ManagerConfig{})
	tok, k, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Live})
	if err != nil {
		t.Fatal(err)
	}
	log.take()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			if i%8 == 0 {
				m.Revoke(ctx, k.ID)
				return
			}
			if r, err := m.RevokeLeaked(ctx, tok.Reveal()); err != nil || r == nil || r.RevokedAt.IsZero() {
				t.Errorf("RevokeLeaked: %v, %v", r, err)
			}
		})
	}
	wg.Wait()
	got := log.take()
	if len(got) != 1 || !strings.HasPrefix(got[0], "revoked/") {
		t.Errorf("events: %q, want exactly one revocation", got)
	}
}

// TestAdvVerifyWithHookAllocatesNothing: with a hook set, Verify of a
// cached key does not allocate, whatever its state, once its events are
// sent.
func TestAdvVerifyWithHookAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	m, clk, _ := advManager(t, ManagerConfig{ExpiryWarning: time.Hour})
	mk := func(p CreateParams) string {
		p.Type, p.Environment = SecretKey, Live
		tok, _, err := m.Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Reveal()
	}
	never := mk(CreateParams{})
	far := mk(CreateParams{ExpiresAt: clk.Now().Add(30 * 24 * time.Hour)})
	soon := mk(CreateParams{ExpiresAt: clk.Now().Add(30 * time.Minute)})
	past := mk(CreateParams{ExpiresAt: clk.Now().Add(time.Minute)})
	disabled := mk(CreateParams{Disabled: true, ExpiresAt: clk.Now().Add(30 * time.Minute)})
	clk.Advance(2 * time.Minute)
	tests := []struct{ name, key string }{
		{"no expiry", never},
		{"far expiry", far},
		{"expiring soon", soon},
		{"expired", past},
		{"disabled, expiring soon", disabled},
		{"wrong secret of a cached key", advForgeries(soon)["secret, first character"]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m.Verify(ctx, tt.key) // caches it, sends its events
			m.Verify(ctx, never)  // caches the key of the forgery's test too
			if n := testing.AllocsPerRun(200, func() { m.Verify(ctx, tt.key) }); n != 0 {
				t.Errorf("Verify allocates %v times", n)
			}
		})
	}
}
