package sqlstore_test

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/idempotency/idempotencystoretest"
	"github.com/gatekey/gatekey/idempotency/sqlstore"
	"github.com/gatekey/gatekey/internal/testserver"
	_ "modernc.org/sqlite"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testserver.CloseShared()
	os.Exit(code)
}

// sqliteDSN is the recommended SQLite configuration (see the package doc).
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
}

// sqliteDB returns a pool on a new SQLite database file.
func sqliteDB(t testing.TB) *sql.DB {
	t.Helper()
	return openSQLite(t, sqliteDSN(filepath.Join(t.TempDir(), "idem.db")))
}

// memoryDSN returns the name of a new in-memory SQLite database that every
// connection of the process shares (the memdb VFS, with the locking of a
// file, unlike a shared cache).
func memoryDSN() string {
	return "file:/" + rand.Text() + "?vfs=memdb&_pragma=busy_timeout(10000)"
}

// sqliteMemoryDB returns a pool on a new in-memory SQLite database.
func sqliteMemoryDB(t testing.TB) *sql.DB {
	t.Helper()
	return openSQLite(t, memoryDSN())
}

func openSQLite(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// databases are the databases every test runs against. open returns a
// pool on a new, empty database (or schema); require skips the test (fails
// it in CI) when the database cannot be run here.
var databases = []struct {
	name    string
	d       sqlstore.Dialect
	open    func(testing.TB) *sql.DB
	require func(testing.TB)
}{
	{"sqlite", sqlstore.SQLite, sqliteDB, func(testing.TB) {}},
	{"sqlite-memory", sqlstore.SQLite, sqliteMemoryDB, func(testing.TB) {}},
	{"postgres", sqlstore.Postgres, postgresDB, testserver.RequirePostgres},
}

// newStore returns a Store on db and applies its schema.
func newStore(t testing.TB, db *sql.DB, d sqlstore.Dialect, cfg sqlstore.Config) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(db, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ApplySchema(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// eachDatabase runs f as a subtest per database, with a new, empty one.
func eachDatabase(t *testing.T, f func(t *testing.T, db *sql.DB, d sqlstore.Dialect)) {
	for _, dc := range databases {
		t.Run(dc.name, func(t *testing.T) {
			dc.require(t)
			f(t, dc.open(t), dc.d)
		})
	}
}

func TestConformance(t *testing.T) {
	for _, dc := range databases {
		t.Run(dc.name, func(t *testing.T) {
			dc.require(t)
			idempotencystoretest.Run(t, func(t *testing.T, now func() time.Time) idempotency.Store {
				return newStore(t, dc.open(t), dc.d, sqlstore.Config{Now: now, Timeout: 10 * time.Second})
			})
		})
	}
}

// clock is a fake clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *clock { return &clock{t: time.Date(2030, 2, 10, 6, 0, 0, 0, time.UTC)} }

func fingerprint(s string) idempotency.Fingerprint {
	var f idempotency.Fingerprint
	copy(f[:], s)
	f[31] = byte(len(s))
	return f
}

var created = &idempotency.Answer{
	Status: http.StatusCreated,
	Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/v1/monitors/mon_1"}},
	Body:   []byte(`{"id":"mon_1"}`),
}

// answerOfSize returns an answer whose encoding is n bytes long.
func answerOfSize(t *testing.T, n int) *idempotency.Answer {
	t.Helper()
	for body := n; body >= 0; body-- {
		a := &idempotency.Answer{Status: 200, Body: make([]byte, body)}
		if enc, err := a.MarshalBinary(); err == nil && len(enc) == n {
			return a
		}
	}
	t.Fatalf("no answer encodes in %d bytes", n)
	return nil
}

func sameAnswer(a, b *idempotency.Answer) bool {
	ea, err1 := a.MarshalBinary()
	eb, err2 := b.MarshalBinary()
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}

// TestRows checks the row a claim and a finish write: the columns of the
// schema, the token as the int64 of its bits, times in microseconds.
func TestRows(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		c := newClock()
		s := newStore(t, db, d, sqlstore.Config{Now: c.Now})
		ctx := t.Context()
		fp := fingerprint("POST /v1/monitors")
		const token = 1<<64 - 1 // the largest: tokens are whole uint64s
		wantRow := func(what string, until time.Time, answer *idempotency.Answer) {
			t.Helper()
			var gotFP, gotAnswer []byte
			var tok, untilUS int64
			err := db.QueryRowContext(ctx, "SELECT fingerprint, token, until_us, answer FROM gatekey_idempotency WHERE account = $1 AND key = $2",
				[]byte("acct_1"), []byte("k1")).Scan(&gotFP, &tok, &untilUS, &gotAnswer)
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			if answer != nil {
				want, _ = answer.MarshalBinary()
			}
			if !bytes.Equal(gotFP, fp[:]) || tok != -1 || untilUS != until.UnixMicro() || !bytes.Equal(gotAnswer, want) || (answer == nil) != (gotAnswer == nil) {
				t.Errorf("%s: row (%x, %d, %d, %.20q), want (%x, -1, %d, %.20q)", what, gotFP, tok, untilUS, gotAnswer, fp, until.UnixMicro(), want)
			}
		}
		if _, ok, err := s.Begin(ctx, "acct_1", "k1", fp, token, 90*time.Second); err != nil || !ok {
			t.Fatalf("Begin = %v, %v", ok, err)
		}
		wantRow("claimed", c.Now().Add(90*time.Second), nil)
		c.Advance(time.Second)
		if ok, err := s.Finish(ctx, "acct_1", "k1", token, created, 24*time.Hour); err != nil || !ok {
			t.Fatalf("Finish = %v, %v", ok, err)
		}
		wantRow("finished", c.Now().Add(24*time.Hour), created)
	})
}

// TestDatabaseClock checks that without Config.Now, PostgreSQL measures
// locks and retentions by its own clock (here the same machine's).
func TestDatabaseClock(t *testing.T) {
	testserver.RequirePostgres(t)
	db := postgresDB(t)
	s := newStore(t, db, sqlstore.Postgres, sqlstore.Config{})
	ctx := t.Context()
	fp := fingerprint("POST /v1/monitors")
	before := time.Now()
	if _, ok, err := s.Begin(ctx, "acct", "k", fp, 7, time.Hour); err != nil || !ok {
		t.Fatalf("Begin = %v, %v", ok, err)
	}
	after := time.Now()
	var v int64
	if err := db.QueryRowContext(ctx, "SELECT until_us FROM gatekey_idempotency").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if until := time.UnixMicro(v); until.Before(before.Add(time.Hour).Add(-time.Second)) || until.After(after.Add(time.Hour).Add(time.Second)) {
		t.Errorf("until = %v, want about an hour from now (%v)", until, before.Add(time.Hour))
	}
	if rec, ok, err := s.Begin(ctx, "acct", "k", fp, 8, time.Hour); err != nil || ok || rec.Fingerprint != fp {
		t.Errorf("second Begin = %+v, %v, %v; want the claim held", rec, ok, err)
	}
	// A lock of 0 ends as it starts, by the server's clock: the key is
	// free for the next Begin.
	for tok := range uint64(3) {
		if _, ok, err := s.Begin(ctx, "acct", "zero", fp, 100+tok, 0); err != nil || !ok {
			t.Errorf("Begin #%d of a key locked for 0 = %v, %v; want it claimed", tok, ok, err)
		}
	}
	if ok, err := s.Finish(ctx, "acct", "k", 7, created, time.Hour); err != nil || !ok {
		t.Fatalf("Finish = %v, %v", ok, err)
	}
	if rec, ok, err := s.Begin(ctx, "acct", "k", fp, 9, time.Hour); err != nil || ok || rec.Answer == nil || !sameAnswer(rec.Answer, created) {
		t.Errorf("Begin after Finish = %+v, %v, %v; want the answer", rec, ok, err)
	}
	if n, err := s.Prune(ctx); err != nil || n != 1 {
		t.Errorf("Prune = %d, %v; want 1 (the key locked for 0)", n, err)
	}
}

// TestBeginRetry checks that a Begin with the token holding the claim (a
// retry of the Begin that claimed) claims again, and that once the
// answer is kept it does not.
func TestBeginRetry(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		s := newStore(t, db, d, sqlstore.Config{Now: newClock().Now})
		ctx := t.Context()
		fp := fingerprint("POST /v1/monitors")
		for i := range 2 {
			if _, ok, err := s.Begin(ctx, "acct", "k", fp, 42, time.Minute); err != nil || !ok {
				t.Fatalf("Begin #%d with token 42 = %v, %v; want a claim", i, ok, err)
			}
		}
		if _, ok, err := s.Begin(ctx, "acct", "k", fp, 43, time.Minute); err != nil || ok {
			t.Fatalf("Begin with another token = %v, %v; want the key held", ok, err)
		}
		if ok, err := s.Finish(ctx, "acct", "k", 42, created, time.Hour); err != nil || !ok {
			t.Fatalf("Finish = %v, %v", ok, err)
		}
		if rec, ok, err := s.Begin(ctx, "acct", "k", fp, 42, time.Minute); err != nil || ok || rec.Answer == nil {
			t.Errorf("Begin with the token of a finished claim = %+v, %v, %v; want the answer", rec, ok, err)
		}
	})
}

