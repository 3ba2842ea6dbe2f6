package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/keystoretest"
	"github.com/gatekey/gatekey/apikey/sqlstore"
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
	db, err := sql.Open("sqlite", sqliteDSN(filepath.Join(t.TempDir(), "keys.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dialects are the databases every test runs against.
// open returns a pool on a new, empty database (or schema); require skips
// the test (fails it in CI) when the database cannot be run here.
var dialects = []struct {
	d       sqlstore.Dialect
	open    func(testing.TB) *sql.DB
	require func(testing.TB)
}{
	{sqlstore.SQLite, sqliteDB, func(testing.TB) {}},
	{sqlstore.Postgres, postgresDB, testserver.RequirePostgres},
}

// newStore applies the schema to db and returns a Store on it.
func newStore(t testing.TB, db *sql.DB, d sqlstore.Dialect) *sqlstore.Store {
	t.Helper()
	if err := sqlstore.ApplySchema(t.Context(), db, d); err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.New(db, d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// eachDialect runs f as a subtest per dialect, with a new, empty store.
func eachDialect(t *testing.T, f func(t *testing.T, db *sql.DB, s *sqlstore.Store)) {
	for _, dc := range dialects {
		t.Run(dc.d.String(), func(t *testing.T) {
			dc.require(t)
			db := dc.open(t)
			f(t, db, newStore(t, db, dc.d))
		})
	}
}

func TestConformance(t *testing.T) {
	for _, dc := range dialects {
		t.Run(dc.d.String(), func(t *testing.T) {
			dc.require(t)
			keystoretest.Run(t, func(t *testing.T) apikey.ManagedStore {
				db := dc.open(t)
				return newStore(t, db, dc.d)
			})
		})
	}
}

func TestApplySchemaIdempotent(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, s *sqlstore.Store) {
		k := testKey("AAAAAAAAAAA1", time.Unix(1700000000, 0))
		if err := s.CreateKey(t.Context(), k); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := sqlstore.ApplySchema(t.Context(), db, s.Dialect()); err != nil {
				t.Fatalf("ApplySchema again: %v", err)
			}
		}
		if _, err := s.LookupKey(t.Context(), k.ID); err != nil {
			t.Fatalf("record lost by ApplySchema: %v", err)
		}
	})
}

// TestApplySchemaConcurrent starts several replicas at once on an empty
// database: every ApplySchema succeeds.
func TestApplySchemaConcurrent(t *testing.T) {
	for _, dc := range dialects {
		t.Run(dc.d.String(), func(t *testing.T) {
			dc.require(t)
			db := dc.open(t)
			var wg sync.WaitGroup
			errs := make(chan error, 6)
			for range cap(errs) {
				wg.Go(func() { errs <- sqlstore.ApplySchema(t.Context(), db, dc.d) })
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
}

func testKey(id string, created time.Time) *apikey.Key {
	return &apikey.Key{ID: id, Type: apikey.SecretKey, Environment: apikey.Live,
		Owner: "acct", CreatedAt: created, Hash: "sha256$x"}
}

// TestTimePrecision checks the documented precision: UTC, microseconds,
// finer digits truncated, the zero time and times before 1970 kept.
func TestTimePrecision(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name     string
		in, want time.Time
	}{
		{"microseconds", time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC), time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)},
		{"nanoseconds truncated", time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC), time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)},
		{"zone", time.Date(2031, 5, 6, 8, 8, 9, 0, paris), time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{"far future", time.Date(9999, 12, 31, 0, 0, 0, 1000, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 1000, time.UTC)},
		{"zero", time.Time{}, time.Time{}},
	}
	eachDialect(t, func(t *testing.T, _ *sql.DB, s *sqlstore.Store) {
		for i, tc := range tests {
			k := testKey("AAAAAAAAAAA"+string(rune('a'+i)), tc.in)
			k.ExpiresAt, k.RevokedAt, k.LastUsedAt = tc.in, tc.in, tc.in
			if err := s.CreateKey(t.Context(), k); err != nil {
				t.Fatalf("%s: CreateKey: %v", tc.name, err)
			}
			got, err := s.LookupKey(t.Context(), k.ID)
			if err != nil {
				t.Fatalf("%s: LookupKey: %v", tc.name, err)
			}
			for field, v := range map[string]time.Time{"CreatedAt": got.CreatedAt, "ExpiresAt": got.ExpiresAt,
				"RevokedAt": got.RevokedAt, "LastUsedAt": got.LastUsedAt} {
				if !v.Equal(tc.want) || v.Location() != time.UTC || v.IsZero() != tc.want.IsZero() {
					t.Errorf("%s: %s = %v (%v), want %v", tc.name, field, v, v.Location(), tc.want)
				}
			}
		}
	})
}

// TestListOrderBytewise checks that ties on CreatedAt are broken by id in
// byte order (as apikey.MemoryStore does), not by a locale's collation.
func TestListOrderBytewise(t *testing.T) {
	at := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := []string{"b00000000000", "B00000000000", "a00000000000", "000000000000", "Z00000000000"}
	want := []string{"000000000000", "B00000000000", "Z00000000000", "a00000000000", "b00000000000"}
	eachDialect(t, func(t *testing.T, _ *sql.DB, s *sqlstore.Store) {
		for _, id := range ids {
			if err := s.CreateKey(t.Context(), testKey(id, at)); err != nil {
				t.Fatal(err)
			}
		}
		ks, err := s.ListKeys(t.Context(), apikey.ListFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range ks {
			got = append(got, k.ID)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("ListKeys order = %v, want %v", got, want)
		}
	})
}

func TestInvalidArguments(t *testing.T) {
	s, err := sqlstore.New(sqliteDB(t), sqlstore.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	noType := testKey("AAAAAAAAAAA1", time.Now())
	noType.Type = 0
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"CreateKey(nil)", s.CreateKey(ctx, nil)},
		{"CreateKey(no id)", s.CreateKey(ctx, &apikey.Key{Type: apikey.SecretKey, Environment: apikey.Live})},
		{"CreateKey(no type)", s.CreateKey(ctx, noType)},
		{"UpdateKey(nil)", s.UpdateKey(ctx, nil)},
		{"ListKeys(bad env)", func() error { _, err := s.ListKeys(ctx, apikey.ListFilter{Environment: 9}); return err }()},
	} {
		if tc.err == nil || !strings.HasPrefix(tc.err.Error(), "sqlstore: ") || errors.Is(tc.err, apikey.ErrUnavailable) {
			t.Errorf("%s = %v, want a sqlstore: error that is not ErrUnavailable", tc.name, tc.err)
		}
	}
	if _, err := sqlstore.New(nil, sqlstore.SQLite); err == nil {
		t.Error("New(nil db) succeeded")
	}
	if _, err := sqlstore.New(sqliteDB(t), 0); err == nil {
		t.Error("New(invalid dialect) succeeded")
	}
	if err := sqlstore.ApplySchema(ctx, nil, sqlstore.SQLite); err == nil {
		t.Error("ApplySchema(nil db) succeeded")
	}
}

// TestMissingTable checks that a store whose schema was never applied
// reports unavailability, not an unknown key.
func TestMissingTable(t *testing.T) {
	for _, dc := range dialects {
		t.Run(dc.d.String(), func(t *testing.T) {
			s, err := sqlstore.New(dc.open(t), dc.d)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.LookupKey(t.Context(), "AAAAAAAAAAA1")
			if !errors.Is(err, apikey.ErrUnavailable) || errors.Is(err, apikey.ErrNotFound) {
				t.Errorf("LookupKey without a table = %v, want ErrUnavailable", err)
			}
		})
	}
}

// TestClosedDB checks the error of every method once the pool is closed.
func TestClosedDB(t *testing.T) {
	db := sqliteDB(t)
	s := newStore(t, db, sqlstore.SQLite)
	db.Close()
	ctx := t.Context()
	k := testKey("AAAAAAAAAAA1", time.Now())
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"LookupKey", func() error { _, err := s.LookupKey(ctx, k.ID); return err }()},
		{"CreateKey", s.CreateKey(ctx, k)},
		{"UpdateKey", s.UpdateKey(ctx, k)},
		{"ListKeys", func() error { _, err := s.ListKeys(ctx, apikey.ListFilter{}); return err }()},
		{"TouchKeys", s.TouchKeys(ctx, map[string]time.Time{k.ID: time.Now()})},
	} {
		if !errors.Is(tc.err, apikey.ErrUnavailable) || !strings.HasPrefix(tc.err.Error(), "sqlstore: ") {
			t.Errorf("%s on a closed pool = %v, want a sqlstore: error wrapping ErrUnavailable", tc.name, tc.err)
		}
	}
}

