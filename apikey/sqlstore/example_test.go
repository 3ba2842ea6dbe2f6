package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/sqlstore"
	_ "modernc.org/sqlite" // or _ "github.com/jackc/pgx/v5/stdlib" for PostgreSQL
)

func Example() {
	dir, err := os.MkdirTemp("", "sqlstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// PostgreSQL: sql.Open("pgx", "postgres://user@host/db") and sqlstore.Postgres.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "keys.db")+
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := sqlstore.ApplySchema(ctx, db, sqlstore.SQLite); err != nil {
		log.Fatal(err)
	}
	store, err := sqlstore.New(db, sqlstore.SQLite)
	if err != nil {
		log.Fatal(err)
	}

	mgr, err := apikey.NewManager(store, apikey.ManagerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer mgr.Close()
	tok, _, err := mgr.Create(ctx, apikey.CreateParams{Type: apikey.SecretKey, Environment: apikey.Test, Owner: "acct_1"})
	if err != nil {
		log.Fatal(err)
	}
	// Any replica sharing the database verifies the key.
	k, err := mgr.Verify(ctx, tok.Reveal())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(k.Owner, k.Type, k.Environment)
	// Output: acct_1 secret test
}
