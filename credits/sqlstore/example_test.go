package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/credits/sqlstore"
	_ "modernc.org/sqlite" // or _ "github.com/jackc/pgx/v5/stdlib" for PostgreSQL
)

func Example() {
	dir, err := os.MkdirTemp("", "sqlstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// PostgreSQL: sql.Open("pgx", "postgres://user@host/db?statement_timeout=1000")
	// and sqlstore.Postgres.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "credits.db")+
		"?_pragma=busy_timeout(1000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := sqlstore.ApplySchema(ctx, db, sqlstore.SQLite); err != nil {
		log.Fatal(err)
	}
	// A fixed clock, for the output below; leave Now unset for time.Now.
	now := func() time.Time { return time.Date(2030, time.May, 20, 9, 0, 0, 0, time.UTC) }
	store, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.Config{Now: now})
	if err != nil {
		log.Fatal(err)
	}

	free := credits.PerMonth(3)
	for range 4 {
		b, ok, err := store.Spend(ctx, "acct_1", free, 1)
		if err != nil {
			log.Fatal(err) // ErrUnavailable: answer 503
		}
		fmt.Println(ok, b.Remaining, b.ResetAt.Format(time.DateOnly))
	}
	// Output:
	// true 2 2030-06-01
	// true 1 2030-06-01
	// true 0 2030-06-01
	// false 0 2030-06-01
}
