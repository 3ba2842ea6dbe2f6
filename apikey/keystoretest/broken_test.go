package keystoretest_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/keystoretest"
)

// A flaw is a deliberate bug of flawedStore, each one a way a real store
// can break the contract.
type flaw string

// The flaws, each with the rules that must catch it.
var flaws = []struct {
	flaw   flaw
	caught []string
}{
	{"drops Scopes", []string{"RoundTrip", "Update"}},
	{"drops Metadata", []string{"RoundTrip", "Update"}},
	{"drops AllowedNetworks", []string{"RoundTrip", "Update"}},
	{"drops Metadata entries with an empty value", []string{"RoundTrip"}},
	{"stores unset times as the Unix epoch", []string{"RoundTrip"}},
	{"keeps times to the millisecond", []string{"TimePrecision", "RoundTrip"}},
	{"stores wall clocks as UTC", []string{"TimePrecision", "ListOrder"}},
	{"shares records with callers", []string{"DeepCopy"}},
	{"folds the case of ids", []string{"CaseSensitiveIDs"}},
	{"overwrites on CreateKey of a taken id", []string{"CreateConflict"}},
	{"reports an unknown id as unavailable", []string{"LookupNotFound"}},
	{"returns nil, nil for an unknown id", []string{"LookupNotFound"}},
	{"creates on UpdateKey of an unknown id", []string{"UpdateNotFound"}},
	{"reports a done context as not found", []string{"ContextCanceled", "ContextDeadline"}},
	{"ignores the context", []string{"ContextCanceled", "ContextDeadline"}},
	{"drops the error of TouchKeys", []string{"ContextCanceled", "ContextDeadline"}},
	{"un-revokes on UpdateKey", []string{"UpdateKeepsRevocation"}},
	{"moves LastUsedAt backwards on UpdateKey", []string{"UpdateKeepsLastUse"}},
	{"TouchKeys writes nothing", []string{"TouchKeys"}},
	{"TouchKeys moves LastUsedAt backwards", []string{"TouchKeys"}},
	{"TouchKeys applies one id of the batch", []string{"TouchKeys"}},
	{"TouchKeys creates unknown ids", []string{"TouchKeys"}},
	{"ListKeys ignores Environment", []string{"ListFilter"}},
	{"ListKeys folds the case of owners", []string{"ListFilter"}},
	{"ListKeys orders by ID only", []string{"ListOrder"}},
	{"ListKeys collates ids ignoring case", []string{"ListOrder"}},
	{"ListKeys drops Metadata", []string{"ListRecords"}},
	{"LookupKey panics", []string{"RoundTrip", "LookupNotFound", "CaseSensitiveIDs"}},
}

// TestBrokenStores checks that the suite catches every flaw with the
// rules expected, and never panics itself.
func TestBrokenStores(t *testing.T) {
	for _, tc := range flaws {
		t.Run(string(tc.flaw), func(t *testing.T) {
			err := keystoretest.TestStore(t.Context(), func() (apikey.ManagedStore, error) {
				return &flawedStore{flaw: tc.flaw, keys: make(map[string]*apikey.Key)}, nil
			})
			if err == nil {
				t.Fatalf("TestStore passed a store that %s", tc.flaw)
			}
			broken := brokenRules(t, err)
			for _, r := range tc.caught {
				if _, ok := broken[r]; !ok {
					t.Errorf("rule %s did not catch a store that %s; it broke %v", r, tc.flaw, slices.Sorted(maps.Keys(broken)))
				}
			}
			for r, msg := range broken {
				if strings.Contains(msg, "suite panicked") {
					t.Errorf("rule %s: %s", r, msg)
				}
			}
			t.Logf("caught by %v", slices.Sorted(maps.Keys(broken)))
		})
	}
}

// TestPanicNamesMethod checks that a store's panic is reported with the
// method and the place it panicked.
func TestPanicNamesMethod(t *testing.T) {
	err := keystoretest.TestStore(t.Context(), func() (apikey.ManagedStore, error) {
		return &flawedStore{flaw: "LookupKey panics", keys: make(map[string]*apikey.Key)}, nil
	})
	msg := brokenRules(t, err)["RoundTrip"]
	if want := "LookupKey panicked at broken_test.go:"; !strings.Contains(msg, want) {
		t.Errorf("RoundTrip: %s\nwant a message containing %q", msg, want)
	}
}

// brokenRules returns the rules err reports broken, with their messages.
// Each error joined in err must read "keystoretest: Rule: problem…".
func brokenRules(t *testing.T, err error) map[string]string {
	t.Helper()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("TestStore error is not a joined error: %v", err)
	}
	broken := make(map[string]string)
	for _, e := range joined.Unwrap() {
		rest, ok := strings.CutPrefix(e.Error(), "keystoretest: ")
		rule, msg, ok2 := strings.Cut(rest, ": ")
		if !ok || !ok2 || strings.Contains(rule, " ") {
			t.Fatalf("TestStore error %q does not start with \"keystoretest: Rule: \"", e)
		}
		broken[rule] = msg
	}
	return broken
}

// flawedStore is a correct ManagedStore but for its one flaw.
type flawedStore struct {
	flaw flaw
	mu   sync.Mutex
	keys map[string]*apikey.Key
}

func (s *flawedStore) has(f flaw) bool { return s.flaw == f }