// TestNames checks that accounts and keys are their bytes, whatever they
// are: the empty name, NUL bytes, invalid UTF-8 and names a collation
// would fold together are all apart.
func TestNames(t *testing.T) {
	names := []string{"", "\x00", "a\x00b", "a", "A", "a ", "\xff\xfe", "é", "e\u0301", strings.Repeat("x", 4096)}
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		s := newStore(t, db, d, sqlstore.Config{Now: newClock().Now})
		ctx := t.Context()
		for _, a := range names {
			for _, k := range names {
				if _, ok, err := s.Begin(ctx, a, k, fingerprint(a+"|"+k), 1, time.Minute); err != nil || !ok {
					t.Fatalf("Begin(%.20q, %.20q) = %v, %v; want a claim", a, k, ok, err)
				}
			}
		}
		for _, a := range names {
			for _, k := range names {
				if rec, ok, err := s.Begin(ctx, a, k, fingerprint("other"), 2, time.Minute); err != nil || ok || rec.Fingerprint != fingerprint(a+"|"+k) {
					t.Fatalf("Begin(%.20q, %.20q) again = %v, %v; want the pair's own claim", a, k, ok, err)
				}
			}
		}
	})
}

// TestMaxAnswerBytes checks that an answer too big to keep is not kept
// and frees its key, and that one of the limit is kept.
func TestMaxAnswerBytes(t *testing.T) {
	const limit = 4096
	fits, big := answerOfSize(t, limit), answerOfSize(t, limit+1)
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		s := newStore(t, db, d, sqlstore.Config{Now: newClock().Now, MaxAnswerBytes: limit})
		ctx := t.Context()
		fp := fingerprint("GET /export")
		for _, tc := range []struct {
			name string
			a    *idempotency.Answer
			kept bool
		}{{"at the limit", fits, true}, {"a byte over", big, false}} {
			if _, ok, err := s.Begin(ctx, "acct", tc.name, fp, 1, time.Minute); err != nil || !ok {
				t.Fatalf("Begin = %v, %v", ok, err)
			}
			if ok, err := s.Finish(ctx, "acct", tc.name, 1, tc.a, time.Hour); err != nil || ok != tc.kept {
				t.Errorf("%s: Finish = %v, %v; want %v", tc.name, ok, err, tc.kept)
			}
			_, free, err := s.Begin(ctx, "acct", tc.name, fp, 2, time.Minute)
			if err != nil || free == tc.kept {
				t.Errorf("%s: Begin after Finish claimed = %v, %v; want %v", tc.name, free, err, !tc.kept)
			}
		}
	})
}

