package sqlstore_test

import (
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/credits/creditstoretest"
	"github.com/gatekey/gatekey/credits/sqlstore"
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
	return openSQLite(t, sqliteDSN(filepath.Join(t.TempDir(), "credits.db")))
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

// newStore applies the schema to db and returns a Store on it.
func newStore(t testing.TB, db *sql.DB, d sqlstore.Dialect, cfg sqlstore.Config) *sqlstore.Store {
	t.Helper()
	if err := sqlstore.ApplySchema(t.Context(), db, d); err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.New(db, d, cfg)
	if err != nil {
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
			creditstoretest.Run(t, func(t *testing.T, now func() time.Time) credits.Store {
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
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// TestSameAsMemoryStore replays random spends and grants, on a clock that
// mostly moves forwards and sometimes back, through the Store and through
// credits.MemoryStore: the results are the same.
func TestSameAsMemoryStore(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		c := &clock{}
		s := newStore(t, db, d, sqlstore.Config{Now: c.Now, Timeout: 10 * time.Second})
		mem := credits.NewMemoryStore(credits.MemoryConfig{})
		rng := mathrand.New(mathrand.NewPCG(3, 4))
		allowances := []credits.Allowance{credits.PerDay(5), credits.PerMonth(20), credits.PerMonth(3)}
		now := time.Date(2030, 1, 30, 0, 0, 0, 0, time.UTC)
		for i := range 1500 {
			switch r := rng.IntN(100); {
			case r < 3:
				now = now.Add(-time.Duration(rng.Int64N(int64(48 * time.Hour))))
			case r < 50:
				now = now.Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
			}
			c.Set(now)
			a := allowances[rng.IntN(len(allowances))]
			account := fmt.Sprint("k", rng.IntN(4), a.Period) // one kind of period per account, as in MemoryStore
			n := rng.Int64N(8)
			if rng.IntN(20) == 0 {
				n += 20 // above every allowance: only grants can pay
			}
			var got, want credits.Balance
			var gotOK, wantOK bool
			var gotErr, wantErr error
			if rng.IntN(10) == 0 {
				n++
				got, gotErr = s.Grant(t.Context(), account, a, n)
				want, wantErr = mem.GrantAt(now, account, a, n)
			} else {
				got, gotOK, gotErr = s.Spend(t.Context(), account, a, n)
				want, wantOK, wantErr = mem.SpendAt(now, account, a, n)
			}
			if gotErr != nil || wantErr != nil {
				t.Fatalf("step %d: errors %v, %v", i, gotErr, wantErr)
			}
			if got != want || gotOK != wantOK {
				t.Fatalf("step %d at %v, %v %v n=%d:\n sql    %+v %v\n memory %+v %v", i, now, account, a, n, got, gotOK, want, wantOK)
			}
		}
	})
}

// TestAccountNames checks that an account name is its bytes, whatever
// they are: the empty name, NUL bytes, invalid UTF-8 and names that a
// collation would fold together are all accounts of their own.
func TestAccountNames(t *testing.T) {
	names := []string{"", "\x00", "a\x00b", "a", "A", "a ", "\xff\xfe", "é", "e\u0301", strings.Repeat("x", 4096)}
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		s := newStore(t, db, d, sqlstore.Config{})
		a := credits.PerDay(100)
		for i, name := range names {
			if b, ok, err := s.Spend(t.Context(), name, a, int64(i+1)); err != nil || !ok || b.Remaining != 100-int64(i+1) {
				t.Fatalf("Spend(%q) = %+v, %v, %v", name, b, ok, err)
			}
		}
		for i, name := range names {
			if b, _, err := s.Spend(t.Context(), name, a, 0); err != nil || b.Remaining != 100-int64(i+1) {
				t.Errorf("account %.20q afterwards: Remaining %d, %v; want %d", name, b.Remaining, err, 100-int64(i+1))
			}
		}
	})
}

// TestGrantCap checks that grants stop at twice MaxCredits, as in
// credits.MemoryStore, so that balances never overflow.
func TestGrantCap(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		s := newStore(t, db, d, sqlstore.Config{})
		a := credits.PerMonth(credits.MaxCredits)
		var b credits.Balance
		var err error
		for range 3 {
			if b, err = s.Grant(t.Context(), "k", a, credits.MaxCredits); err != nil {
				t.Fatal(err)
			}
		}
		if b.Remaining != 2*credits.MaxCredits {
			t.Errorf("Remaining after three grants of MaxCredits = %d, want %d", b.Remaining, int64(2*credits.MaxCredits))
		}
	})
}

