// Package storetest is a conformance suite for apikey.ManagedStore
// implementations, in the spirit of testing/slogtest. A store's tests call
//
//	func TestConformance(t *testing.T) {
//		storetest.TestStore(t, func(t *testing.T) apikey.ManagedStore {
//			return newEmptyStore(t)
//		})
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestStore runs the conformance suite. newStore must return a new, empty
// store for each call; it may register cleanups with t.
func TestStore(t *testing.T, newStore func(t *testing.T) apikey.ManagedStore) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s apikey.ManagedStore)
	}{
		{"CreateLookupRoundTrip", testRoundTrip},
		{"CreateConflict", testConflict},
		{"LookupNotFound", testNotFound},
		{"Update", testUpdate},
		{"UpdateNotFound", testUpdateNotFound},
		{"UpdateKeepsRevocation", testUpdateKeepsRevocation},
		{"List", testList},
		{"Touch", testTouch},
		{"DeepCopy", testDeepCopy},
		{"Concurrent", testConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// base is an instant with sub-second precision that every reasonable store
// can keep (microseconds).
var base = time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)

// fullKey returns a record with every field set.
func fullKey(id string) *apikey.Key {
	return &apikey.Key{
		ID:              id,
		Name:            "name of " + id,
		Type:            apikey.SecretKey,
		Environment:     apikey.Test,
		Permission:      apikey.ReadWrite,
		Scopes:          []string{"orders:read", "orders:write"},
		Owner:           "acct_1",
		Tier:            "gold",
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")},
		Disabled:        true,
		CreatedAt:       base,
		ExpiresAt:       base.Add(48 * time.Hour),
		RevokedAt:       base.Add(time.Hour),
		LastUsedAt:      base.Add(time.Minute),
		Metadata:        map[string]string{"team": "billing", "ticket": "T-1"},
		Hash:            "sha256$47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
	}
}

// keyDiff compares records, times with Equal (so locations and monotonic
// readings do not matter) and empty and nil collections as equal.
var keyDiff = cmp.Options{cmpopts.EquateEmpty(), cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })}

func ctx(t *testing.T) context.Context { return t.Context() }

func create(t *testing.T, s apikey.ManagedStore, k *apikey.Key) {
	t.Helper()
	if err := s.CreateKey(ctx(t), k); err != nil {
		t.Fatalf("CreateKey(%s) = %v", k.ID, err)
	}
}

func lookup(t *testing.T, s apikey.ManagedStore, id string) *apikey.Key {
	t.Helper()
	k, err := s.LookupKey(ctx(t), id)
	if err != nil {
		t.Fatalf("LookupKey(%s) = %v", id, err)
	}
	return k
}

func testRoundTrip(t *testing.T, s apikey.ManagedStore) {
	want := fullKey("AAAAAAAAAAA1")
	create(t, s, want.Clone())
	if diff := cmp.Diff(want, lookup(t, s, want.ID), keyDiff); diff != "" {
		t.Errorf("record changed in a round trip (-created +looked up):\n%s", diff)
	}
	minimal := &apikey.Key{ID: "AAAAAAAAAAA2", Type: apikey.PublishableKey, Environment: apikey.Live, CreatedAt: base, Hash: "sha256$x"}
	create(t, s, minimal.Clone())
	got := lookup(t, s, minimal.ID)
	if diff := cmp.Diff(minimal, got, keyDiff); diff != "" {
		t.Errorf("minimal record changed in a round trip (-created +looked up):\n%s", diff)
	}
	for name, tm := range map[string]time.Time{"ExpiresAt": got.ExpiresAt, "RevokedAt": got.RevokedAt, "LastUsedAt": got.LastUsedAt} {
		if !tm.IsZero() {
			t.Errorf("unset %s came back as %v, want the zero time", name, tm)
		}
	}
}

func testConflict(t *testing.T, s apikey.ManagedStore) {
	create(t, s, fullKey("AAAAAAAAAAA1"))
	other := fullKey("AAAAAAAAAAA1")
	other.Name = "intruder"
	if err := s.CreateKey(ctx(t), other); !errors.Is(err, apikey.ErrConflict) {
		t.Fatalf("CreateKey with a taken id = %v, want ErrConflict", err)
	}
	if got := lookup(t, s, "AAAAAAAAAAA1"); got.Name == "intruder" {
		t.Errorf("a conflicting CreateKey overwrote the record")
	}
}

func testNotFound(t *testing.T, s apikey.ManagedStore) {
	_, err := s.LookupKey(ctx(t), "ZZZZZZZZZZZZ")
	if !errors.Is(err, apikey.ErrNotFound) {
		t.Fatalf("LookupKey of an unknown id = %v, want ErrNotFound", err)
	}
	if errors.Is(err, apikey.ErrUnavailable) {
		t.Errorf("LookupKey of an unknown id = %v, which also matches ErrUnavailable", err)
	}
	// A store that cannot answer must not claim the key does not exist.
	canceled, cancel := context.WithCancel(ctx(t))
	cancel()
	if _, err := s.LookupKey(canceled, "ZZZZZZZZZZZZ"); errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("LookupKey with a canceled context = %v; a failure to look up must not match ErrNotFound", err)
	}
}

