package redisfeed_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/redisfeed"
	"github.com/gatekey/gatekey/internal/testserver"
)

// replicas are two replicas sharing a MemoryStore: A manages keys through
// the Feed's wrapper; B only verifies, caching records for an hour, and
// watches the channel. B sees A's changes only through the feed.
type replicas struct {
	mem     *apikey.MemoryStore
	feedA   *redisfeed.Feed
	wrapped apikey.ManagedStore // A's store: mem wrapped by feedA
	a       *apikey.Manager
	logsA   *logs
	b       *apikey.Verifier
	recB    *recorder
}

func newReplicas(t *testing.T) *replicas {
	t.Helper()
	addr := testserver.SharedRedis(t).Addr()
	ch := uniqueChannel()
	r := &replicas{mem: &apikey.MemoryStore{}, logsA: newLogs()}
	r.feedA = newFeed(t, newClient(t, addr), redisfeed.Config{Channel: ch, Logger: r.logsA.logger()})
	r.wrapped = r.feedA.Store(r.mem)
	var err error
	if r.a, err = apikey.NewManager(r.wrapped, apikey.ManagerConfig{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.a.Close() })
	if r.b, err = apikey.NewVerifier(r.mem, apikey.VerifierConfig{CacheTTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.b.Close() })
	feedB := newFeed(t, newClient(t, addr), redisfeed.Config{Channel: ch, Logger: newLogs().logger()})
	r.recB = newRecorder(r.b)
	watch(t, feedB, r.recB)
	r.recB.wantAll(t)
	return r
}

// create makes a key on A and has B verify it, so that B caches its record.
func (r *replicas) create(t *testing.T) (apikey.Token, *apikey.Key) {
	t.Helper()
	tok, k, err := r.a.Create(t.Context(), apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live})
	if err != nil {
		t.Fatal(err)
	}
	r.verifyB(t, tok, nil)
	return tok, k
}

// verifyB checks that B's Verify of tok fails with want (nil: succeeds).
func (r *replicas) verifyB(t *testing.T, tok apikey.Token, want error) {
	t.Helper()
	_, err := r.b.Verify(t.Context(), tok.Reveal())
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("replica B: Verify = %v, want %v", err, want)
	}
}

// marker publishes a marker on A's feed and checks that it is the next
// thing B hears: nothing was published before it.
func (r *replicas) marker(t *testing.T) {
	t.Helper()
	if err := r.feedA.Publish(t.Context(), "marker_1"); err != nil {
		t.Fatal(err)
	}
	r.recB.wantID(t, "marker_1")
}

// TestStoreChanges: a change A's Manager makes is honoured by B as soon as
// B hears of it, though B caches records for an hour.
func TestStoreChanges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(ctx context.Context, m *apikey.Manager, id string) error
		want   error
	}{
		{"revoke", func(ctx context.Context, m *apikey.Manager, id string) error {
			_, err := m.Revoke(ctx, id)
			return err
		}, apikey.ErrRevoked},
		{"disable", func(ctx context.Context, m *apikey.Manager, id string) error {
			_, err := m.Disable(ctx, id)
			return err
		}, apikey.ErrDisabled},
		{"roll", func(ctx context.Context, m *apikey.Manager, id string) error {
			_, _, err := m.Roll(ctx, id, apikey.RollParams{Grace: 0})
			return err
		}, apikey.ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReplicas(t)
			tok, k := r.create(t)
			if err := tc.change(t.Context(), r.a, k.ID); err != nil {
				t.Fatal(err)
			}
			r.recB.wantID(t, k.ID)
			r.verifyB(t, tok, tc.want)
			r.marker(t) // and nothing else was published (Roll's CreateKey)
			r.recB.noMore(t)
		})
	}
}

func TestStoreEnable(t *testing.T) {
	r := newReplicas(t)
	tok, k := r.create(t)
	if _, err := r.a.Disable(t.Context(), k.ID); err != nil {
		t.Fatal(err)
	}
	r.recB.wantID(t, k.ID)
	r.verifyB(t, tok, apikey.ErrDisabled)
	if _, err := r.a.Enable(t.Context(), k.ID); err != nil {
		t.Fatal(err)
	}
	r.recB.wantID(t, k.ID)
	r.verifyB(t, tok, nil)
}