// TestPrune checks that Prune deletes the balances of periods that ended
// more than a Margin ago, and only those.
func TestPrune(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		c := &clock{t: time.Date(2030, 3, 31, 12, 0, 0, 0, time.UTC)}
		s := newStore(t, db, d, sqlstore.Config{Now: c.Now})
		spend := func(account string, a credits.Allowance) {
			t.Helper()
			if _, ok, err := s.Spend(t.Context(), account, a, 1); err != nil || !ok {
				t.Fatal(ok, err)
			}
		}
		spend("march", credits.PerMonth(10))
		spend("march-31", credits.PerDay(10))
		c.Set(time.Date(2030, 4, 1, 6, 0, 0, 0, time.UTC))
		spend("april", credits.PerMonth(10))
		spend("april-1", credits.PerDay(10))
		prune := func(want int64) {
			t.Helper()
			if n, err := s.Prune(t.Context()); err != nil || n != want {
				t.Errorf("Prune at %v = %d, %v; want %d", c.Now(), n, err, want)
			}
		}
		prune(0) // March ended 6 hours ago: within the margin
		c.Set(time.Date(2030, 4, 2, 0, 0, 0, 0, time.UTC))
		prune(2) // March and March 31st, a day ago
		prune(0)
		c.Set(time.Date(2030, 4, 3, 0, 0, 0, 0, time.UTC))
		prune(1) // April 1st
		if b, _, err := s.Spend(t.Context(), "april", credits.PerMonth(10), 0); err != nil || b.Remaining != 9 {
			t.Errorf("April's balance after Prune: %d, %v; want 9", b.Remaining, err)
		}
	})
}

func TestApplySchemaIdempotent(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		s := newStore(t, db, d, sqlstore.Config{})
		a := credits.PerMonth(10)
		if _, _, err := s.Spend(t.Context(), "k", a, 4); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := sqlstore.ApplySchema(t.Context(), db, d); err != nil {
				t.Fatalf("ApplySchema again: %v", err)
			}
		}
		if b, _, err := s.Spend(t.Context(), "k", a, 0); err != nil || b.Remaining != 6 {
			t.Errorf("balance after ApplySchema again: %d, %v; want 6", b.Remaining, err)
		}
	})
}

// TestApplySchemaConcurrent starts several replicas at once on an empty
// database: every ApplySchema succeeds.
func TestApplySchemaConcurrent(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for range cap(errs) {
			wg.Go(func() { errs <- sqlstore.ApplySchema(t.Context(), db, d) })
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
		if s := sqlstore.Schema(d); !strings.Contains(s, "CREATE TABLE IF NOT EXISTS gatekey_credits") {
			t.Errorf("Schema(%v) does not create the table", d)
		}
	}
	if sqlstore.Schema(0) != "" {
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
	if err := sqlstore.ApplySchema(t.Context(), nil, sqlstore.SQLite); err == nil {
		t.Error("ApplySchema(nil db) succeeded")
	}
	if err := sqlstore.ApplySchema(t.Context(), db, 9); err == nil {
		t.Error("ApplySchema(invalid dialect) succeeded")
	}
}

// TestInvalidArguments checks that bad arguments are errors of their own,
// never ErrUnavailable, and do not reach the database (here, a closed one).
func TestInvalidArguments(t *testing.T) {
	db := sqliteDB(t)
	s := newStore(t, db, sqlstore.SQLite, sqlstore.Config{})
	db.Close()
	good := credits.PerDay(5)
	for _, tc := range []struct {
		name  string
		a     credits.Allowance
		n     int64
		grant bool
		want  error
	}{
		{"zero allowance", credits.Allowance{}, 1, false, credits.ErrInvalidAllowance},
		{"negative cost", good, -1, false, credits.ErrInvalidCost},
		{"cost above MaxCredits", good, credits.MaxCredits + 1, false, credits.ErrInvalidCost},
		{"grant of 0", good, 0, true, credits.ErrInvalidCost},
		{"grant with an invalid period", credits.Allowance{Credits: 1, Period: 7}, 1, true, credits.ErrInvalidAllowance},
	} {
		var err error
		if tc.grant {
			_, err = s.Grant(t.Context(), "k", tc.a, tc.n)
		} else {
			_, _, err = s.Spend(t.Context(), "k", tc.a, tc.n)
		}
		if !errors.Is(err, tc.want) || errors.Is(err, credits.ErrUnavailable) || !strings.HasPrefix(err.Error(), "sqlstore: ") {
			t.Errorf("%s: %v, want a sqlstore: error wrapping %v (and not ErrUnavailable)", tc.name, err, tc.want)
		}
	}
}

// TestUnavailable checks the error of every method on a closed pool and
// on a database without the table: ErrUnavailable, no success, never a
// fresh allowance.
func TestUnavailable(t *testing.T) {
	closed := sqliteDB(t)
	closedStore := newStore(t, closed, sqlstore.SQLite, sqlstore.Config{})
	closed.Close()
	noTable, err := sqlstore.New(sqliteDB(t), sqlstore.SQLite, sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a := credits.PerMonth(10)
	for name, s := range map[string]*sqlstore.Store{"closed pool": closedStore, "no table": noTable} {
		for _, cost := range []int64{0, 1, 11} {
			b, ok, err := s.Spend(t.Context(), "k", a, cost)
			if ok || !errors.Is(err, credits.ErrUnavailable) || b != (credits.Balance{}) || !strings.HasPrefix(err.Error(), "sqlstore: ") {
				t.Errorf("%s: Spend(cost %d) = %+v, %v, %v; want a sqlstore: error wrapping ErrUnavailable", name, cost, b, ok, err)
			}
		}
		if b, err := s.Grant(t.Context(), "k", a, 1); !errors.Is(err, credits.ErrUnavailable) || b != (credits.Balance{}) {
			t.Errorf("%s: Grant = %+v, %v; want ErrUnavailable", name, b, err)
		}
		if _, err := s.Prune(t.Context()); !errors.Is(err, credits.ErrUnavailable) {
			t.Errorf("%s: Prune = %v; want ErrUnavailable", name, err)
		}
	}
}
