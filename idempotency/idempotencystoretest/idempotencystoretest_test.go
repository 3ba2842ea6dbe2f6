package idempotencystoretest_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/idempotency/idempotencystoretest"
)

// simple is a store written for these tests, plain enough to trust, with
// flags that break one rule each.
type simple struct {
	now    func() time.Time
	mu     sync.Mutex
	m      map[string]*entry
	broken string
}

type entry struct {
	fp     idempotency.Fingerprint
	token  uint64
	until  time.Time
	answer *idempotency.Answer
}

func (s *simple) id(account, key string) string {
	switch s.broken {
	case "no-account":
		return key
	case "fold-case":
		return strings.ToLower(account + "\x00" + key)
	case "concat":
		return account + key
	case "truncate":
		if len(key) > 64 {
			key = key[:64]
		}
	}
	return account + "\x00" + key
}

func (s *simple) Begin(ctx context.Context, account, key string, fp idempotency.Fingerprint, token uint64, lock time.Duration) (idempotency.Record, bool, error) {
	if s.broken != "racy" {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	id := s.id(account, key)
	var e *entry
	if s.broken == "racy" {
		s.mu.Lock()
		e = s.m[id]
		s.mu.Unlock()
		runtime.Gosched()
	} else {
		e = s.m[id]
	}
	now := s.now()
	if e != nil && (now.Before(e.until) || s.broken == "no-expiry") {
		rec := idempotency.Record{Fingerprint: e.fp, Answer: e.answer}
		if s.broken == "latest-fingerprint" {
			e.fp = fp
		}
		return rec, false, nil
	}
	if s.broken == "racy" {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	s.m[id] = &entry{fp: fp, token: token, until: now.Add(lock)}
	return idempotency.Record{}, true, nil
}

func (s *simple) Finish(ctx context.Context, account, key string, token uint64, a *idempotency.Answer, retain time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[s.id(account, key)]
	if e == nil || e.answer != nil || e.token != token && s.broken != "ignore-token" {
		return false, nil
	}
	if !s.now().Before(e.until) && s.broken != "late-finish" {
		delete(s.m, s.id(account, key))
		return false, nil
	}
	e.answer, e.until = a, s.now().Add(retain)
	if s.broken == "body-copy" && len(a.Body) > 0 {
		c := *a
		c.Body = append([]byte(nil), a.Body[:len(a.Body)-1]...)
		e.answer = &c
	}
	return true, nil
}

func (s *simple) Release(ctx context.Context, account, key string, token uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.id(account, key)
	if e := s.m[id]; e != nil && (e.answer == nil || s.broken == "release-answer") && (e.token == token || s.broken == "ignore-token") {
		delete(s.m, id)
	}
	return nil
}

func newSimple(broken string) func(now func() time.Time) (idempotency.Store, error) {
	return func(now func() time.Time) (idempotency.Store, error) {
		return &simple{now: now, m: map[string]*entry{}, broken: broken}, nil
	}
}

func TestSimple(t *testing.T) {
	idempotencystoretest.Run(t, func(t *testing.T, now func() time.Time) idempotency.Store {
		s, _ := newSimple("")(now)
		return s
	})
}

// TestSuiteFailsBrokenStores checks that the suite catches each way of
// breaking the contract, naming the rule that catches it.
func TestSuiteFailsBrokenStores(t *testing.T) {
	tests := []struct {
		broken string
		rule   string
	}{
		{"no-account", "Scope"},
		{"fold-case", "Scope"},
		{"truncate", "Scope"},
		{"concat", "Scope"},
		{"late-finish", "Lock"},
		{"no-expiry", "Lock"},
		{"latest-fingerprint", "Claim"},
		{"ignore-token", "Tokens"},
		{"release-answer", "Release"},
		{"body-copy", "Replay"},
		{"racy", "Exact"},
	}
	for _, tt := range tests {
		t.Run(tt.broken, func(t *testing.T) {
			err := idempotencystoretest.TestStore(context.Background(), newSimple(tt.broken))
			if err == nil {
				t.Fatalf("TestStore passed a store broken by %s", tt.broken)
			}
			if !strings.Contains(err.Error(), "idempotencystoretest: "+tt.rule+": ") {
				t.Errorf("TestStore of a store broken by %s did not fail rule %s:\n%v", tt.broken, tt.rule, err)
			}
		})
	}
}

func TestStoreStopsWhenDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := idempotencystoretest.TestStore(ctx, newSimple(""))
	if err == nil || !strings.Contains(err.Error(), "stopped before") {
		t.Errorf("TestStore with a done context = %v, want it to stop", err)
	}
}