func testUpdate(t *testing.T, s apikey.ManagedStore) {
	k := fullKey("AAAAAAAAAAA1")
	k.RevokedAt = time.Time{}
	create(t, s, k.Clone())
	k.Name = "renamed"
	k.Disabled = false
	k.Scopes = []string{"x"}
	k.Metadata = map[string]string{"a": "b"}
	k.AllowedNetworks = nil
	k.ExpiresAt = time.Time{}
	k.RevokedAt = base.Add(2 * time.Hour)
	if err := s.UpdateKey(ctx(t), k.Clone()); err != nil {
		t.Fatalf("UpdateKey = %v", err)
	}
	if diff := cmp.Diff(k, lookup(t, s, k.ID), keyDiff); diff != "" {
		t.Errorf("after UpdateKey (-want +got):\n%s", diff)
	}
}

func testUpdateNotFound(t *testing.T, s apikey.ManagedStore) {
	if err := s.UpdateKey(ctx(t), fullKey("ZZZZZZZZZZZZ")); !errors.Is(err, apikey.ErrNotFound) {
		t.Fatalf("UpdateKey of an unknown id = %v, want ErrNotFound", err)
	}
	if _, err := s.LookupKey(ctx(t), "ZZZZZZZZZZZZ"); !errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("UpdateKey of an unknown id created it (LookupKey = %v)", err)
	}
}

func testUpdateKeepsRevocation(t *testing.T, s apikey.ManagedStore) {
	k := fullKey("AAAAAAAAAAA1")
	create(t, s, k.Clone())
	stale := k.Clone()
	stale.RevokedAt = time.Time{}
	stale.LastUsedAt = base // earlier than stored
	if err := s.UpdateKey(ctx(t), stale); err != nil {
		t.Fatalf("UpdateKey = %v", err)
	}
	got := lookup(t, s, k.ID)
	if !got.RevokedAt.Equal(k.RevokedAt) {
		t.Errorf("UpdateKey without RevokedAt un-revoked the key: RevokedAt = %v, want %v", got.RevokedAt, k.RevokedAt)
	}
	if !got.LastUsedAt.Equal(k.LastUsedAt) {
		t.Errorf("UpdateKey moved LastUsedAt back to %v, want %v", got.LastUsedAt, k.LastUsedAt)
	}
}

func testList(t *testing.T, s apikey.ManagedStore) {
	type rec struct {
		id    string
		owner string
		env   apikey.Environment
		at    time.Duration
	}
	recs := []rec{
		{"AAAAAAAAAAA5", "alice", apikey.Live, 2 * time.Second},
		{"AAAAAAAAAAA1", "bob", apikey.Live, 1 * time.Second},
		{"AAAAAAAAAAA3", "alice", apikey.Test, 1 * time.Second},
		{"AAAAAAAAAAA2", "alice", apikey.Live, 1 * time.Second},
		{"AAAAAAAAAAA4", "carol", apikey.Test, 0},
	}
	for _, r := range recs {
		k := fullKey(r.id)
		k.Owner, k.Environment, k.CreatedAt = r.owner, r.env, base.Add(r.at)
		create(t, s, k)
	}
	for _, tc := range []struct {
		f    apikey.ListFilter
		want []string
	}{
		{apikey.ListFilter{}, []string{"AAAAAAAAAAA4", "AAAAAAAAAAA1", "AAAAAAAAAAA2", "AAAAAAAAAAA3", "AAAAAAAAAAA5"}},
		{apikey.ListFilter{Owner: "alice"}, []string{"AAAAAAAAAAA2", "AAAAAAAAAAA3", "AAAAAAAAAAA5"}},
		{apikey.ListFilter{Environment: apikey.Live}, []string{"AAAAAAAAAAA1", "AAAAAAAAAAA2", "AAAAAAAAAAA5"}},
		{apikey.ListFilter{Owner: "alice", Environment: apikey.Test}, []string{"AAAAAAAAAAA3"}},
		{apikey.ListFilter{Owner: "nobody"}, nil},
	} {
		ks, err := s.ListKeys(ctx(t), tc.f)
		if err != nil {
			t.Fatalf("ListKeys(%+v) = %v", tc.f, err)
		}
		var got []string
		for _, k := range ks {
			got = append(got, k.ID)
		}
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ListKeys(%+v) ids (-want +got):\n%s", tc.f, diff)
		}
	}
	ks, _ := s.ListKeys(ctx(t), apikey.ListFilter{Owner: "bob"})
	if len(ks) == 1 {
		want := fullKey("AAAAAAAAAAA1")
		want.Owner, want.Environment, want.CreatedAt = "bob", apikey.Live, base.Add(time.Second)
		if diff := cmp.Diff(want, ks[0], keyDiff); diff != "" {
			t.Errorf("ListKeys record (-want +got):\n%s", diff)
		}
	}
}

