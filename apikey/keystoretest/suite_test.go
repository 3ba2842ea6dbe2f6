package keystoretest

import (
	"context"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gatekey/gatekey/apikey"
)

// TestFieldsCoverKey fails when apikey.Key gains a field that the suite's
// comparison of records does not know.
func TestFieldsCoverKey(t *testing.T) {
	typ := reflect.TypeFor[apikey.Key]()
	var want, got []string
	for i := range typ.NumField() {
		want = append(want, typ.Field(i).Name)
	}
	for _, f := range fields {
		got = append(got, f.name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("fields = %v, want the fields of apikey.Key, %v", got, want)
	}
}

// TestDocNamesEveryRule checks that rule names are distinct words and
// that the package doc lists each of them.
func TestDocNamesEveryRule(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for _, r := range rules {
		if seen[r.name] || strings.ContainsAny(r.name, " :") {
			t.Errorf("rule name %q is repeated or not a word", r.name)
		}
		seen[r.name] = true
		if !strings.Contains(string(doc), r.name) {
			t.Errorf("the package doc does not list rule %s", r.name)
		}
	}
}

func TestStoreMemoryStore(t *testing.T) {
	err := TestStore(t.Context(), func() (apikey.ManagedStore, error) { return new(apikey.MemoryStore), nil })
	if err != nil {
		t.Errorf("TestStore(MemoryStore) =\n%v", err)
	}
}

// TestRunSubtests checks that Run calls newStore once per rule, in a
// subtest named after the rule.
func TestRunSubtests(t *testing.T) {
	var got []string
	Run(t, func(t *testing.T) apikey.ManagedStore {
		got = append(got, t.Name())
		return new(apikey.MemoryStore)
	})
	var want []string
	for _, r := range rules {
		want = append(want, "TestRunSubtests/"+r.name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("newStore called in subtests %q, want %q", got, want)
	}
}

// TestStoreStops checks that TestStore stops, saying why, when its context
// is done or newStore fails.
func TestStoreStops(t *testing.T) {
	errDB := errors.New("no database")
	tests := []struct {
		name        string
		cancelFirst bool
		newStore    func(calls int, cancel context.CancelFunc) (apikey.ManagedStore, error)
		wantCalls   int
		wantIs      error  // the error must match it
		wantMsg     string // and contain this
	}{
		{
			name: "canceled during a rule",
			newStore: func(calls int, cancel context.CancelFunc) (apikey.ManagedStore, error) {
				if calls == 2 {
					cancel()
				}
				return new(apikey.MemoryStore), nil
			},
			wantCalls: 2, wantIs: context.Canceled, wantMsg: "keystoretest: stopped during " + rules[1].name,
		},
		{
			name:        "canceled before the run",
			cancelFirst: true,
			newStore: func(calls int, _ context.CancelFunc) (apikey.ManagedStore, error) {
				return new(apikey.MemoryStore), nil
			},
			wantCalls: 0, wantIs: context.Canceled, wantMsg: "keystoretest: stopped before " + rules[0].name,
		},
		{
			name: "newStore fails",
			newStore: func(calls int, _ context.CancelFunc) (apikey.ManagedStore, error) {
				return nil, errDB
			},
			wantCalls: 1, wantIs: errDB, wantMsg: "keystoretest: stopped before " + rules[0].name + ": newStore: no database",
		},
		{
			name: "newStore returns nil",
			newStore: func(calls int, _ context.CancelFunc) (apikey.ManagedStore, error) {
				return nil, nil
			},
			wantCalls: 1, wantMsg: "newStore: returned a nil store",
		},
		{
			name: "newStore panics",
			newStore: func(calls int, _ context.CancelFunc) (apikey.ManagedStore, error) {
				panic("boom")
			},
			wantCalls: 1, wantMsg: "newStore: panicked at suite_test.go:",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.cancelFirst {
				cancel()
			}
			calls := 0
			err := TestStore(ctx, func() (apikey.ManagedStore, error) {
				calls++
				return tc.newStore(calls, cancel)
			})
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) || tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("TestStore = %v, want an error containing %q and matching %v", err, tc.wantMsg, tc.wantIs)
			}
			if calls != tc.wantCalls {
				t.Errorf("newStore called %d times, want %d", calls, tc.wantCalls)
			}
		})
	}
}

// TestNonEmptyStore checks that every rule refuses a store that is not
// empty, as newStore must return.
func TestNonEmptyStore(t *testing.T) {
	err := TestStore(t.Context(), func() (apikey.ManagedStore, error) {
		s := new(apikey.MemoryStore)
		return s, s.CreateKey(t.Context(), minimalKey("LEFTOVER0001"))
	})
	for _, r := range rules {
		if want := "keystoretest: " + r.name + ": newStore returned a store holding records"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("TestStore = %v, want an error containing %q", err, want)
		}
	}
}
