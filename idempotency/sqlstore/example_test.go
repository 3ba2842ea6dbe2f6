package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/idempotency/sqlstore"
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
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "idem.db")+
		"?_pragma=busy_timeout(1000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	store, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.ApplySchema(ctx); err != nil {
		log.Fatal(err)
	}

	var fp idempotency.Fingerprint // from idempotency.ReadRequest
	for token := range uint64(3) { // a request and two retries, tokens 0, 1, 2
		rec, claimed, err := store.Begin(ctx, "acct_1", "order-7781", fp, token, time.Minute)
		switch {
		case err != nil:
			log.Fatal(err) // ErrUnavailable: answer 503
		case claimed:
			fmt.Println("run the handler")
			a := &idempotency.Answer{Status: http.StatusCreated, Body: []byte(`{"id":"ord_1"}`)}
			if _, err := store.Finish(ctx, "acct_1", "order-7781", token, a, 24*time.Hour); err != nil {
				log.Fatal(err)
			}
		case rec.Answer != nil:
			fmt.Println("replay", rec.Answer.Status, string(rec.Answer.Body))
		}
	}
	// Output:
	// run the handler
	// replay 201 {"id":"ord_1"}
	// replay 201 {"id":"ord_1"}
}
