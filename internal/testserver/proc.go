//go:build unix

package testserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// skipOrFail skips t with msg, or fails it when the environment variable
// CI is set: a CI run must not pass by skipping the tests it cannot run.
func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// isExec reports whether p is an executable regular file.
func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// server is what the package's servers have: the binary found (or the
// directory of binaries), a temporary directory, a loopback port and,
// while it runs, the process.
type server struct {
	bin  string
	dir  string
	port int
	proc *process // nil while the server is not running
}

// newServer finds the server's binary with find, or returns an error
// saying hint, then makes its directory and picks its port.
func newServer(name string, find func() (string, bool), hint string) (server, error) {
	bin, ok := find()
	if !ok {
		return server{}, errors.New(hint)
	}
	dir, err := os.MkdirTemp("", "testserver-"+name+"-")
	if err != nil {
		return server{}, err
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return server{}, err
	}
	return server{bin: bin, dir: dir, port: port}, nil
}

// require skips t, or fails it when CI is set, with hint if find finds
// no binary.
func require(t testing.TB, find func() (string, bool), hint string) {
	t.Helper()
	if _, ok := find(); !ok {
		skipOrFail(t, hint)
	}
}

// Addr returns the server's address, host:port.
func (s *server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// running returns an error unless the server is running.
func (s *server) running() error {
	if s.proc == nil {
		return errNotRunning
	}
	return nil
}

// readLog returns the end of the log file at path, for error messages.
func readLog(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// process is a running server process.
type process struct {
	name string // for messages: "redis-server", "postgres"
	cmd  *exec.Cmd
	done chan error // receives the process's exit
}

// startProcess starts cmd with its output appended to the file logPath
// and waits until a line of that output contains ready. If the process
// exits first, or timeout passes (when it kills it), the error holds the
// end of the log.
func startProcess(name string, cmd *exec.Cmd, logPath, ready string, timeout time.Duration) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	w := newLineWatch(ready)
	cmd.Stdout = io.MultiWriter(logf, w)
	cmd.Stderr = cmd.Stdout
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	dieWithTest(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()

	select {
	case <-w.seen:
		return p, nil
	case werr := <-p.done:
		return nil, fmt.Errorf("%s exited (%v) before it was ready:\n%s", name, werr, readLog(logPath))
	case <-time.After(timeout):
		p.kill()
		return nil, fmt.Errorf("%s not ready after %v:\n%s", name, timeout, readLog(logPath))
	}
}

// signal sends sig to the process.
func (p *process) signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("%s: %v", p.name, err)
	}
	return nil
}

// kill ends the process at once (SIGKILL), even if it is stopped, and
// waits for its exit.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // in case it was stopped
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stop sends sig and waits for the process to exit, killing it if it has
// not after timeout.
func (p *process) stop(sig os.Signal, timeout time.Duration) error {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %v; killed", p.name, timeout)
	}
}

// errNotRunning is returned by the methods that need a running server.
var errNotRunning = errors.New("testserver: the server is not running")

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