// TestUnannouncedChange is the control: a change made beside the wrapper
// is not heard, and B goes on using its cached record, until the change is
// announced with Publish.
func TestUnannouncedChange(t *testing.T) {
	r := newReplicas(t)
	tok, k := r.create(t)
	rec, err := r.mem.LookupKey(t.Context(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec.RevokedAt = time.Now()
	if err := r.mem.UpdateKey(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	r.marker(t)
	r.verifyB(t, tok, nil) // stale: cached for an hour
	if err := r.feedA.Publish(t.Context(), k.ID); err != nil {
		t.Fatal(err)
	}
	r.recB.wantID(t, k.ID)
	r.verifyB(t, tok, apikey.ErrRevoked)
}

// TestTouchKeysNotPublished: recording last use, which happens all the
// time and changes nothing that Verify checks, publishes nothing; nor does
// an UpdateKey that fails.
func TestTouchKeysNotPublished(t *testing.T) {
	r := newReplicas(t)
	tok, k := r.create(t)
	if _, err := r.a.Verify(t.Context(), tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	if err := r.a.Verifier().Flush(t.Context()); err != nil { // TouchKeys through the wrapper
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := r.wrapped.TouchKeys(t.Context(), map[string]time.Time{k.ID: later, "unknown_id": later}); err != nil {
		t.Fatal(err)
	}
	if got, err := r.mem.LookupKey(t.Context(), k.ID); err != nil || !got.LastUsedAt.Equal(later) {
		t.Fatalf("after TouchKeys: %v, %v; want LastUsedAt %v", got, err, later)
	}
	if err := r.wrapped.UpdateKey(t.Context(), &apikey.Key{ID: "unknown_id"}); !errors.Is(err, apikey.ErrNotFound) {
		t.Fatalf("UpdateKey of an unknown id = %v, want ErrNotFound", err)
	}
	r.marker(t)
	r.recB.noMore(t)
	if recs := r.logsA.all(); len(recs) != 0 {
		t.Errorf("log records %v, want none", recs)
	}
}

// TestStorePassThrough: the wrapper's other methods are the store's.
func TestStorePassThrough(t *testing.T) {
	r := newReplicas(t)
	_, k := r.create(t)
	keys, err := r.wrapped.ListKeys(t.Context(), apikey.ListFilter{})
	if err != nil || len(keys) != 1 || keys[0].ID != k.ID {
		t.Errorf("ListKeys = %v, %v; want the one key", keys, err)
	}
	if got, err := r.wrapped.LookupKey(t.Context(), k.ID); err != nil || got.ID != k.ID {
		t.Errorf("LookupKey = %v, %v", got, err)
	}
	if err := r.wrapped.CreateKey(t.Context(), k); !errors.Is(err, apikey.ErrConflict) {
		t.Errorf("CreateKey of an existing id = %v, want ErrConflict", err)
	}
	r.marker(t)
	r.recB.noMore(t)
}

// cancellingStore cancels the caller's context once UpdateKey is done, as
// a caller giving up just then would.
type cancellingStore struct {
	apikey.ManagedStore
	cancel context.CancelFunc
}

func (s cancellingStore) UpdateKey(ctx context.Context, k *apikey.Key) error {
	defer s.cancel()
	return s.ManagedStore.UpdateKey(ctx, k)
}

// TestPublishAfterCallerGaveUp: a change stored is announced, though the
// caller's context ends right after it is stored.
func TestPublishAfterCallerGaveUp(t *testing.T) {
	r := newReplicas(t)
	tok, k := r.create(t)
	ctx, cancel := context.WithCancel(t.Context())
	wrapped := r.feedA.Store(cancellingStore{r.mem, cancel})
	rec, err := r.mem.LookupKey(t.Context(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec.Disabled = true
	if err := wrapped.UpdateKey(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() == nil {
		t.Fatal("context not cancelled")
	}
	r.recB.wantID(t, k.ID)
	r.verifyB(t, tok, apikey.ErrDisabled)
	if recs := r.logsA.all(); len(recs) != 0 {
		t.Errorf("log records %v, want none", recs)
	}
}

// TestPublishFails: with Redis down, a change still stands and UpdateKey
// succeeds; the failure is logged, with the id.
func TestPublishFails(t *testing.T) {
	l := newLogs()
	f := newFeed(t, newClient(t, deadAddr(t)), redisfeed.Config{Logger: l.logger()})
	mem := &apikey.MemoryStore{}
	m, err := apikey.NewManager(f.Store(mem), apikey.ManagerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tok, k, err := m.Create(t.Context(), apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Test})
	if err != nil {
		t.Fatal(err)
	}
	if l.count(unpublishedMsg) != 0 {
		t.Fatal("CreateKey published")
	}
	if _, err := m.Revoke(t.Context(), k.ID); err != nil {
		t.Fatalf("Revoke with Redis down = %v, want nil", err)
	}
	if got, err := mem.LookupKey(t.Context(), k.ID); err != nil || got.RevokedAt.IsZero() {
		t.Fatalf("stored record %v, %v; want it revoked", got, err)
	}
	if _, err := m.Verify(t.Context(), tok.Reveal()); !errors.Is(err, apikey.ErrRevoked) {
		t.Errorf("Verify on the revoking replica = %v, want ErrRevoked", err)
	}
	r := l.wait(t, unpublishedMsg, 1)
	if r.level != slog.LevelWarn || r.attrs["id"] != k.ID || !strings.Contains(r.attrs["error"], "redisfeed: publish: ") ||
		r.attrs["channel"] != redisfeed.DefaultChannel {
		t.Errorf("record %v, want level WARN, the id, the channel and the error", r)
	}
}