// TestBadAnswer checks that an answer that cannot be encoded is an error
// of its own, not ErrUnavailable, and frees the key.
func TestBadAnswer(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		s := newStore(t, db, d, sqlstore.Config{})
		ctx := t.Context()
		fp := fingerprint("POST /v1/monitors")
		if _, ok, err := s.Begin(ctx, "acct", "k", fp, 1, time.Minute); err != nil || !ok {
			t.Fatalf("Begin = %v, %v", ok, err)
		}
		ok, err := s.Finish(ctx, "acct", "k", 1, &idempotency.Answer{Status: 42}, time.Hour)
		if ok || err == nil || errors.Is(err, idempotency.ErrUnavailable) || !strings.HasPrefix(err.Error(), "sqlstore: ") {
			t.Errorf("Finish of status 42 = %v, %v; want a sqlstore: error, not ErrUnavailable", ok, err)
		}
		if _, ok, err := s.Begin(ctx, "acct", "k", fp, 2, time.Minute); err != nil || !ok {
			t.Errorf("Begin after the failed Finish = %v, %v; want the key free", ok, err)
		}
	})
}

// TestDurations checks that negative durations count as 0 and that very
// long ones are cut to MaxDuration.
func TestDurations(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		c := newClock()
		s := newStore(t, db, d, sqlstore.Config{Now: c.Now})
		ctx := t.Context()
		fp := fingerprint("POST /v1/monitors")
		if _, ok, err := s.Begin(ctx, "acct", "neg", fp, 1, -time.Hour); err != nil || !ok {
			t.Fatalf("Begin = %v, %v", ok, err)
		}
		if _, ok, err := s.Begin(ctx, "acct", "neg", fp, 2, time.Minute); err != nil || !ok {
			t.Errorf("Begin after a claim locked for -1h = %v, %v; want the key free", ok, err)
		}
		if _, ok, err := s.Begin(ctx, "acct", "long", fp, 1, time.Minute); err != nil || !ok {
			t.Fatalf("Begin = %v, %v", ok, err)
		}
		if ok, err := s.Finish(ctx, "acct", "long", 1, created, 1<<62); err != nil || !ok {
			t.Fatalf("Finish = %v, %v", ok, err)
		}
		var until int64
		err := db.QueryRowContext(ctx, "SELECT until_us FROM gatekey_idempotency WHERE key = $1", []byte("long")).Scan(&until)
		if want := c.Now().Add(sqlstore.MaxDuration).UnixMicro(); err != nil || until != want {
			t.Errorf("until of an answer kept for 146 years = %d, %v; want %d (MaxDuration)", until, err, want)
		}
	})
}

