package testserver

import (
	"sync"
	"testing"
)

// StartRedis starts a redis-server of the test's own, removed when the
// test ends. It skips the test, or fails it when CI is set, if
// redis-server is not installed (see RequireRedis).
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return start(t, RequireRedis, NewRedis)
}

// StartPostgres starts a PostgreSQL server of the test's own, removed
// when the test ends. It skips the test, or fails it when CI is set, if
// PostgreSQL is not installed (see RequirePostgres).
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	return start(t, RequirePostgres, NewPostgres)
}

// SharedRedis returns the redis-server shared by the tests of the test
// binary, started on first use, for the tests that do not stop it; they
// must keep their keys apart (by a prefix of their own, say). It skips or
// fails the test as RequireRedis does. CloseShared removes it.
func SharedRedis(t testing.TB) *Redis {
	t.Helper()
	return sharedRedis.get(t, RequireRedis, NewRedis)
}

// SharedPostgres returns the PostgreSQL server shared by the tests of the
// test binary, started on first use, for the tests that do not stop it;
// they must keep their tables apart (by a schema of their own, say). It
// skips or fails the test as RequirePostgres does. CloseShared removes it.
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	return sharedPostgres.get(t, RequirePostgres, NewPostgres)
}

// CloseShared removes the servers SharedRedis and SharedPostgres started,
// if any. TestMain calls it once the tests have run.
func CloseShared() {
	sharedRedis.close()
	sharedPostgres.close()
}

var (
	sharedRedis    shared[*Redis]
	sharedPostgres shared[*Postgres]
)

// start skips t unless require lets it run, then starts a server with
// newServer and removes it when t ends.
func start[S interface{ Close() }](t testing.TB, require func(testing.TB), newServer func() (S, error)) S {
	t.Helper()
	require(t)
	s, err := newServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// shared is a server started on first use, for the whole test binary.
type shared[S interface{ Close() }] struct {
	once sync.Once
	srv  S
	err  error
	ok   bool // srv was started
}

func (s *shared[S]) get(t testing.TB, require func(testing.TB), newServer func() (S, error)) S {
	t.Helper()
	require(t)
	s.once.Do(func() {
		s.srv, s.err = newServer()
		s.ok = s.err == nil
	})
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.srv
}

func (s *shared[S]) close() {
	if s.ok {
		s.srv.Close()
	}
}
