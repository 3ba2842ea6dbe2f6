//go:build unix

package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// pgServer is a PostgreSQL server run by the tests from Debian's binaries,
// in a temporary data directory, listening on loopback only.
type pgServer struct {
	bindir string
	dir    string // temporary directory: data/, the socket, the log
	port   int
	cred   *syscall.Credential // set when running as root

	cmd  *exec.Cmd
	done chan error // receives the server's exit
}

// findPostgres returns the directory holding initdb and postgres: the
// newest /usr/lib/postgresql/*/bin (Debian), or else one on PATH.
func findPostgres() (string, bool) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, true
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "initdb")) {
			return d, true
		}
	}
	return "", false
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// requirePostgres skips the test (or fails it when CI is set) if the
// PostgreSQL binaries are not installed.
func requirePostgres(t testing.TB) string {
	t.Helper()
	bindir, ok := findPostgres()
	if !ok {
		msg := "PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or PATH; apt-get install postgresql to run these tests"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bindir
}

// newPGServer initialises a data directory and starts a server on a free
// loopback port. The caller must call remove when done with it.
func newPGServer(bindir string) (*pgServer, error) {
	dir, err := os.MkdirTemp("", "credits-sqlstore-pg-")
	if err != nil {
		return nil, err
	}
	s := &pgServer{bindir: bindir, dir: dir}
	if os.Geteuid() == 0 {
		// postgres refuses to run as root: run it as the "postgres"
		// system user the Debian package creates (or nobody).
		if err := s.dropRoot(); err != nil {
			s.remove()
			return nil, err
		}
	}
	if s.port, err = freePort(); err != nil {
		s.remove()
		return nil, err
	}
	initdb := s.command(filepath.Join(bindir, "initdb"), "-D", s.data(), "-U", "gatekey",
		"--auth=trust", "-E", "UTF8", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		s.remove()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := s.start(); err != nil {
		s.remove()
		return nil, err
	}
	return s, nil
}

func (s *pgServer) dropRoot() error {
	var u *user.User
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("running as root and no postgres or nobody user to run the server as: %v", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return os.Chown(s.dir, int(uid), int(gid))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *pgServer) data() string { return filepath.Join(s.dir, "data") }

func (s *pgServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	dieWithTest(cmd.SysProcAttr)
	return cmd
}

// DSN returns a connection string for database postgres, with extra
// key=value runtime parameters (such as search_path=x).
func (s *pgServer) DSN(params ...string) string {
	q := append([]string{"sslmode=disable", "connect_timeout=5"}, params...)
	return fmt.Sprintf("postgres://gatekey@127.0.0.1:%d/postgres?%s", s.port, strings.Join(q, "&"))
}

// start runs the server and waits until it accepts connections.
func (s *pgServer) start() error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := s.command(filepath.Join(s.bindir, "postgres"), "-D", s.data(), "-k", s.dir,
		"-p", strconv.Itoa(s.port), "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	ready := newLineWatch("database system is ready to accept connections")
	cmd.Stdout = io.MultiWriter(logf, ready)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %v", err)
	}
	s.cmd, s.done = cmd, make(chan error, 1)
	go func() { s.done <- cmd.Wait() }()

	// postgres says when it accepts connections; then one ping must succeed.
	select {
	case <-ready.seen:
	case werr := <-s.done:
		s.cmd = nil
		return fmt.Errorf("postgres exited (%v) before accepting connections:\n%s", werr, s.log())
	case <-time.After(30 * time.Second):
		s.stop()
		return fmt.Errorf("postgres not ready after 30s:\n%s", s.log())
	}
	db, err := sql.Open("pgx", s.DSN())
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		s.stop()
		return fmt.Errorf("postgres said it was ready, but a ping failed: %v\n%s", err, s.log())
	}
	return nil
}

// lineWatch is an io.Writer that closes seen once the output written to
// it holds a line containing want.
type lineWatch struct {
	want string
	seen chan struct{}
	mu   sync.Mutex
	buf  []byte
	done bool
}

func newLineWatch(want string) *lineWatch {
	return &lineWatch{want: want, seen: make(chan struct{})}
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	if bytes.Contains(w.buf, []byte(w.want)) {
		w.done, w.buf = true, nil
		close(w.seen)
	} else if i := bytes.LastIndexByte(w.buf, '\n'); i >= 0 {
		w.buf = w.buf[i+1:] // keep only the line not yet complete
	}
	return len(p), nil
}

// stop shuts the server down (fast shutdown: clients are disconnected).
func (s *pgServer) stop() error {
	if s.cmd == nil {
		return nil
	}
	defer func() { s.cmd = nil }()
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
		return nil
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("postgres did not stop within 30s; killed")
	}
}

// remove stops the server and deletes its directory.
func (s *pgServer) remove() {
	_ = s.stop()
	_ = os.RemoveAll(s.dir)
}

func (s *pgServer) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// shared is the server used by the tests that do not stop it, started on
// first use and removed by TestMain.
var shared struct {
	once   sync.Once
	srv    *pgServer
	err    error
	mu     sync.Mutex
	schema int // schemas handed out
}

func removeSharedPostgres() {
	if shared.srv != nil {
		shared.srv.remove()
	}
}

// postgresDB returns a connection pool whose search_path is a new, empty
// schema of the shared test server, so each caller gets an empty store.
func postgresDB(t testing.TB) *sql.DB {
	t.Helper()
	return postgresPools(t, 1)[0]
}

// postgresPools returns n connection pools of their own (as n replicas
// would have) on one new, empty schema of the shared test server. The
// runtime parameters given (such as statement_timeout=100) apply to every
// pool but the first.
func postgresPools(t testing.TB, n int, params ...string) []*sql.DB {
	t.Helper()
	bindir := requirePostgres(t)
	shared.once.Do(func() { shared.srv, shared.err = newPGServer(bindir) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	shared.mu.Lock()
	shared.schema++
	schema := fmt.Sprintf("t%d", shared.schema)
	shared.mu.Unlock()
	pools := []*sql.DB{openPG(t, shared.srv, schema)}
	for len(pools) < n {
		pools = append(pools, openPGSchema(t, shared.srv, schema, params...))
	}
	return pools
}

// openPG creates schema on srv and returns a pool using it.
func openPG(t testing.TB, srv *pgServer, schema string) *sql.DB {
	t.Helper()
	admin, err := sql.Open("pgx", srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// An identifier made by the test, never a value: no placeholder exists
	// for identifiers.
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	return openPGSchema(t, srv, schema)
}

// openPGSchema returns a pool on srv using schema, which exists, with at
// most 20 connections (the server takes 100) and the runtime parameters
// given.
func openPGSchema(t testing.TB, srv *pgServer, schema string, params ...string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", srv.DSN(append([]string{"search_path=" + schema}, params...)...))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(20)
	t.Cleanup(func() { db.Close() })
	return db
}