// TestPrune checks that Prune deletes the records whose lock or
// retention has ended, and only those.
func TestPrune(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		c := newClock()
		s := newStore(t, db, d, sqlstore.Config{Now: c.Now})
		ctx := t.Context()
		fp := fingerprint("POST /v1/monitors")
		begin := func(key string, lock time.Duration) {
			t.Helper()
			if _, ok, err := s.Begin(ctx, "acct", key, fp, 1, lock); err != nil || !ok {
				t.Fatal(ok, err)
			}
		}
		begin("claim-1m", time.Minute)
		begin("claim-1h", time.Hour)
		begin("answer-1d", time.Minute)
		if ok, err := s.Finish(ctx, "acct", "answer-1d", 1, created, 24*time.Hour); err != nil || !ok {
			t.Fatal(ok, err)
		}
		prune := func(want int64) {
			t.Helper()
			if n, err := s.Prune(ctx); err != nil || n != want {
				t.Errorf("Prune at %v = %d, %v; want %d", c.Now(), n, err, want)
			}
		}
		prune(0)
		c.Advance(time.Minute - time.Microsecond)
		prune(0)
		c.Advance(time.Microsecond)
		prune(1) // claim-1m
		c.Advance(time.Hour)
		prune(1) // claim-1h
		prune(0)
		c.Advance(24 * time.Hour)
		prune(1) // answer-1d
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM gatekey_idempotency").Scan(&n); err != nil || n != 0 {
			t.Errorf("%d rows left, %v; want 0", n, err)
		}
	})
}

// TestTable checks Config.Table: stores on tables of their own are apart,
// and names that are not plain identifiers are refused.
func TestTable(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		c := newClock()
		a := newStore(t, db, d, sqlstore.Config{Now: c.Now, Table: "idem_a"})
		b := newStore(t, db, d, sqlstore.Config{Now: c.Now, Table: "Idem_B"})
		ctx := t.Context()
		fp := fingerprint("POST /v1/monitors")
		for _, s := range []*sqlstore.Store{a, b} {
			if _, ok, err := s.Begin(ctx, "acct", "k", fp, 1, time.Minute); err != nil || !ok {
				t.Errorf("Begin on a table of its own = %v, %v; want a claim", ok, err)
			}
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM idem_b").Scan(&n); err != nil || n != 1 {
			t.Errorf("rows in idem_b = %d, %v; want 1", n, err)
		}
	})
	db := sqliteDB(t)
	for _, name := range []string{"a.b", "1abc", "a b", `a"b`, "a;drop", strings.Repeat("x", 49), "ü"} {
		if _, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.Config{Table: name}); err == nil || !strings.HasPrefix(err.Error(), "sqlstore: ") {
			t.Errorf("New with table %q = %v, want a sqlstore: error", name, err)
		}
		if s := sqlstore.Schema(sqlstore.SQLite, name); s != "" {
			t.Errorf("Schema(SQLite, %q) is not empty", name)
		}
	}
}

func TestApplySchemaIdempotent(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		s := newStore(t, db, d, sqlstore.Config{Now: newClock().Now})
		fp := fingerprint("POST /v1/monitors")
		if _, ok, err := s.Begin(t.Context(), "acct", "k", fp, 1, time.Minute); err != nil || !ok {
			t.Fatal(ok, err)
		}
		for range 2 {
			if err := s.ApplySchema(t.Context()); err != nil {
				t.Fatalf("ApplySchema again: %v", err)
			}
		}
		if rec, ok, err := s.Begin(t.Context(), "acct", "k", fp, 2, time.Minute); err != nil || ok || rec.Fingerprint != fp {
			t.Errorf("Begin after ApplySchema again = %+v, %v, %v; want the claim held", rec, ok, err)
		}
	})
}

