package sqlstore_test

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey/sqlstore"
)

// TestIndexes checks that every statement the Store runs reads the table
// through an index (the primary key or one of the schema's indexes) and
// never sorts: each query plan is asked of the database itself.
func TestIndexes(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, s *sqlstore.Store) {
		// Some rows, so that the plans are not for an empty table.
		at := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range 200 {
			k := testKey(fmt.Sprintf("K%011d", i), at.Add(time.Duration(i)*time.Second))
			k.Owner = fmt.Sprint("acct", i%20)
			if err := s.CreateKey(t.Context(), k); err != nil {
				t.Fatal(err)
			}
		}
		conn, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		explain := "EXPLAIN QUERY PLAN "
		if s.Dialect() == sqlstore.Postgres {
			explain = "EXPLAIN "
			// Make the planner prefer anything to a full scan or a sort,
			// so that a plan with one proves no index could serve.
			for _, set := range []string{"SET enable_seqscan = off", "SET enable_sort = off", "ANALYZE gatekey_api_keys"} {
				if _, err := conn.ExecContext(t.Context(), set); err != nil {
					t.Fatal(err)
				}
			}
		} else if _, err := conn.ExecContext(t.Context(), "ANALYZE"); err != nil {
			t.Fatal(err)
		}
		for _, st := range sqlstore.Statements(s.Dialect()) {
			rows, err := conn.QueryContext(t.Context(), explain+st.Query, st.Args...)
			if err != nil {
				t.Fatalf("%s: %v", st.Name, err)
			}
			plan, err := planText(rows)
			if err != nil {
				t.Fatalf("%s: %v", st.Name, err)
			}
			for _, bad := range []string{"Seq Scan on gatekey_api_keys", "Sort", "SCAN gatekey_api_keys\n", "TEMP B-TREE"} {
				if strings.Contains(plan+"\n", bad) {
					t.Errorf("%s: plan has %q:\n%s", st.Name, strings.TrimSpace(bad), plan)
				}
			}
			if !strings.Contains(plan, "gatekey_api_keys") {
				t.Errorf("%s: plan does not read the table through an index:\n%s", st.Name, plan)
			}
			t.Logf("%s:\n%s", st.Name, plan)
		}
	})
}

// planText joins the last column of every row of an EXPLAIN.
func planText(rows *sql.Rows) (string, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s\n", vals[len(vals)-1])
	}
	return b.String(), rows.Err()
}

// TestUniqueViolation checks the driver error mapping against each
// database's real error for a duplicate primary key (the Store itself uses
// ON CONFLICT DO NOTHING, so this is its second line of defence).
func TestUniqueViolation(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *sql.DB, s *sqlstore.Store) {
		q := "INSERT INTO gatekey_api_keys (id, type, environment, permission, created_at, hash) VALUES ($1, 'secret', 'live', 'read_only', $2, 'x')"
		var at any = time.Now()
		if s.Dialect() == sqlstore.SQLite {
			q = strings.NewReplacer("$1", "?1", "$2", "?2").Replace(q)
			at = time.Now().UnixMicro()
		}
		if _, err := db.ExecContext(t.Context(), q, "AAAAAAAAAAA1", at); err != nil {
			t.Fatal(err)
		}
		_, err := db.ExecContext(t.Context(), q, "AAAAAAAAAAA1", at)
		if err == nil || !sqlstore.IsUniqueViolation(err) {
			t.Errorf("duplicate insert error %v (%T) is not recognised as a unique violation", err, err)
		}
		if sqlstore.IsUniqueViolation(errors.New("other")) {
			t.Error("a plain error is recognised as a unique violation")
		}
		// A different constraint is not a conflict.
		_, err = db.ExecContext(t.Context(), strings.Replace(q, "'secret'", "'bogus'", 1), "AAAAAAAAAAA2", at)
		if err == nil || sqlstore.IsUniqueViolation(err) {
			t.Errorf("check violation %v recognised as a unique violation", err)
		}
	})
}
