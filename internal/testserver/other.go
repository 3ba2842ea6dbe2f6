//go:build !unix

package testserver

import (
	"errors"
	"testing"
)

// errNoUnix is what the servers' constructors and methods return: they
// start servers and signal them as only a Unix system allows.
var errNoUnix = errors.New("testserver: starting servers needs a Unix system")

// stub is what Redis and Postgres have in common where no server can be
// started: nothing.
type stub struct{}

// Addr returns "".
func (stub) Addr() string { return "" }

// Start returns an error.
func (stub) Start() error { return errNoUnix }

// Close does nothing.
func (stub) Close() {}

// Redis is a redis-server; on this system none can be started.
type Redis struct{ stub }

// RequireRedis skips the test: the Redis tests need a Unix system.
func RequireRedis(t testing.TB) {
	t.Helper()
	t.Skip("the Redis tests start a server and need a Unix system")
}

// NewRedis returns an error: the Redis tests need a Unix system.
func NewRedis() (*Redis, error) { return nil, errNoUnix }

// Kill does nothing.
func (*Redis) Kill() {}

// Pause returns an error.
func (*Redis) Pause() error { return errNoUnix }

// Resume returns an error.
func (*Redis) Resume() error { return errNoUnix }

// Postgres is a PostgreSQL server; on this system none can be started.
type Postgres struct{ stub }

// RequirePostgres skips the test: the PostgreSQL tests need a Unix system.
func RequirePostgres(t testing.TB) {
	t.Helper()
	t.Skip("the PostgreSQL tests start a server and need a Unix system")
}

// NewPostgres returns an error: the PostgreSQL tests need a Unix system.
func NewPostgres() (*Postgres, error) { return nil, errNoUnix }

// DSN returns "".
func (*Postgres) DSN(...string) string { return "" }

// Stop returns an error.
func (*Postgres) Stop() error { return errNoUnix }

// Log returns "".
func (*Postgres) Log() string { return "" }