// TestApplySchemaConcurrent starts several replicas at once on an empty
// database: every ApplySchema succeeds.
func TestApplySchemaConcurrent(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		s, err := sqlstore.New(db, d, sqlstore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for range cap(errs) {
			wg.Go(func() { errs <- s.ApplySchema(t.Context()) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent ApplySchema: %v", err)
			}
		}
	})
}

func TestSchema(t *testing.T) {
	for _, d := range []sqlstore.Dialect{sqlstore.Postgres, sqlstore.SQLite} {
		if s := sqlstore.Schema(d, ""); !strings.Contains(s, "CREATE TABLE IF NOT EXISTS gatekey_idempotency (") {
			t.Errorf("Schema(%v, \"\") does not create the table", d)
		}
		s := sqlstore.Schema(d, "my_idem")
		if !strings.Contains(s, "CREATE TABLE IF NOT EXISTS my_idem (") || strings.Contains(s, "gatekey_idempotency") {
			t.Errorf("Schema(%v, \"my_idem\") does not name its table my_idem throughout", d)
		}
	}
	if sqlstore.Schema(0, "") != "" {
		t.Error("Schema(0) is not empty")
	}
}

func TestNew(t *testing.T) {
	db := sqliteDB(t)
	if _, err := sqlstore.New(nil, sqlstore.SQLite, sqlstore.Config{}); err == nil || !strings.HasPrefix(err.Error(), "sqlstore: ") {
		t.Errorf("New(nil db) = %v, want a sqlstore: error", err)
	}
	if _, err := sqlstore.New(db, 0, sqlstore.Config{}); err == nil || !strings.HasPrefix(err.Error(), "sqlstore: ") {
		t.Errorf("New(invalid dialect) = %v, want a sqlstore: error", err)
	}
}

// TestUnavailable checks the error of every method on a closed pool and
// on a database without the table: ErrUnavailable, no claim.
func TestUnavailable(t *testing.T) {
	closed := sqliteDB(t)
	closedStore := newStore(t, closed, sqlstore.SQLite, sqlstore.Config{})
	closed.Close()
	noTable, err := sqlstore.New(sqliteDB(t), sqlstore.SQLite, sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for name, s := range map[string]*sqlstore.Store{"closed pool": closedStore, "no table": noTable} {
		rec, ok, err := s.Begin(ctx, "acct", "k", fingerprint("x"), 1, time.Minute)
		if ok || rec != (idempotency.Record{}) || !errors.Is(err, idempotency.ErrUnavailable) || !strings.HasPrefix(err.Error(), "sqlstore: begin: ") {
			t.Errorf("%s: Begin = %+v, %v, %v; want a sqlstore: begin: error wrapping ErrUnavailable", name, rec, ok, err)
		}
		if ok, err := s.Finish(ctx, "acct", "k", 1, created, time.Hour); ok || !errors.Is(err, idempotency.ErrUnavailable) {
			t.Errorf("%s: Finish = %v, %v; want ErrUnavailable", name, ok, err)
		}
		if err := s.Release(ctx, "acct", "k", 1); !errors.Is(err, idempotency.ErrUnavailable) {
			t.Errorf("%s: Release = %v; want ErrUnavailable", name, err)
		}
		if _, err := s.Prune(ctx); !errors.Is(err, idempotency.ErrUnavailable) {
			t.Errorf("%s: Prune = %v; want ErrUnavailable", name, err)
		}
	}
	if err := closedStore.ApplySchema(ctx); !errors.Is(err, idempotency.ErrUnavailable) {
		t.Errorf("ApplySchema on a closed pool = %v; want ErrUnavailable", err)
	}
}

// TestForeignRow checks that a row the Store could not have written (an
// answer it cannot read) is an error wrapping ErrUnavailable, not a
// guess.
func TestForeignRow(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		c := newClock()
		s := newStore(t, db, d, sqlstore.Config{Now: c.Now})
		ctx := t.Context()
		fp := fingerprint("x")
		if _, err := db.ExecContext(ctx, "INSERT INTO gatekey_idempotency VALUES ($1, $2, $3, 1, $4, $5)",
			[]byte("acct"), []byte("k"), fp[:], c.Now().Add(time.Hour).UnixMicro(), []byte("\x09junk")); err != nil {
			t.Fatal(err)
		}
		rec, ok, err := s.Begin(ctx, "acct", "k", fp, 2, time.Minute)
		if ok || rec != (idempotency.Record{}) || !errors.Is(err, idempotency.ErrUnavailable) || !errors.Is(err, idempotency.ErrBadAnswer) {
			t.Errorf("Begin = %+v, %v, %v; want ErrUnavailable and ErrBadAnswer", rec, ok, err)
		}
	})
}
