package apikey

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// eventLog records the events a Manager sends.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) hook(_ context.Context, e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// take returns the events recorded since the last call, as
// "kind/reason id" strings, and checks that none carries a hash.
func (l *eventLog) take(t *testing.T) []string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var got []string
	for _, e := range l.events {
		s := e.Kind.String()
		if e.Reason != 0 {
			s += "/" + e.Reason.String()
		}
		s += " " + e.Key.ID
		if e.Successor != nil {
			s += " -> " + e.Successor.ID
			if e.Successor.Hash != "" {
				t.Errorf("event %s carries the successor's hash", s)
			}
		}
		if e.Key.Hash != "" {
			t.Errorf("event %s carries a hash", s)
		}
		got = append(got, s)
	}
	l.events = nil
	return got
}

func TestManagerEvents(t *testing.T) {
	var log eventLog
	m, clk := newTestManager(t, new(MemoryStore), ManagerConfig{OnEvent: log.hook})
	ctx := context.Background()
	tok, k, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Live, Permission: ReadWrite})
	if err != nil {
		t.Fatal(err)
	}
	id := k.ID
	check := func(step string, want ...string) {
		t.Helper()
		if diff := cmp.Diff(want, log.take(t)); diff != "" {
			t.Errorf("%s: events (-want +got):\n%s", step, diff)
		}
	}
	check("create", "created "+id)

	m.Disable(ctx, id)
	m.Disable(ctx, id) // no change, no event
	check("disable", "disabled "+id)
	m.Enable(ctx, id)
	m.Enable(ctx, id)
	check("enable", "enabled "+id)

	_, nk, err := m.Roll(ctx, id, RollParams{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	check("roll", "rolled "+id+" -> "+nk.ID) // no "created" for the successor

	// The old key, in its grace period, expires within the warning.
	if _, err := m.Verify(ctx, tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	m.Verify(ctx, tok.Reveal())
	m.Verifier().Invalidate(id) // a fresh cache entry does not send it again
	m.Verify(ctx, tok.Reveal())
	check("use in grace", "expiring_soon "+id)

	clk.Advance(time.Hour)
	for range 3 {
		if _, err := m.Verify(ctx, tok.Reveal()); !errors.Is(err, ErrExpired) {
			t.Fatalf("Verify after the grace period: %v, want ErrExpired", err)
		}
	}
	check("use after grace", "revoked/expired "+id)

	m.Revoke(ctx, nk.ID)
	m.Revoke(ctx, nk.ID)
	check("revoke", "revoked/user "+nk.ID)
}

func TestManagerExpiryWarning(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		warning time.Duration
		expires time.Duration // from creation
		use     []time.Duration
		want    []string
	}{
		{"far", 0, 30 * 24 * time.Hour, []time.Duration{0, time.Hour}, nil},
		{"default is 7 days", 0, 8 * 24 * time.Hour, []time.Duration{0, 23 * time.Hour, 2 * time.Hour}, []string{"expiring_soon"}},
		{"custom lead", time.Hour, 3 * time.Hour, []time.Duration{0, time.Hour, time.Hour, time.Hour}, []string{"expiring_soon", "revoked/expired"}},
		{"warning off", -1, 2 * time.Hour, []time.Duration{0, time.Hour, time.Hour}, []string{"revoked/expired"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log eventLog
			m, clk := newTestManager(t, new(MemoryStore), ManagerConfig{OnEvent: log.hook, ExpiryWarning: tt.warning})
			tok, k, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Test, ExpiresAt: clk.Now().Add(tt.expires)})
			if err != nil {
				t.Fatal(err)
			}
			log.take(t)
			for _, d := range tt.use {
				clk.Advance(d)
				m.Verify(ctx, tok.Reveal())
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, w+" "+k.ID)
			}
			if diff := cmp.Diff(want, log.take(t)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExpiredKeyOfWrongSecretSendsNothing(t *testing.T) {
	var log eventLog
	m, clk := newTestManager(t, new(MemoryStore), ManagerConfig{OnEvent: log.hook})
	ctx := context.Background()
	tok, _, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Live, ExpiresAt: clk.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	log.take(t)
	key := tok.Reveal()
	forged := withChecksum(key[:len("sk_live_")+IDLen] + "x" + key[len("sk_live_")+IDLen+1:])
	m.Verify(ctx, forged) // the id of an expiring key, another secret
	clk.Advance(time.Hour)
	m.Verify(ctx, forged)
	if got := log.take(t); len(got) != 0 {
		t.Errorf("a wrong secret sent %q", got)
	}
}

func TestVerifyWithHookDoesNotAllocate(t *testing.T) {
	var log eventLog
	m, clk := newTestManager(t, new(MemoryStore), ManagerConfig{OnEvent: log.hook})
	ctx := context.Background()
	tok, _, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Live, ExpiresAt: clk.Now().Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	key := tok.Reveal()
	m.Verify(ctx, key) // caches it and sends expiring_soon
	if n := testing.AllocsPerRun(100, func() { m.Verify(ctx, key) }); n != 0 {
		t.Errorf("Verify of a cached key expiring soon allocates %v times", n)
	}
}

// TestEventHookMayCallTheManager checks that hooks run outside the
// Manager's lock.
func TestEventHookMayCallTheManager(t *testing.T) {
	var m *Manager
	var seen []Status
	clk := newClock()
	m, _ = newTestManager(t, new(MemoryStore), ManagerConfig{Verifier: VerifierConfig{Now: clk.Now}, OnEvent: func(ctx context.Context, e Event) {
		k, err := m.Get(ctx, e.Key.ID)
		if err != nil {
			t.Error(err)
			return
		}
		seen = append(seen, k.Status(clk.Now()))
		if e.Kind == EventDisabled {
			m.Revoke(ctx, e.Key.ID)
		}
	}})
	ctx := context.Background()
	_, k, err := m.Create(ctx, CreateParams{Type: SecretKey, Environment: Live})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Disable(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Status{StatusActive, StatusDisabled, StatusRevoked}, seen); diff != "" {
		t.Errorf("statuses seen by the hook (-want +got):\n%s", diff)
	}
}

func TestRevokeLeaked(t *testing.T) {
	ctx := context.Background()
	var log eventLog
	store := &countingStore{ManagedStore: new(MemoryStore)}
	m, clk := newTestManager(t, store, ManagerConfig{OnEvent: log.hook})
	mk := func(p CreateParams) (string, *Key) {
		t.Helper()
		p.Type, p.Environment = SecretKey, Live
		tok, k, err := m.Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Reveal(), k
	}
	live, lk := mk(CreateParams{})
	disabled, dk := mk(CreateParams{Disabled: true})
	expiring, ek := mk(CreateParams{ExpiresAt: clk.Now().Add(time.Minute)})
	revoked, rk := mk(CreateParams{})
	m.Revoke(ctx, rk.ID)
	other, _ := Format{Service: "acme"}.Generate(seeded(9), SecretKey, Live)
	unknown, _ := Format{}.Generate(seeded(9), SecretKey, Live)
	wrong := withChecksum(live[:len(live)-10] + "0000000000")
	clk.Advance(time.Hour) // expiring has expired
	log.take(t)

	tests := []struct {
		name    string
		key     string
		wantErr error
		want    string // the id revoked, "" if none
		event   bool
	}{
		{"live", live, nil, lk.ID, true},
		{"again", live, nil, lk.ID, false},
		{"disabled", disabled, nil, dk.ID, true},
		{"expired", expiring, nil, ek.ID, true},
		{"revoked before", revoked, nil, rk.ID, false},
		{"wrong secret", wrong, ErrInvalidKey, "", false},
		{"unknown", unknown.Reveal(), ErrInvalidKey, "", false},
		{"other service", other.Reveal(), ErrInvalidKey, "", false},
		{"bad checksum", live[:len(live)-1] + "!", ErrInvalidKey, "", false},
		{"empty", "", ErrInvalidKey, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := m.RevokeLeaked(ctx, tt.key)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("RevokeLeaked: %v, want %v", err, tt.wantErr)
			}
			if tt.want != "" {
				if k == nil || k.ID != tt.want || k.RevokedAt.IsZero() {
					t.Fatalf("RevokeLeaked returned %v, want %s revoked", k, tt.want)
				}
				if _, err := m.Verify(ctx, tt.key); !errors.Is(err, ErrRevoked) {
					t.Errorf("Verify after RevokeLeaked: %v, want ErrRevoked", err)
				}
			}
			var want []string
			if tt.event {
				want = []string{"revoked/leaked " + tt.want}
			}
			if diff := cmp.Diff(want, log.take(t)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
	m.Close()
	if got, _ := store.LookupKey(ctx, lk.ID); !got.LastUsedAt.IsZero() {
		t.Errorf("a leak report recorded a use of the key")
	}
}

// TestExpiryWatchEviction: a full watch forgets keys long expired first,
// then expired ones, and only then some of those still to be warned.
func TestExpiryWatchEviction(t *testing.T) {
	now := newClock().Now()
	w := newExpiryWatch(time.Hour, &notifier{})
	add := func(id string, expires time.Time) {
		w.sent[id] = expirySent{expires: expires, stage: expirySoon}
	}
	for i := range maxExpiryWatched - 2 {
		add(fmt.Sprint("soon", i), now.Add(time.Minute))
	}
	add("old", now.Add(-48*time.Hour))
	add("recent", now.Add(-time.Minute))

	w.record(&Key{ID: "new1", ExpiresAt: now.Add(time.Minute)}, expirySoon, now)
	if _, ok := w.sent["old"]; ok || len(w.sent) != maxExpiryWatched {
		t.Fatalf("after one eviction: old kept %v, %d entries", ok, len(w.sent))
	}
	if _, ok := w.sent["recent"]; !ok {
		t.Fatalf("a key expired a minute ago was forgotten before one expired two days ago")
	}
	w.record(&Key{ID: "new2", ExpiresAt: now.Add(time.Minute)}, expirySoon, now)
	if _, ok := w.sent["recent"]; ok {
		t.Errorf("an expired key was kept while room was needed")
	}
	w.record(&Key{ID: "new3", ExpiresAt: now.Add(time.Minute)}, expirySoon, now)
	if n := len(w.sent); n > maxExpiryWatched-maxExpiryWatched/10+1 || n < maxExpiryWatched/2 {
		t.Errorf("%d entries after making room among keys still to be warned", n)
	}
	if w.record(&Key{ID: "new3", ExpiresAt: now.Add(time.Minute)}, expirySoon, now) {
		t.Errorf("a key just recorded counts as news")
	}
}