func TestTouchKeysEmpty(t *testing.T) {
	eachDialect(t, func(t *testing.T, _ *sql.DB, s *sqlstore.Store) {
		k := testKey("AAAAAAAAAAA1", time.Now())
		if err := s.CreateKey(t.Context(), k); err != nil {
			t.Fatal(err)
		}
		for _, m := range []map[string]time.Time{nil, {}, {k.ID: {}}} {
			if err := s.TouchKeys(t.Context(), m); err != nil {
				t.Errorf("TouchKeys(%v) = %v", m, err)
			}
		}
		got, err := s.LookupKey(t.Context(), k.ID)
		if err != nil || !got.LastUsedAt.IsZero() {
			t.Errorf("after empty TouchKeys: LastUsedAt = %v, %v; want zero", got.LastUsedAt, err)
		}
	})
}

// TestTouchKeysBatch touches many keys in one call.
func TestTouchKeysBatch(t *testing.T) {
	eachDialect(t, func(t *testing.T, _ *sql.DB, s *sqlstore.Store) {
		at := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
		m := make(map[string]time.Time)
		for i := range 300 {
			id := fmt.Sprintf("K%011d", i)
			if err := s.CreateKey(t.Context(), testKey(id, at)); err != nil {
				t.Fatal(err)
			}
			m[id] = at.Add(time.Duration(i) * time.Second)
		}
		if err := s.TouchKeys(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		ks, err := s.ListKeys(t.Context(), apikey.ListFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			if !k.LastUsedAt.Equal(m[k.ID]) {
				t.Fatalf("%s: LastUsedAt = %v, want %v", k.ID, k.LastUsedAt, m[k.ID])
			}
		}
	})
}

func TestSchema(t *testing.T) {
	for _, d := range []sqlstore.Dialect{sqlstore.Postgres, sqlstore.SQLite} {
		if s := sqlstore.Schema(d); !strings.Contains(s, "CREATE TABLE IF NOT EXISTS gatekey_api_keys") {
			t.Errorf("Schema(%v) does not create the table", d)
		}
	}
	if sqlstore.Schema(0) != "" {
		t.Error("Schema(0) is not empty")
	}
}

// ctxWithTimeout is a short-lived context for calls that may hang.
func ctxWithTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