func testTouch(t *testing.T, s apikey.ManagedStore) {
	a, b := fullKey("AAAAAAAAAAA1"), fullKey("AAAAAAAAAAA2")
	b.LastUsedAt = time.Time{}
	create(t, s, a.Clone())
	create(t, s, b.Clone())
	later := base.Add(time.Hour)
	err := s.TouchKeys(ctx(t), map[string]time.Time{
		a.ID:           base, // earlier than a's LastUsedAt: no change
		b.ID:           later,
		"ZZZZZZZZZZZZ": later, // unknown: ignored
	})
	if err != nil {
		t.Fatalf("TouchKeys = %v", err)
	}
	if got := lookup(t, s, a.ID).LastUsedAt; !got.Equal(a.LastUsedAt) {
		t.Errorf("TouchKeys with an earlier time moved LastUsedAt to %v, want %v", got, a.LastUsedAt)
	}
	gotB := lookup(t, s, b.ID)
	if !gotB.LastUsedAt.Equal(later) {
		t.Errorf("after TouchKeys LastUsedAt = %v, want %v", gotB.LastUsedAt, later)
	}
	b.LastUsedAt = later
	if diff := cmp.Diff(b, gotB, keyDiff); diff != "" {
		t.Errorf("TouchKeys changed more than LastUsedAt (-want +got):\n%s", diff)
	}
	if _, err := s.LookupKey(ctx(t), "ZZZZZZZZZZZZ"); !errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("TouchKeys of an unknown id created it (LookupKey = %v)", err)
	}
}

func testDeepCopy(t *testing.T, s apikey.ManagedStore) {
	want := fullKey("AAAAAAAAAAA1")
	in := want.Clone()
	create(t, s, in)
	scribble := func(k *apikey.Key) {
		k.Name = "scribbled"
		k.Scopes[0] = "scribbled"
		k.AllowedNetworks[0] = netip.MustParsePrefix("0.0.0.0/0")
		k.Metadata["team"] = "scribbled"
		k.Metadata["new"] = "scribbled"
	}
	scribble(in)
	got := lookup(t, s, want.ID)
	scribble(got)
	ks, err := s.ListKeys(ctx(t), apikey.ListFilter{})
	if err != nil || len(ks) != 1 {
		t.Fatalf("ListKeys = %d keys, %v", len(ks), err)
	}
	scribble(ks[0])
	upd := want.Clone()
	if err := s.UpdateKey(ctx(t), upd); err != nil {
		t.Fatalf("UpdateKey = %v", err)
	}
	scribble(upd)
	if diff := cmp.Diff(want, lookup(t, s, want.ID), keyDiff); diff != "" {
		t.Errorf("mutating records passed to or returned by the store changed the stored record (-want +got):\n%s", diff)
	}
}

func testConcurrent(t *testing.T, s apikey.ManagedStore) {
	const workers, perWorker = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker*4)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				id := fmt.Sprintf("W%02dK%08d", w, i)
				k := fullKey(id)
				if err := s.CreateKey(ctx(t), k); err != nil {
					errs <- fmt.Errorf("CreateKey(%s): %w", id, err)
					continue
				}
				if _, err := s.LookupKey(ctx(t), id); err != nil {
					errs <- fmt.Errorf("LookupKey(%s): %w", id, err)
				}
				k.Name = "updated"
				if err := s.UpdateKey(ctx(t), k); err != nil {
					errs <- fmt.Errorf("UpdateKey(%s): %w", id, err)
				}
				if err := s.TouchKeys(ctx(t), map[string]time.Time{id: base.Add(time.Duration(i) * time.Hour)}); err != nil {
					errs <- fmt.Errorf("TouchKeys(%s): %w", id, err)
				}
				if _, err := s.ListKeys(ctx(t), apikey.ListFilter{Owner: "acct_1"}); err != nil {
					errs <- fmt.Errorf("ListKeys: %w", err)
				}
			}
		})
	}
	// Everyone races for the same id too: exactly one must win.
	var wins sync.Map
	for w := range workers {
		wg.Go(func() {
			if err := s.CreateKey(ctx(t), fullKey("SAMESAMESAME")); err == nil {
				wins.Store(w, true)
			} else if !errors.Is(err, apikey.ErrConflict) {
				errs <- fmt.Errorf("racing CreateKey: %w", err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n := 0
	wins.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Errorf("%d concurrent CreateKey calls with one id succeeded, want exactly 1", n)
	}
	ks, err := s.ListKeys(ctx(t), apikey.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != workers*perWorker+1 {
		t.Errorf("ListKeys after concurrent creates = %d keys, want %d", len(ks), workers*perWorker+1)
	}
}