func (s *flawedStore) ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil && !s.has("ignores the context") {
		if s.has("reports a done context as not found") {
			return apikey.ErrNotFound
		}
		return fmt.Errorf("flawed: %w: %w", apikey.ErrUnavailable, err)
	}
	return nil
}

// in returns the record to store for k.
func (s *flawedStore) in(k *apikey.Key) *apikey.Key {
	if s.has("shares records with callers") {
		return k
	}
	c := k.Clone()
	times := []*time.Time{&c.CreatedAt, &c.ExpiresAt, &c.RevokedAt, &c.LastUsedAt}
	switch s.flaw {
	case "drops Scopes":
		c.Scopes = nil
	case "drops Metadata":
		c.Metadata = nil
	case "drops AllowedNetworks":
		c.AllowedNetworks = nil
	case "drops Metadata entries with an empty value":
		maps.DeleteFunc(c.Metadata, func(_, v string) bool { return v == "" })
	case "stores unset times as the Unix epoch":
		for _, t := range times {
			if t.IsZero() {
				*t = time.Unix(0, 0).UTC()
			}
		}
	case "keeps times to the millisecond":
		for _, t := range times {
			*t = t.Truncate(time.Millisecond)
		}
	case "stores wall clocks as UTC":
		for _, t := range times {
			if !t.IsZero() {
				*t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
			}
		}
	}
	return c
}

// out returns the record to hand out for k.
func (s *flawedStore) out(k *apikey.Key) *apikey.Key {
	if s.has("shares records with callers") {
		return k
	}
	return k.Clone()
}

// find returns the record with id; s.mu is held.
func (s *flawedStore) find(id string) (*apikey.Key, bool) {
	if k, ok := s.keys[id]; ok {
		return k, true
	}
	if s.has("folds the case of ids") {
		for kid, k := range s.keys {
			if strings.EqualFold(kid, id) {
				return k, true
			}
		}
	}
	return nil, false
}

func (s *flawedStore) LookupKey(ctx context.Context, id string) (*apikey.Key, error) {
	if s.has("LookupKey panics") {
		var scopes []string
		return nil, errors.New(scopes[len(id)]) // index out of range
	}
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.find(id)
	switch {
	case ok:
		return s.out(k), nil
	case s.has("reports an unknown id as unavailable"):
		return nil, fmt.Errorf("flawed: %w: no row", apikey.ErrUnavailable)
	case s.has("returns nil, nil for an unknown id"):
		return nil, nil
	}
	return nil, apikey.ErrNotFound
}

func (s *flawedStore) CreateKey(ctx context.Context, k *apikey.Key) error {
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.find(k.ID); ok && !s.has("overwrites on CreateKey of a taken id") {
		return apikey.ErrConflict
	}
	s.keys[k.ID] = s.in(k)
	return nil
}

func (s *flawedStore) UpdateKey(ctx context.Context, k *apikey.Key) error {
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.find(k.ID)
	if !ok {
		if s.has("creates on UpdateKey of an unknown id") {
			s.keys[k.ID] = s.in(k)
			return nil
		}
		return apikey.ErrNotFound
	}
	n := s.in(k)
	if !old.RevokedAt.IsZero() && !s.has("un-revokes on UpdateKey") {
		n.RevokedAt = old.RevokedAt
	}
	if old.LastUsedAt.After(n.LastUsedAt) && !s.has("moves LastUsedAt backwards on UpdateKey") {
		n.LastUsedAt = old.LastUsedAt
	}
	s.keys[old.ID] = n
	return nil
}

func (s *flawedStore) ListKeys(ctx context.Context, f apikey.ListFilter) ([]*apikey.Key, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	match := f.Match
	switch s.flaw {
	case "ListKeys ignores Environment":
		match = apikey.ListFilter{Owner: f.Owner}.Match
	case "ListKeys folds the case of owners":
		match = func(k *apikey.Key) bool {
			return (f.Owner == "" || strings.EqualFold(k.Owner, f.Owner)) && apikey.ListFilter{Environment: f.Environment}.Match(k)
		}
	}
	var out []*apikey.Key
	for _, k := range s.keys {
		if match(k) {
			c := s.out(k)
			if s.has("ListKeys drops Metadata") {
				c.Metadata = nil
			}
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *apikey.Key) int {
		switch s.flaw {
		case "ListKeys orders by ID only":
			return cmp.Compare(a.ID, b.ID)
		case "ListKeys collates ids ignoring case":
			return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(strings.ToLower(a.ID), strings.ToLower(b.ID)))
		}
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (s *flawedStore) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	if ctx.Err() != nil && s.has("drops the error of TouchKeys") {
		return nil
	}
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	if s.has("TouchKeys writes nothing") {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(lastUsed)) {
		t := lastUsed[id]
		k, ok := s.find(id)
		switch {
		case !ok && s.has("TouchKeys creates unknown ids"):
			s.keys[id] = &apikey.Key{ID: id, Type: apikey.SecretKey, Environment: apikey.Live, LastUsedAt: t}
		case ok && (t.After(k.LastUsedAt) || s.has("TouchKeys moves LastUsedAt backwards")):
			k.LastUsedAt = t
		}
		if s.has("TouchKeys applies one id of the batch") {
			break
		}
	}
	return nil
}
