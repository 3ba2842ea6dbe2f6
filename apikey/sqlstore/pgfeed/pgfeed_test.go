package pgfeed_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/sqlstore"
	"github.com/gatekey/gatekey/apikey/sqlstore/pgfeed"
	"github.com/gatekey/gatekey/internal/testserver"
	_ "github.com/jackc/pgx/v5/stdlib"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testserver.CloseShared()
	os.Exit(code)
}

var schemas atomic.Int64

// replicaDBs returns n pools on one new schema of srv, with the store's
// schema applied: n replicas sharing one database.
func replicaDBs(t *testing.T, srv *testserver.Postgres, n int) []*sql.DB {
	t.Helper()
	return replicaDBsIn(t, srv, n, fmt.Sprintf("feed%d", schemas.Add(1)))
}

// replicaDBsIn is replicaDBs in the schema of the given name.
func replicaDBsIn(t *testing.T, srv *testserver.Postgres, n int, schema string) []*sql.DB {
	t.Helper()
	admin, err := sql.Open("pgx", srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// An identifier made by the test, never a value.
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+quoteIdent(schema)); err != nil {
		t.Fatal(err)
	}
	dbs := make([]*sql.DB, n)
	for i := range dbs {
		db, err := sql.Open("pgx", srv.DSN("search_path="+url.QueryEscape(quoteIdent(schema))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	if err := sqlstore.ApplySchema(t.Context(), dbs[0], sqlstore.Postgres); err != nil {
		t.Fatal(err)
	}
	return dbs
}

// newManager returns a store and a Manager on db (a replica), the Manager
// closed when the test ends.
func newManager(t *testing.T, db *sql.DB) (*sqlstore.Store, *apikey.Manager) {
	t.Helper()
	store, err := sqlstore.New(db, sqlstore.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := apikey.NewManager(store, apikey.ManagerConfig{Verifier: apikey.VerifierConfig{LastUsedInterval: -1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() })
	return store, mgr
}

// recorder is an Invalidator that passes calls on to a Verifier and
// reports them on channels.
type recorder struct {
	v    *apikey.Verifier
	ids  chan string
	alls chan struct{}
}

func newRecorder(v *apikey.Verifier) *recorder {
	return &recorder{v: v, ids: make(chan string, 100), alls: make(chan struct{}, 100)}
}

func (r *recorder) Invalidate(id string) {
	if r.v != nil {
		r.v.Invalidate(id)
	}
	r.ids <- id
}

func (r *recorder) InvalidateAll() {
	if r.v != nil {
		r.v.InvalidateAll()
	}
	r.alls <- struct{}{}
}

func (r *recorder) wantAll(t *testing.T) {
	t.Helper()
	select {
	case <-r.alls:
	case <-time.After(10 * time.Second):
		t.Fatal("no InvalidateAll within 10s")
	}
}

func (r *recorder) wantID(t *testing.T, want string) {
	t.Helper()
	select {
	case id := <-r.ids:
		if id != want {
			t.Fatalf("Invalidate(%q), want Invalidate(%q)", id, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no Invalidate(%q) within 10s", want)
	}
}

// logLines is a slog handler's output, readable while written.
type logLines struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.lines = append(l.lines, string(p))
	l.mu.Unlock()
	select {
	case l.added <- struct{}{}:
	default:
	}
	return len(p), nil
}

// waitFor waits until a line contains s.
func (l *logLines) waitFor(t *testing.T, s string) {
	t.Helper()
	l.waitForN(t, s, 1)
}

// waitForN waits until n lines contain s.
func (l *logLines) waitForN(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for l.count(s) < n {
		select {
		case <-l.added:
		case <-deadline:
			t.Fatalf("%d log lines with %q within 20s, want %d", l.count(s), s, n)
		}
	}
}

func (l *logLines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// watch runs Watch on db with r until the test ends.
func watch(t *testing.T, db *sql.DB, r *recorder) *logLines {
	t.Helper()
	logs := &logLines{added: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- pgfeed.Watch(ctx, db, r, pgfeed.Config{Logger: slog.New(slog.NewTextHandler(logs, nil)), MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch returned %v after its context was cancelled, want nil", err)
		}
	})
	return logs
}

// TestRevocationReachesReplica: replica A revokes, disables, rolls; replica
// B, whose cache would keep the record for an hour, hears of each and
// refuses the key.
func TestRevocationReachesReplica(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	dbs := replicaDBs(t, srv, 2)
	storeA, _ := sqlstore.New(dbs[0], sqlstore.Postgres)
	storeB, _ := sqlstore.New(dbs[1], sqlstore.Postgres)
	mgrA, err := apikey.NewManager(storeA, apikey.ManagerConfig{Verifier: apikey.VerifierConfig{LastUsedInterval: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer mgrA.Close()
	verB, err := apikey.NewVerifier(storeB, apikey.VerifierConfig{CacheTTL: time.Hour, LastUsedInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer verB.Close()
	r := newRecorder(verB)
	watch(t, dbs[1], r)
	r.wantAll(t) // the first subscription drops the (empty) cache

	ctx := t.Context()
	newKey := func() apikey.Token {
		tok, _, err := mgrA.Create(ctx, apikey.CreateParams{Name: "k", Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verB.Verify(ctx, tok.Reveal()); err != nil {
			t.Fatalf("B: Verify of a new key = %v", err)
		}
		return tok
	}
	tests := []struct {
		name   string
		change func(id string) error
		want   error
	}{
		{"revoke", func(id string) error { _, err := mgrA.Revoke(ctx, id); return err }, apikey.ErrRevoked},
		{"disable", func(id string) error { _, err := mgrA.Disable(ctx, id); return err }, apikey.ErrDisabled},
		{"roll", func(id string) error { _, _, err := mgrA.Roll(ctx, id, apikey.RollParams{Grace: 0}); return err }, apikey.ErrExpired},
		{"delete in SQL", func(id string) error {
			_, err := dbs[0].ExecContext(ctx, "DELETE FROM gatekey_api_keys WHERE id = $1", id)
			return err
		}, apikey.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := newKey()
			if err := tt.change(tok.ID()); err != nil {
				t.Fatal(err)
			}
			r.wantID(t, tok.ID())
			if _, err := verB.Verify(ctx, tok.Reveal()); !errors.Is(err, tt.want) {
				t.Errorf("B after %s on A: Verify = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// TestOddSchemaNames: a schema whose name is about as long as PostgreSQL
// allows (a channel named after it would be too long) announces and is
// heard, and its changes still commit; so does one that fits.
func TestOddSchemaNames(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	for _, name := range []string{
		fmt.Sprintf("s%d_%s", schemas.Add(1), strings.Repeat("x", 55)),
		fmt.Sprintf("s%d_%s", schemas.Add(1), strings.Repeat("y", 40)),
	} {
		t.Run(fmt.Sprint(len(name)), func(t *testing.T) {
			dbs := replicaDBsIn(t, srv, 2, name)
			_, mgr := newManager(t, dbs[0])
			r := newRecorder(nil)
			watch(t, dbs[1], r)
			r.wantAll(t)
			tok, _, err := mgr.Create(t.Context(), apikey.CreateParams{Name: "k", Type: apikey.SecretKey, Environment: apikey.Live})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mgr.Revoke(t.Context(), tok.ID()); err != nil {
				t.Fatalf("Revoke in schema %q: %v", name, err)
			}
			r.wantID(t, tok.ID())
		})
	}
}

// TestLastUseAnnouncesNothing: batched last-use writes are not changes.
func TestLastUseAnnouncesNothing(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	dbs := replicaDBs(t, srv, 2)
	store, mgr := newManager(t, dbs[0])
	r := newRecorder(nil)
	watch(t, dbs[1], r)
	r.wantAll(t)
	ctx := t.Context()
	tok, _, _ := mgr.Create(ctx, apikey.CreateParams{Name: "used", Type: apikey.SecretKey, Environment: apikey.Live})
	marker, _, _ := mgr.Create(ctx, apikey.CreateParams{Name: "marker", Type: apikey.SecretKey, Environment: apikey.Live})
	if err := store.TouchKeys(ctx, map[string]time.Time{tok.ID(): time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.Revoke(ctx, marker.ID()); err != nil {
		t.Fatal(err)
	}
	r.wantID(t, marker.ID())                                // announcements arrive in commit order: the touch made none
	if _, err := mgr.Revoke(ctx, marker.ID()); err != nil { // revoked already: no change
		t.Fatal(err)
	}
	if _, err := mgr.Disable(ctx, tok.ID()); err != nil {
		t.Fatal(err)
	}
	r.wantID(t, tok.ID())
}

// TestFeedLost: when the listening connection dies, Watch says so once,
// listens again, drops the whole cache, and goes on.
func TestFeedLost(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	dbs := replicaDBs(t, srv, 2)
	_, mgr := newManager(t, dbs[0])
	r := newRecorder(nil)
	logs := watch(t, dbs[1], r)
	r.wantAll(t)
	logs.waitFor(t, "key change feed subscribed")

	// Kill the listening backend from another session, twice.
	for round := range 2 {
		res, err := dbs[0].ExecContext(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid() AND datname = current_database()`)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n < 1 {
			t.Fatalf("round %d: no listening backend to terminate", round)
		}
		r.wantAll(t) // listening again, with the cache dropped
	}
	logs.waitFor(t, "key change feed lost")
	logs.waitForN(t, "key change feed subscribed", 3) // at the start and after each loss
	ctx := t.Context()
	tok, _, _ := mgr.Create(ctx, apikey.CreateParams{Name: "after", Type: apikey.SecretKey, Environment: apikey.Live})
	if _, err := mgr.Revoke(ctx, tok.ID()); err != nil {
		t.Fatal(err)
	}
	r.wantID(t, tok.ID())
}

// TestWatchRefuses: no table yet: Watch says so and keeps trying (the
// replica may have started before its migration); nil arguments: an
// error at once.
func TestWatchRefuses(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	db, err := sql.Open("pgx", srv.DSN("search_path=nosuchschema"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	logs := watch(t, db, newRecorder(nil))
	logs.waitFor(t, "no gatekey_api_keys table")
	if err := pgfeed.Watch(t.Context(), nil, nil, pgfeed.Config{}); err == nil {
		t.Error("Watch(nil, nil) = nil")
	}
}
