package pgfeed

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Config configures Watch. The zero value is a working configuration.
type Config struct {
	// Logger receives the feed's transitions: subscribed, and lost. Nil
	// means slog.Default().
	Logger *slog.Logger

	// MinBackoff and MaxBackoff bound the wait between attempts to listen
	// again after the connection is lost: it starts at MinBackoff and
	// doubles up to MaxBackoff. 0 means 100ms and 5s.
	MinBackoff, MaxBackoff time.Duration

	// Quiet is how long Watch waits for an announcement before it asks the
	// server whether it is still there (a ping), and how long it waits for
	// the answer: a connection that has gone silent (a partition, a hung
	// server) is found lost within twice Quiet. 0 means 5s.
	Quiet time.Duration
}

// Watch listens for the changes announced for the sqlstore table that db
// reaches, and calls inv.Invalidate for each changed id, until ctx is
// done; then it returns nil. It calls inv.InvalidateAll each time it
// starts listening, the first time included (see the package doc), and
// when the table is truncated. A lost connection is logged and retried
// with backoff, and so is a table that does not exist yet, or predates
// the announcements (a replica started before its migration). It returns
// an error at once, without retrying, if db's driver is not pgx.
func Watch(ctx context.Context, db *sql.DB, inv apikey.Invalidator, cfg Config) error {
	if db == nil || inv == nil {
		return errors.New("pgfeed: Watch needs a database and an Invalidator")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	minWait, maxWait := cfg.MinBackoff, cfg.MaxBackoff
	if minWait <= 0 {
		minWait = 100 * time.Millisecond
	}
	if maxWait <= 0 {
		maxWait = 5 * time.Second
	}
	maxWait = max(maxWait, minWait)

	quiet := cfg.Quiet
	if quiet <= 0 {
		quiet = 5 * time.Second
	}

	wait := minWait
	lost := false // logged the current outage already
	for {
		subscribed, err := listen(ctx, db, inv, quiet, func(channel string) {
			logger.LogAttrs(ctx, slog.LevelInfo, "gatekey: key change feed subscribed", slog.String("channel", channel))
			lost, wait = false, minWait
		})
		if ctx.Err() != nil {
			return nil
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return fatal.err
		}
		if !lost {
			lost = true
			logger.LogAttrs(ctx, slog.LevelWarn, "gatekey: key change feed lost; cached keys now expire within the key cache TTL",
				slog.Bool("was_subscribed", subscribed), slog.String("error", err.Error()))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, maxWait)
	}
}

// fatalError is an error that retrying cannot cure.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }

// listen takes a connection of db, listens on the table's channel, drops
// everything inv cached, and passes the ids announced to inv until the
// connection fails or ctx is done. It reports whether it got as far as
// listening.
func listen(ctx context.Context, db *sql.DB, inv apikey.Invalidator, quiet time.Duration, subscribed func(channel string)) (bool, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	ok := false
	err = conn.Raw(func(dc any) error {
		c, isPgx := dc.(interface{ Conn() *pgx.Conn })
		if !isPgx {
			return &fatalError{fmt.Errorf("pgfeed: Watch needs the pgx driver (github.com/jackc/pgx/v5/stdlib), not %T", dc)}
		}
		pc := c.Conn()
		var schema, channel string
		err := pc.QueryRow(ctx, `SELECT n.nspname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass('gatekey_api_keys')`).Scan(&schema)
		if errors.Is(err, pgx.ErrNoRows) {
			// Perhaps the replica started before the migration: retry.
			return errors.New("pgfeed: no gatekey_api_keys table on the search_path (apply sqlstore's schema)")
		}
		if err != nil {
			return badConn(err)
		}
		err = pc.QueryRow(ctx, "SELECT gatekey_api_keys_channel($1)", schema).Scan(&channel)
		if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "42883" { // undefined_function
			return errors.New("pgfeed: the gatekey_api_keys table has no change announcements (apply sqlstore's current schema)")
		}
		if err != nil {
			return badConn(err)
		}
		if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
			return badConn(err)
		}
		// Listening first, then dropping the cache: no change falls between.
		ok = true
		inv.InvalidateAll()
		subscribed(channel)
		for {
			wctx, cancel := context.WithTimeout(ctx, quiet)
			n, err := pc.WaitForNotification(wctx)
			cancel()
			if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				// Quiet for a while: is the server still there? (The
				// connection stays usable after a wait that timed out, and
				// announcements that arrive meanwhile are kept for the next
				// wait.)
				pctx, cancel := context.WithTimeout(ctx, quiet)
				err = pc.Ping(pctx)
				cancel()
				if err == nil {
					continue
				}
				return badConn(fmt.Errorf("pgfeed: the server did not answer a ping within %v: %w", quiet, err))
			}
			if err != nil {
				return badConn(err)
			}
			switch {
			case n.Channel != channel:
			case n.Payload == "": // a TRUNCATE: every key
				inv.InvalidateAll()
			case plausibleID(n.Payload):
				inv.Invalidate(n.Payload)
			}
		}
	})
	return ok, err
}

// badConn wraps err so that database/sql discards the connection, which a
// failed or interrupted wait leaves unusable.
func badConn(err error) error { return fmt.Errorf("%w: %w", driver.ErrBadConn, err) }

// plausibleID reports whether s could be a key id: 1 to 64 visible ASCII
// characters. Others are ignored (and never logged).
func plausibleID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
