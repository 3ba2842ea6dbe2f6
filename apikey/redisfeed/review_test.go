//go:build unix

package redisfeed_test

// Reviewer's tests: a look-up in flight when its key's change is heard,
// a change whose UpdateKey reports an error though it was stored, and a
// change made while Redis is down.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/redisfeed"
	"github.com/gatekey/gatekey/internal/testserver"
)

// gatedLookups reads a record, then, while armed, waits for release before
// returning it.
type gatedLookups struct {
	apikey.Store
	mu      sync.Mutex
	armed   bool
	read    chan struct{}
	release chan struct{}
}

func (g *gatedLookups) arm() {
	g.mu.Lock()
	g.armed, g.read, g.release = true, make(chan struct{}), make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedLookups) LookupKey(ctx context.Context, id string) (*apikey.Key, error) {
	k, err := g.Store.LookupKey(ctx, id)
	g.mu.Lock()
	armed, read, release := g.armed, g.read, g.release
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(read)
		<-release
	}
	return k, err
}

// TestReviewInFlightLookupVsPublish: B reads the record, A revokes through
// the wrapper, B hears of it, then B's look-up answers with what it read
// before: that must not be cached.
func TestReviewInFlightLookupVsPublish(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	ch := uniqueChannel()
	mem := &apikey.MemoryStore{}
	feedA := newFeed(t, newClient(t, addr), redisfeed.Config{Channel: ch, Logger: newLogs().logger()})
	a, err := apikey.NewManager(feedA.Store(mem), apikey.ManagerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	g := &gatedLookups{Store: mem}
	b, err := apikey.NewVerifier(g, apikey.VerifierConfig{CacheTTL: time.Hour, LookupTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec := newRecorder(b)
	watch(t, newFeed(t, newClient(t, addr), redisfeed.Config{Channel: ch, Logger: newLogs().logger()}), rec)
	rec.wantAll(t)
	ctx := t.Context()
	tok, k, err := a.Create(ctx, apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live})
	if err != nil {
		t.Fatal(err)
	}
	g.arm()
	first := make(chan error, 1)
	go func() { _, err := b.Verify(ctx, tok.Reveal()); first <- err }()
	<-g.read
	if _, err := a.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	rec.wantID(t, k.ID)
	close(g.release)
	<-first
	if _, err := b.Verify(ctx, tok.Reveal()); !errors.Is(err, apikey.ErrRevoked) {
		t.Errorf("B after hearing of the revocation: Verify = %v, want ErrRevoked", err)
	}
}

// committedButFailed stores every UpdateKey and then reports a failure,
// as a SQL store does when the connection breaks after COMMIT, or the
// caller's context ends while the driver waits for the answer.
type committedButFailed struct {
	*apikey.MemoryStore
	fail bool
}

func (s *committedButFailed) UpdateKey(ctx context.Context, k *apikey.Key) error {
	if err := s.MemoryStore.UpdateKey(ctx, k); err != nil {
		return err
	}
	if s.fail {
		return context.DeadlineExceeded
	}
	return nil
}

// TestReviewAmbiguousUpdateError: UpdateKey returned an error, but the
// change was stored (the record is the truth). Nothing is published, so B
// keeps honouring the revoked key for its CacheTTL, an hour here. A
// message is only a hint: publishing after any error but ErrNotFound
// costs one store read per replica.
func TestReviewAmbiguousUpdateError(t *testing.T) {
	addr := testserver.SharedRedis(t).Addr()
	ch := uniqueChannel()
	s := &committedButFailed{MemoryStore: &apikey.MemoryStore{}}
	feedA := newFeed(t, newClient(t, addr), redisfeed.Config{Channel: ch, Logger: newLogs().logger()})
	a, err := apikey.NewManager(feedA.Store(s), apikey.ManagerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := apikey.NewVerifier(s.MemoryStore, apikey.VerifierConfig{CacheTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec := newRecorder(b)
	watch(t, newFeed(t, newClient(t, addr), redisfeed.Config{Channel: ch, Logger: newLogs().logger()}), rec)
	rec.wantAll(t)
	ctx := t.Context()
	tok, k, err := a.Create(ctx, apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(ctx, tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	s.fail = true
	if _, err := a.Revoke(ctx, k.ID); err == nil {
		t.Fatal("Revoke = nil, want the store's error")
	}
	if _, err := a.Verify(ctx, tok.Reveal()); !errors.Is(err, apikey.ErrRevoked) {
		t.Fatalf("A: Verify = %v, want ErrRevoked (the change was stored)", err)
	}
	if err := feedA.Publish(ctx, "marker_1"); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-rec.ids:
		if id != k.ID {
			t.Errorf("B heard %q first: the revocation that was stored but reported failed was never published; B accepts the revoked key for its CacheTTL", id)
		}
	case <-time.After(waitFor):
		t.Fatal("nothing heard")
	}
	if _, err := b.Verify(ctx, tok.Reveal()); !errors.Is(err, apikey.ErrRevoked) {
		t.Errorf("B: Verify = %v, want ErrRevoked", err)
	}
}

// TestReviewChangeDuringOutage: Redis is down while A revokes (the publish
// fails and is logged); when Redis is back B subscribes again, drops its
// cache and refuses the key.
func TestReviewChangeDuringOutage(t *testing.T) {
	srv := testserver.StartRedis(t)
	ch := uniqueChannel()
	mem := &apikey.MemoryStore{}
	logsA := newLogs()
	feedA := newFeed(t, newClient(t, srv.Addr()), redisfeed.Config{Channel: ch, Logger: logsA.logger()})
	a, err := apikey.NewManager(feedA.Store(mem), apikey.ManagerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := apikey.NewVerifier(mem, apikey.VerifierConfig{CacheTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec := newRecorder(b)
	logsB := newLogs()
	watch(t, newFeed(t, newClient(t, srv.Addr()), redisfeed.Config{Channel: ch, Logger: logsB.logger()}), rec)
	rec.wantAll(t)
	ctx := t.Context()
	tok, k, err := a.Create(ctx, apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Live})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(ctx, tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	logsB.wait(t, lostMsg, 1)
	if _, err := a.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	logsA.wait(t, unpublishedMsg, 1)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	rec.wantAll(t)
	if _, err := b.Verify(ctx, tok.Reveal()); !errors.Is(err, apikey.ErrRevoked) {
		t.Errorf("B after Redis came back: Verify = %v, want ErrRevoked", err)
	}
	logsA.mustNotContain(t, tok.Reveal())
	logsB.mustNotContain(t, tok.Reveal())
}
