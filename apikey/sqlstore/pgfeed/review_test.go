package pgfeed_test

// Reviewer's tests of the change feed: announcements from sessions other
// than the store's own, the race between a notification and a look-up in
// flight, a change committed while the listener is reconnecting, a quiet
// (partitioned) connection, and leaks on cancel.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/sqlstore"
	"github.com/gatekey/gatekey/apikey/sqlstore/pgfeed"
	"github.com/gatekey/gatekey/internal/testserver"
)

// reviewSchemaOf returns the schema the table of db is in.
func reviewSchemaOf(t *testing.T, db *sql.DB) string {
	t.Helper()
	var s string
	if err := db.QueryRowContext(t.Context(), `SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass('gatekey_api_keys')`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func reviewNewKey(t *testing.T, mgr *apikey.Manager) apikey.Token {
	t.Helper()
	tok, _, err := mgr.Create(t.Context(), apikey.CreateParams{Name: "k", Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestReviewQualifiedChangeFromOtherSearchPath: an operator revokes or
// deletes a key by hand, naming the table with its schema, from a session
// whose search_path is the default (public). The change must commit and be
// announced, as the package doc promises for changes "by hand in SQL".
func TestReviewQualifiedChangeFromOtherSearchPath(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	dbs := replicaDBs(t, srv, 2)
	schema := reviewSchemaOf(t, dbs[0])
	_, mgr := newManager(t, dbs[0])
	r := newRecorder(nil)
	watch(t, dbs[1], r)
	r.wantAll(t)

	admin, err := sql.Open("pgx", srv.DSN()) // default search_path
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	table := quoteIdent(schema) + ".gatekey_api_keys"
	for _, stmt := range []string{
		"UPDATE " + table + " SET revoked_at = now() WHERE id = $1",
		"DELETE FROM " + table + " WHERE id = $1",
	} {
		t.Run(strings.Fields(stmt)[0], func(t *testing.T) {
			tok := reviewNewKey(t, mgr)
			if _, err := admin.ExecContext(t.Context(), stmt, tok.ID()); err != nil {
				t.Fatalf("%s from search_path=public: %v", stmt, err)
			}
			r.wantID(t, tok.ID())
		})
	}
}

// TestReviewIDChangeAnnouncesOldID: an UPDATE by hand that changes a
// record's id makes the old id unknown, so the old id is what replicas
// must drop; the trigger announces only NEW.id.
func TestReviewIDChangeAnnouncesOldID(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	dbs := replicaDBs(t, srv, 2)
	_, mgr := newManager(t, dbs[0])
	r := newRecorder(nil)
	watch(t, dbs[1], r)
	r.wantAll(t)
	tok := reviewNewKey(t, mgr)
	if _, err := dbs[0].ExecContext(t.Context(), "UPDATE gatekey_api_keys SET id = 'ZZZZZZZZZZZZ' WHERE id = $1", tok.ID()); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case id := <-r.ids:
			got[id] = true
		case <-time.After(3 * time.Second):
			if !got[tok.ID()] {
				t.Fatalf("id changed by UPDATE: announced %v, never the old id %s (still cached as valid on other replicas)", keys(got), tok.ID())
			}
			return
		}
	}
}

func keys(m map[string]bool) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	return s
}

// TestReviewTruncateAnnounced: TRUNCATE removes every record, and no row
// trigger fires for it.
func TestReviewTruncateAnnounced(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	dbs := replicaDBs(t, srv, 2)
	_, mgr := newManager(t, dbs[0])
	storeB, _ := sqlstore.New(dbs[1], sqlstore.Postgres)
	verB, err := apikey.NewVerifier(storeB, apikey.VerifierConfig{CacheTTL: time.Hour, LastUsedInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer verB.Close()
	r := newRecorder(verB)
	watch(t, dbs[1], r)
	r.wantAll(t)
	tok := reviewNewKey(t, mgr)
	if _, err := verB.Verify(t.Context(), tok.Reveal()); err != nil {
		t.Fatal(err)
	}
	if _, err := dbs[0].ExecContext(t.Context(), "TRUNCATE gatekey_api_keys"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.ids:
	case <-r.alls:
	case <-time.After(3 * time.Second):
	}
	if _, err := verB.Verify(t.Context(), tok.Reveal()); err == nil {
		t.Errorf("B after TRUNCATE on A: Verify = nil, want ErrInvalidKey (nothing announced; B keeps the record for its CacheTTL)")
	}
}

// gatedStore reads the record, then, while armed, waits for release
// before returning it: a look-up that read the row before a change and
// answers after the change was announced.
type gatedStore struct {
	apikey.Store
	mu      sync.Mutex
	armed   bool
	read    chan struct{} // closed once an armed look-up has read the row
	release chan struct{}
}

func (g *gatedStore) arm() {
	g.mu.Lock()
	g.armed, g.read, g.release = true, make(chan struct{}), make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedStore) LookupKey(ctx context.Context, id string) (*apikey.Key, error) {
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

// TestReviewInFlightLookupVsNotification: B's look-up reads the record,
// A revokes, B hears of it, then B's look-up answers with the record read
// before the revocation. That answer must not be cached.
func TestReviewInFlightLookupVsNotification(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	dbs := replicaDBs(t, srv, 2)
	storeA, _ := sqlstore.New(dbs[0], sqlstore.Postgres)
	storeB, _ := sqlstore.New(dbs[1], sqlstore.Postgres)
	mgrA, err := apikey.NewManager(storeA, apikey.ManagerConfig{Verifier: apikey.VerifierConfig{LastUsedInterval: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer mgrA.Close()
	g := &gatedStore{Store: storeB}
	verB, err := apikey.NewVerifier(g, apikey.VerifierConfig{CacheTTL: time.Hour, LastUsedInterval: -1, LookupTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer verB.Close()
	r := newRecorder(verB)
	watch(t, dbs[1], r)
	r.wantAll(t)
	ctx := t.Context()
	tok := reviewNewKey(t, mgrA)

	g.arm()
	first := make(chan error, 1)
	go func() { _, err := verB.Verify(ctx, tok.Reveal()); first <- err }()
	<-g.read
	if _, err := mgrA.Revoke(ctx, tok.ID()); err != nil {
		t.Fatal(err)
	}
	r.wantID(t, tok.ID())
	close(g.release)
	<-first // the stale answer, to the caller who asked before the change: allowed
	if _, err := verB.Verify(ctx, tok.Reveal()); !errors.Is(err, apikey.ErrRevoked) {
		t.Errorf("B after hearing of the revocation: Verify = %v, want ErrRevoked (stale look-up re-cached)", err)
	}
}

// TestReviewChangeWhileReconnecting: the listening connection dies, a key
// is revoked before Watch listens again (Watch is kept from the pool's only
// connection meanwhile), and a look-up of that key read the row before the
// revocation and answers after Watch listens again. B must refuse the key.
func TestReviewChangeWhileReconnecting(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	dbs := replicaDBs(t, srv, 3)
	storeA, _ := sqlstore.New(dbs[0], sqlstore.Postgres)
	storeB, _ := sqlstore.New(dbs[1], sqlstore.Postgres)
	mgrA, err := apikey.NewManager(storeA, apikey.ManagerConfig{Verifier: apikey.VerifierConfig{LastUsedInterval: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer mgrA.Close()
	g := &gatedStore{Store: storeB}
	verB, err := apikey.NewVerifier(g, apikey.VerifierConfig{CacheTTL: time.Hour, LastUsedInterval: -1, LookupTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer verB.Close()
	feedDB := dbs[2]
	feedDB.SetMaxOpenConns(1)
	r := newRecorder(verB)
	watch(t, feedDB, r)
	r.wantAll(t)
	ctx := t.Context()
	cached := reviewNewKey(t, mgrA) // cached on B before the outage
	inflight := reviewNewKey(t, mgrA)
	if _, err := verB.Verify(ctx, cached.Reveal()); err != nil {
		t.Fatal(err)
	}

	g.arm()
	first := make(chan error, 1)
	go func() { _, err := verB.Verify(ctx, inflight.Reveal()); first <- err }()
	<-g.read

	// Queue for the feed's pool before its connection dies, so that we get
	// the next one and Watch waits.
	held := make(chan *sql.Conn, 1)
	go func() {
		c, err := feedDB.Conn(ctx)
		if err != nil {
			t.Error(err)
		}
		held <- c
	}()
	if _, err := dbs[0].ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE query = 'LISTEN "' || $1 || '.gatekey_api_keys"' AND pid <> pg_backend_pid()`, reviewSchemaOf(t, dbs[0])); err != nil {
		t.Fatal(err)
	}
	c := <-held
	for _, id := range []string{cached.ID(), inflight.ID()} {
		if _, err := mgrA.Revoke(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	r.wantAll(t) // listening again
	close(g.release)
	<-first
	for _, tok := range []apikey.Token{cached, inflight} {
		if _, err := verB.Verify(ctx, tok.Reveal()); !errors.Is(err, apikey.ErrRevoked) {
			t.Errorf("B, key %s revoked while its feed reconnected: Verify = %v, want ErrRevoked", tok.ID(), err)
		}
	}
}

// TestReviewSchemaNames: identifiers that need quoting, and lengths around
// the channel limit, announce and are heard.
func TestReviewSchemaNames(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	n := schemas.Add(1)
	for _, name := range []string{
		fmt.Sprintf(`Odd"Na.me_%d`, n),
		fmt.Sprintf("s%d_", n) + strings.Repeat("a", 46-len(fmt.Sprintf("s%d_", n))),   // 46 bytes: a channel of 63
		fmt.Sprintf("s%d_", n) + strings.Repeat("b", 47-len(fmt.Sprintf("s%d_", n))),   // 47 bytes: md5
		fmt.Sprintf("s%d_é", n) + strings.Repeat("c", 63-len(fmt.Sprintf("s%d_é", n))), // 63 bytes, multibyte
	} {
		t.Run(fmt.Sprintf("%d bytes", len(name)), func(t *testing.T) {
			dbs := replicaDBsIn(t, srv, 2, name)
			_, mgr := newManager(t, dbs[0])
			r := newRecorder(nil)
			watch(t, dbs[1], r)
			r.wantAll(t)
			tok := reviewNewKey(t, mgr)
			if _, err := mgr.Disable(t.Context(), tok.ID()); err != nil {
				t.Fatalf("Disable in schema %q: %v", name, err)
			}
			r.wantID(t, tok.ID())
		})
	}
}

// TestReviewUpgrade: a table made before announcements (only its CREATE
// TABLE) gets them from ApplySchema, whose concurrent runs all succeed,
// and Watch, refused before, works after.
func TestReviewUpgrade(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	schema := fmt.Sprintf("upg%d", schemas.Add(1))
	admin, err := sql.Open("pgx", srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	full := sqlstore.Schema(sqlstore.Postgres)
	old := full[:strings.Index(full, "CREATE OR REPLACE FUNCTION")]
	var dbs []*sql.DB
	for range 6 {
		db, err := sql.Open("pgx", srv.DSN("search_path="+url.QueryEscape(schema)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	if _, err := dbs[0].ExecContext(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	// A replica whose feed starts before the migration says why it is not
	// listening, and keeps trying.
	logs := &logLines{added: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- pgfeed.Watch(ctx, dbs[0], newRecorder(nil), pgfeed.Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	}()
	logs.waitFor(t, "has no change announcements")
	cancel()
	if err := <-watchDone; err != nil {
		t.Fatalf("Watch on a table without announcements, cancelled: %v, want nil", err)
	}
	var wg sync.WaitGroup
	for _, db := range dbs {
		wg.Go(func() {
			if err := sqlstore.ApplySchema(t.Context(), db, sqlstore.Postgres); err != nil {
				t.Errorf("concurrent ApplySchema over an old table: %v", err)
			}
		})
	}
	wg.Wait()
	var triggers int
	if err := dbs[0].QueryRowContext(t.Context(), "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'gatekey_api_keys'::regclass AND NOT tgisinternal").Scan(&triggers); err != nil {
		t.Fatal(err)
	}
	if triggers != 3 {
		t.Errorf("%d triggers after 6 concurrent ApplySchema, want 3", triggers)
	}
	_, mgr := newManager(t, dbs[0])
	r := newRecorder(nil)
	watch(t, dbs[1], r)
	r.wantAll(t)
	tok := reviewNewKey(t, mgr)
	if _, err := mgr.Revoke(t.Context(), tok.ID()); err != nil {
		t.Fatal(err)
	}
	r.wantID(t, tok.ID())
}

// TestReviewCancelReleases: cancelling Watch gives its connection back and
// stops its goroutines, also while it waits for a connection of a full
// pool.
func TestReviewCancelReleases(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	dbs := replicaDBs(t, srv, 1)
	db := dbs[0]
	db.SetMaxOpenConns(1)
	before := runtime.NumGoroutine()
	for round := range 2 {
		var hold *sql.Conn
		if round == 1 { // pool full: Watch waits in db.Conn
			var err error
			if hold, err = db.Conn(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		r := newRecorder(nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- pgfeed.Watch(ctx, db, r, pgfeed.Config{Logger: slog.New(slog.DiscardHandler)}) }()
		if round == 0 {
			r.wantAll(t)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: Watch = %v after cancel", round, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: Watch still running 5s after cancel", round)
		}
		if hold != nil {
			hold.Close()
		}
		if s := db.Stats(); s.InUse != 0 {
			t.Errorf("round %d: %d connections in use after Watch returned", round, s.InUse)
		}
		qctx, qcancel := context.WithTimeout(t.Context(), 5*time.Second)
		if err := db.PingContext(qctx); err != nil {
			t.Errorf("round %d: pool unusable after Watch returned: %v", round, err)
		}
		qcancel()
	}
	db.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("%d goroutines after Watch returned and the pool closed, %d before", n, before)
	}
}

// blackhole is a TCP proxy to PostgreSQL that can stop forwarding without
// closing anything: a network partition, or a hung server.
type blackhole struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newBlackhole(t *testing.T, target string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, target: target}
	go b.serve()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
	})
	return b
}

func (b *blackhole) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", b.target)
		if err != nil {
			c.Close()
			continue
		}
		b.mu.Lock()
		b.conns = append(b.conns, c, u)
		b.mu.Unlock()
		go b.pipe(c, u)
		go b.pipe(u, c)
	}
}

func (b *blackhole) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			b.mu.Lock()
			cut := b.cut
			b.mu.Unlock()
			if cut { // never forwarded, until closed at cleanup
				io.Copy(io.Discard, src)
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (b *blackhole) partition() {
	b.mu.Lock()
	b.cut = true
	b.mu.Unlock()
}

// TestReviewPartitionLogged: the listening connection goes quiet (a network
// partition, a hung server): nothing arrives, nothing fails. The contract
// says a lost feed is logged (redisfeed notices the same with a PING within
// about 6 s); pgfeed waits for a notification forever.
func TestReviewPartitionLogged(t *testing.T) {
	srv := testserver.SharedPostgres(t)
	dbs := replicaDBs(t, srv, 1)
	schema := reviewSchemaOf(t, dbs[0])
	u, _ := url.Parse(srv.DSN("search_path=" + url.QueryEscape(quoteIdent(schema))))
	bh := newBlackhole(t, u.Host)
	u.Host = bh.ln.Addr().String()
	feedDB, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { feedDB.Close() })
	r := newRecorder(nil)
	logs := &logLines{added: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- pgfeed.Watch(ctx, feedDB, r, pgfeed.Config{Logger: slog.New(slog.NewTextHandler(logs, nil)), MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Watch still running 10s after cancel, on a partitioned connection")
		}
	}()
	r.wantAll(t)
	bh.partition()
	_, mgr := newManager(t, dbs[0])
	tok := reviewNewKey(t, mgr)
	if _, err := mgr.Revoke(t.Context(), tok.ID()); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(15 * time.Second)
	for logs.count("key change feed lost") == 0 {
		select {
		case <-logs.added:
		case id := <-r.ids:
			t.Fatalf("Invalidate(%s) through a partitioned connection", id)
		case <-deadline:
			logs.mu.Lock()
			lines := append([]string(nil), logs.lines...)
			logs.mu.Unlock()
			t.Fatalf("feed partitioned for 15s (a revocation missed meanwhile): no \"key change feed lost\" line; logs: %q", lines)
		}
	}
}
