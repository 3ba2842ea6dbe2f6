//go:build unix

package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a redis-server run by the tests on a loopback port,
// without persistence.
type redisServer struct {
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	done chan error
}

func findRedis() (string, bool) {
	if isExec("/usr/bin/redis-server") {
		return "/usr/bin/redis-server", true
	}
	p, err := exec.LookPath("redis-server")
	return p, err == nil
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// requireRedis skips the test (or fails it when CI is set) if redis-server
// is not installed.
func requireRedis(t testing.TB) string {
	t.Helper()
	bin, ok := findRedis()
	if !ok {
		msg := "redis-server not found in /usr/bin or PATH; apt-get install redis-server to run these tests"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

func newRedisServer(bin string) (*redisServer, error) {
	dir, err := os.MkdirTemp("", "credits-redisstore-")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &redisServer{bin: bin, dir: dir, port: port}
	if err := s.start(); err != nil {
		s.remove()
		return nil, err
	}
	return s, nil
}

// startRedis starts a server of the test's own, removed when it ends.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	s, err := newRedisServer(requireRedis(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.remove)
	return s
}

func (s *redisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *redisServer) start() error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--daemonize", "no")
	ready := newLineWatch("Ready to accept connections")
	cmd.Stdout = io.MultiWriter(logf, ready)
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	dieWithTest(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %v", err)
	}
	s.cmd, s.done = cmd, make(chan error, 1)
	go func() { s.done <- cmd.Wait() }()

	// redis-server says when it listens; then one PING must succeed.
	select {
	case <-ready.seen:
	case werr := <-s.done:
		s.cmd = nil
		log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
		return fmt.Errorf("redis-server exited (%v) before it was ready:\n%s", werr, log)
	case <-time.After(20 * time.Second):
		s.kill()
		return errors.New("redis-server not ready after 20s")
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		s.kill()
		return fmt.Errorf("redis-server said it was ready, but PING failed: %v", err)
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

// kill ends the server at once (SIGKILL): no goodbye to clients.
func (s *redisServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // in case it was paused
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// pause stops the process (SIGSTOP): connections stay open, nothing
// answers, as with a hung server or a partitioned network.
func (s *redisServer) pause() error  { return s.cmd.Process.Signal(syscall.SIGSTOP) }
func (s *redisServer) resume() error { return s.cmd.Process.Signal(syscall.SIGCONT) }

func (s *redisServer) remove() {
	s.kill()
	_ = os.RemoveAll(s.dir)
}

// shared is the server of the tests that do not stop it, started on first
// use and removed by TestMain.
var shared struct {
	once sync.Once
	srv  *redisServer
	err  error
}

func sharedRedis(t testing.TB) *redisServer {
	t.Helper()
	bin := requireRedis(t)
	shared.once.Do(func() { shared.srv, shared.err = newRedisServer(bin) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

func removeSharedRedis() {
	if shared.srv != nil {
		shared.srv.remove()
	}
}
