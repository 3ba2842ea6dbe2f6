//go:build unix

package testserver

import (
	"bufio"
	"encoding/binary"
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
	"syscall"
	"testing"
	"time"
)

const postgresHint = "PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or PATH; apt-get install postgresql to run these tests"

// The role and database DSN connects to; the server trusts every
// connection, so no password is needed.
const (
	postgresUser     = "gatekey"
	postgresDatabase = "postgres"
)

// Postgres is a PostgreSQL server run from Debian's binaries (or ones on
// PATH) in a temporary data directory, listening on loopback only, with
// fsync off. Its methods are not safe for concurrent use.
type Postgres struct {
	server // bin is the directory of the binaries; dir holds data/, the socket, the log

	cred *syscall.Credential // set when running as root
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

// RequirePostgres skips the test, or fails it when the environment
// variable CI is set, if the PostgreSQL server binaries are not installed.
func RequirePostgres(t testing.TB) {
	t.Helper()
	require(t, findPostgres, postgresHint)
}

// NewPostgres initialises a data directory and starts a server on a free
// loopback port. The caller must Close it. Tests use StartPostgres or
// SharedPostgres instead, which skip when PostgreSQL is not installed.
func NewPostgres() (*Postgres, error) {
	srv, err := newServer("postgres", findPostgres, postgresHint)
	if err != nil {
		return nil, err
	}
	s := &Postgres{server: srv}
	if err := s.init(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// init initialises the data directory and starts the server.
func (s *Postgres) init() error {
	if os.Geteuid() == 0 {
		// postgres refuses to run as root: run it as the "postgres"
		// system user the Debian package creates (or nobody).
		if err := s.dropRoot(); err != nil {
			return err
		}
	}
	initdb := s.command(filepath.Join(s.bin, "initdb"), "-D", s.data(), "-U", postgresUser,
		"--auth=trust", "-E", "UTF8", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return s.Start()
}

func (s *Postgres) dropRoot() error {
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

func (s *Postgres) data() string { return filepath.Join(s.dir, "data") }

func (s *Postgres) logPath() string { return filepath.Join(s.dir, "server.log") }

func (s *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	dieWithTest(cmd.SysProcAttr)
	return cmd
}

// DSN returns a connection string (a URL) for database postgres, with
// extra key=value runtime parameters, such as search_path=x.
func (s *Postgres) DSN(params ...string) string {
	q := append([]string{"sslmode=disable", "connect_timeout=5"}, params...)
	return fmt.Sprintf("postgres://%s@%s/%s?%s", postgresUser, s.Addr(), postgresDatabase, strings.Join(q, "&"))
}

// Start runs the server again, on the same port and data, after Stop, and
// waits until it accepts connections. NewPostgres starts it the first
// time.
func (s *Postgres) Start() error {
	if s.proc != nil {
		return errors.New("testserver: postgres is already running")
	}
	cmd := s.command(filepath.Join(s.bin, "postgres"), "-D", s.data(), "-k", s.dir,
		"-p", strconv.Itoa(s.port), "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	p, err := startProcess("postgres", cmd, s.logPath(),
		"database system is ready to accept connections", 30*time.Second)
	if err != nil {
		return err
	}
	s.proc = p
	// postgres said it accepts connections; then a session must work.
	if err := pingPostgres(s.Addr(), 10*time.Second); err != nil {
		_ = s.Stop()
		return fmt.Errorf("postgres said it was ready, but a ping failed: %v\n%s", err, s.Log())
	}
	return nil
}

// Stop shuts the server down (fast shutdown: clients are disconnected),
// killing it if it has not stopped within 30s. Start runs it again.
func (s *Postgres) Stop() error {
	if s.proc == nil {
		return nil
	}
	defer func() { s.proc = nil }()
	return s.proc.stop(syscall.SIGINT, 30*time.Second)
}

// Close stops the server and deletes its directory.
func (s *Postgres) Close() {
	_ = s.Stop()
	_ = os.RemoveAll(s.dir)
}

// Log returns the end of the server's log.
func (s *Postgres) Log() string { return readLog(s.logPath()) }

// pingPostgres opens a session on the server at addr, in the PostgreSQL
// protocol (version 3.0, no TLS, trust authentication), runs the empty
// query, and ends the session, all within timeout.
func pingPostgres(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	// StartupMessage: length, protocol 3.0, then name/value pairs.
	startup := binary.BigEndian.AppendUint32(make([]byte, 4), 3<<16)
	for _, s := range []string{"user", postgresUser, "database", postgresDatabase, ""} {
		startup = append(append(startup, s...), 0)
	}
	binary.BigEndian.PutUint32(startup, uint32(len(startup)))
	if _, err := c.Write(startup); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	queried := false
	for {
		typ, body, err := readPGMessage(r)
		if err != nil {
			return err
		}
		switch typ {
		case 'R': // Authentication*: only AuthenticationOk (0) is expected
			if len(body) < 4 || binary.BigEndian.Uint32(body) != 0 {
				return fmt.Errorf("server asked for authentication (%x); the test server trusts its clients", body)
			}
		case 'E': // ErrorResponse
			return fmt.Errorf("server error: %s", pgErrorMessage(body))
		case 'Z': // ReadyForQuery
			if queried {
				_, err := c.Write([]byte{'X', 0, 0, 0, 4}) // Terminate
				return err
			}
			queried = true
			if _, err := c.Write([]byte{'Q', 0, 0, 0, 6, ';', 0}); err != nil { // Query ";"
				return err
			}
		}
		// Anything else (parameter statuses, the key data, notices, the
		// empty query's response) needs no answer.
	}
}

// readPGMessage reads one backend message: its type byte and body.
func readPGMessage(r *bufio.Reader) (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(head[1:])
	if n < 4 || n > 1<<20 {
		return 0, nil, fmt.Errorf("bad message length %d (type %q)", n, head[0])
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return head[0], body, nil
}

// pgErrorMessage returns the message field (M) of an ErrorResponse's
// body, or the whole body if it has none.
func pgErrorMessage(body []byte) string {
	for _, f := range strings.Split(string(body), "\x00") {
		if strings.HasPrefix(f, "M") {
			return f[1:]
		}
	}
	return strings.ReplaceAll(string(body), "\x00", " ")
}
