package redisfeed_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/redisfeed"
	"github.com/gatekey/gatekey/internal/testserver"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
)

func TestMain(m *testing.M) {
	// go-redis logs failed dials, which the fault tests cause on purpose.
	redis.SetLogger(&logging.VoidLogger{})
	code := m.Run()
	testserver.CloseShared()
	os.Exit(code)
}

// The messages Watch and the wrapper log.
const (
	subscribedMsg  = "gatekey: key change feed subscribed"
	lostMsg        = "gatekey: key change feed lost; cached keys now expire within the key cache TTL"
	unpublishedMsg = "gatekey: key change not published; other replicas see the change within their key cache TTL"
	waitFor        = 10 * time.Second // for anything that should happen soon
	shortWait      = 2 * time.Second  // for Watch to return once cancelled
)

// newClient returns a client for addr configured as New requires, closed
// when the test ends.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// uniqueChannel keeps the messages of each test apart on a shared server.
func uniqueChannel() string { return "test:" + rand.Text()[:12] }

func newFeed(t testing.TB, c redis.UniversalClient, cfg redisfeed.Config) *redisfeed.Feed {
	t.Helper()
	f, err := redisfeed.New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// watch runs f.Watch with inv until the test ends. The returned stop
// cancels it and returns what it returned; it fails the test if Watch
// does not return within shortWait.
func watch(t testing.TB, f *redisfeed.Feed, inv apikey.Invalidator) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Watch(ctx, inv) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			start := time.Now()
			select {
			case err = <-done:
			case <-time.After(shortWait):
				err = fmt.Errorf("Watch did not return within %v of its context's end", shortWait)
				t.Error(err)
			}
			if d := time.Since(start); d > shortWait/2 {
				t.Logf("Watch returned %v after its context's end", d)
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// recorder is an Invalidator that passes calls on to a Verifier, if any,
// and reports them on channels.
type recorder struct {
	v    *apikey.Verifier
	ids  chan string
	alls chan struct{}
}

func newRecorder(v *apikey.Verifier) *recorder {
	return &recorder{v: v, ids: make(chan string, 1000), alls: make(chan struct{}, 100)}
}

func (r *recorder) Invalidate(id string) {
	if r.v != nil {
		r.v.Invalidate(id)
	}
	r.ids <- id
}

func (r *recorder) InvalidateAll() {
	if r.v != nil {
		r.v.InvalidateAll()
	}
	r.alls <- struct{}{}
}

// wantAll waits for an InvalidateAll.
func (r *recorder) wantAll(t testing.TB) {
	t.Helper()
	select {
	case <-r.alls:
	case <-time.After(waitFor):
		t.Fatalf("no InvalidateAll within %v", waitFor)
	}
}

// wantID waits for the next Invalidate, which must be of want.
func (r *recorder) wantID(t testing.TB, want string) {
	t.Helper()
	select {
	case id := <-r.ids:
		if id != want {
			t.Fatalf("Invalidate(%.80q), want Invalidate(%q)", id, want)
		}
	case <-time.After(waitFor):
		t.Fatalf("no Invalidate(%q) within %v", want, waitFor)
	}
}

// noMore checks that nothing else was received.
func (r *recorder) noMore(t testing.TB) {
	t.Helper()
	select {
	case id := <-r.ids:
		t.Errorf("unexpected Invalidate(%.80q)", id)
	case <-r.alls:
		t.Errorf("unexpected InvalidateAll")
	default:
	}
}

// logRecord is one record a logs handler received.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (r logRecord) String() string { return fmt.Sprintf("%v %q %v", r.level, r.msg, r.attrs) }

// logs is a slog.Handler keeping what it receives, readable while written.
type logs struct {
	mu    sync.Mutex
	recs  []logRecord
	added chan struct{}
}

func newLogs() *logs { return &logs{added: make(chan struct{}, 1)} }

func (l *logs) logger() *slog.Logger { return slog.New(l) }

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) WithAttrs([]slog.Attr) slog.Handler       { panic("not used") }
func (l *logs) WithGroup(string) slog.Handler            { panic("not used") }

func (l *logs) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: make(map[string]string)}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	select {
	case l.added <- struct{}{}:
	default:
	}
	return nil
}

// all returns the records received so far.
func (l *logs) all() []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]logRecord(nil), l.recs...)
}

// count returns how many records with message msg were received.
func (l *logs) count(msg string) int {
	n := 0
	for _, r := range l.all() {
		if r.msg == msg {
			n++
		}
	}
	return n
}

// wait waits until n records with message msg have been received, and
// returns the nth.
func (l *logs) wait(t testing.TB, msg string, n int) logRecord {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		var found []logRecord
		for _, r := range l.all() {
			if r.msg == msg {
				found = append(found, r)
			}
		}
		if len(found) >= n {
			return found[n-1]
		}
		select {
		case <-l.added:
		case <-timeout:
			t.Fatalf("%d log records %q within %v, want %d; have %v", len(found), msg, waitFor, n, l.all())
		}
	}
}

// mustNotContain fails t if any record mentions one of ss.
func (l *logs) mustNotContain(t testing.TB, ss ...string) {
	t.Helper()
	for _, r := range l.all() {
		text := r.String()
		for _, s := range ss {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("log record %.200s mentions %.40q", text, s)
			}
		}
	}
}

// retryLog collects the backoff waits of a Feed's Watch.
type retryLog chan time.Duration

func onRetry(f *redisfeed.Feed) retryLog {
	r := make(retryLog, 1000)
	redisfeed.OnRetry(f, r.add)
	return r
}

func (r retryLog) add(d time.Duration) {
	select {
	case r <- d:
	default:
	}
}

// next returns the next wait.
func (r retryLog) next(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-r:
		return d
	case <-time.After(waitFor):
		t.Fatalf("no retry within %v", waitFor)
		return 0
	}
}

func (r retryLog) drain() {
	for {
		select {
		case <-r:
		default:
			return
		}
	}
}
