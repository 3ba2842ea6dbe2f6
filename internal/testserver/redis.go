//go:build unix

package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

const redisHint = "redis-server not found in /usr/bin or PATH; apt-get install redis-server to run these tests"

// Redis is a redis-server run on a loopback port, without persistence,
// in a temporary directory. Its methods are not safe for concurrent use.
type Redis struct {
	server
}

func findRedis() (string, bool) {
	if isExec("/usr/bin/redis-server") {
		return "/usr/bin/redis-server", true
	}
	p, err := exec.LookPath("redis-server")
	return p, err == nil
}

// RequireRedis skips the test, or fails it when the environment variable
// CI is set, if redis-server is not installed.
func RequireRedis(t testing.TB) {
	t.Helper()
	require(t, findRedis, redisHint)
}

// NewRedis starts a redis-server on a free loopback port. The caller
// must Close it. Tests use StartRedis or SharedRedis instead, which skip
// when redis-server is not installed.
func NewRedis() (*Redis, error) {
	srv, err := newServer("redis", findRedis, redisHint)
	if err != nil {
		return nil, err
	}
	s := &Redis{srv}
	if err := s.Start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Start runs the server again, on the same port, after Kill, and waits
// until it answers a PING. NewRedis starts it the first time.
func (s *Redis) Start() error {
	if s.proc != nil {
		return errors.New("testserver: redis-server is already running")
	}
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--daemonize", "no")
	p, err := startProcess("redis-server", cmd, filepath.Join(s.dir, "redis.log"),
		"Ready to accept connections", 20*time.Second)
	if err != nil {
		return err
	}
	s.proc = p
	// redis-server said it listens; then one PING must succeed.
	if err := pingRedis(s.Addr(), 5*time.Second); err != nil {
		s.Kill()
		return fmt.Errorf("redis-server said it was ready, but PING failed: %v", err)
	}
	return nil
}

// Kill ends the server at once (SIGKILL), paused or not: clients get no
// goodbye, as with a crash. Start runs it again.
func (s *Redis) Kill() {
	if s.proc == nil {
		return
	}
	s.proc.kill()
	s.proc = nil
}

// Pause stops the process (SIGSTOP): connections stay open and nothing
// answers, as with a hung server or a partitioned network. Resume lets
// it go on.
func (s *Redis) Pause() error {
	if err := s.running(); err != nil {
		return err
	}
	return s.proc.signal(syscall.SIGSTOP)
}

// Resume continues the process after Pause (SIGCONT).
func (s *Redis) Resume() error {
	if err := s.running(); err != nil {
		return err
	}
	return s.proc.signal(syscall.SIGCONT)
}

// Close kills the server and deletes its directory.
func (s *Redis) Close() {
	s.Kill()
	_ = os.RemoveAll(s.dir)
}

// pingRedis sends PING to the server at addr, in the Redis protocol, and
// checks that it answers PONG within timeout.
func pingRedis(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q, want +PONG", line)
	}
	return nil
}
