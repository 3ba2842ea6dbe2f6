//go:build unix

package testserver

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	CloseShared()
	os.Exit(code)
}

// TestRedis starts a server and takes it through what the fault tests do:
// pause and resume, kill and start again, then removes it.
func TestRedis(t *testing.T) {
	s := StartRedis(t)
	ping := func(want bool) {
		t.Helper()
		checkPing(t, pingRedis(s.Addr(), 200*time.Millisecond), want, "")
	}
	ping(true)
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	ping(false)
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	ping(true)
	s.Kill()
	ping(false)
	if err := s.Pause(); err == nil {
		t.Error("Pause of a killed server succeeded")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Error("Start of a running server succeeded")
	}
	ping(true)
	s.Close()
	ping(false)
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("after Close, Stat(dir) = %v, want not exist", err)
	}
}

// checkPing fails t if a ping's err is not what want (success or not)
// asks for, showing the server's log.
func checkPing(t *testing.T, err error, want bool, log string) {
	t.Helper()
	if want && err != nil {
		t.Fatalf("ping: %v\n%s", err, log)
	}
	if !want && err == nil {
		t.Fatal("ping answered, want no answer")
	}
}

// TestPostgres starts a server, stops it and starts it again, then
// removes it.
func TestPostgres(t *testing.T) {
	s := StartPostgres(t)
	ping := func(want bool) {
		t.Helper()
		checkPing(t, pingPostgres(s.Addr(), 5*time.Second), want, s.Log())
	}
	ping(true)
	want := "postgres://gatekey@" + s.Addr() + "/postgres?sslmode=disable&connect_timeout=5&search_path=x"
	if got := s.DSN("search_path=x"); got != want {
		t.Errorf("DSN = %q, want %q", got, want)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	ping(false)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	ping(true)
	if !strings.Contains(s.Log(), "ready to accept connections") {
		t.Errorf("Log does not say the server was ready:\n%s", s.Log())
	}
	s.Close()
	ping(false)
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("after Close, Stat(dir) = %v, want not exist", err)
	}
}

// TestShared checks that the test binary has one shared server of each
// kind.
func TestShared(t *testing.T) {
	if a, b := SharedRedis(t), SharedRedis(t); a != b {
		t.Error("two calls of SharedRedis returned two servers")
	}
	if a, b := SharedPostgres(t), SharedPostgres(t); a != b {
		t.Error("two calls of SharedPostgres returned two servers")
	}
}

// TestLineWatch writes the awaited line in pieces, after lines that hold
// parts of it, and more output after it.
func TestLineWatch(t *testing.T) {
	w := newLineWatch("ready to go")
	seen := func() bool {
		select {
		case <-w.seen:
			return true
		default:
			return false
		}
	}
	for i, s := range []string{"starting\nnot ready", " yet, to go\nready", " to", " go\n", "more\n"} {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		if want := i >= 3; seen() != want {
			t.Fatalf("after writing %q, seen = %v, want %v", s, !want, want)
		}
	}
}
