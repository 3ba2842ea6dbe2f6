package keystoretest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// checkListFilter: ListKeys returns exactly the records that
// apikey.ListFilter.Match accepts, each once: owners compare exactly
// (case included) and a zero field matches any key.
func checkListFilter(c *checker) {
	if ks := c.list(apikey.ListFilter{}); len(ks) != 0 {
		c.errorf("ListKeys of an empty store returned %d records", len(ks))
	}
	recs := []struct {
		id, owner string
		env       apikey.Environment
	}{
		{"AAAAAAAAAAA5", "alice", apikey.Live},
		{"AAAAAAAAAAA1", "bob", apikey.Live},
		{"AAAAAAAAAAA3", "alice", apikey.Test},
		{"AAAAAAAAAAA2", "alice", apikey.Live},
		{"AAAAAAAAAAA4", "carol", apikey.Test},
		{"AAAAAAAAAAA6", "Alice", apikey.Live},
		{"AAAAAAAAAAA7", "", apikey.Test},
	}
	var all []*apikey.Key
	for i, r := range recs {
		k := minimalKey(r.id)
		k.Owner, k.Environment = r.owner, r.env
		k.CreatedAt = base.Add(time.Duration(i) * time.Second)
		c.create(k.Clone())
		all = append(all, k)
	}
	for _, f := range []apikey.ListFilter{
		{},
		{Owner: "alice"},
		{Owner: "Alice"},
		{Owner: "bob"},
		{Environment: apikey.Live},
		{Environment: apikey.Test},
		{Owner: "alice", Environment: apikey.Test},
		{Owner: "carol", Environment: apikey.Live},
		{Owner: "nobody"},
	} {
		var want []string
		for _, k := range all {
			if f.Match(k) {
				want = append(want, k.ID)
			}
		}
		got := ids(c.list(f))
		slices.Sort(want)
		slices.Sort(got) // the order is ListOrder's business
		if !slices.Equal(got, want) {
			c.errorf("ListKeys(%s) returned the ids %q, want %q (in any order here)", showFilter(f), got, want)
		}
	}
}

// checkListOrder: ListKeys returns records ordered by CreatedAt, as
// instants (whatever their location), then by ID in byte order (as Go
// compares strings: "B…" before "a…"), with and without a filter.
func checkListOrder(c *checker) {
	east, west := time.FixedZone("UTC+10", 10*3600), time.FixedZone("UTC-10", -10*3600)
	recs := []struct {
		id string
		at time.Time
	}{
		// Created in no particular order.
		{"b00000000000", base.Add(time.Microsecond)},
		{"B00000000000", base},
		{"D00000000000", base.Add(2 * time.Hour).In(west)}, // later, though its wall clock reads earlier
		{"a00000000000", base},
		{"000000000000", base},
		{"E00000000000", base.Add(-2 * time.Hour).In(east)}, // earlier, though its wall clock reads later
		{"Z00000000000", base},
		{"A00000000001", base.Add(-time.Microsecond)},
		{"C00000000000", base.Add(time.Second)},
	}
	var all []*apikey.Key
	for i, r := range recs {
		k := minimalKey(r.id)
		k.CreatedAt = r.at
		if i%2 == 0 {
			k.Owner, k.Environment = "acct_1", apikey.Test
		}
		c.create(k.Clone())
		all = append(all, k)
	}
	slices.SortFunc(all, func(a, b *apikey.Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	for _, f := range []apikey.ListFilter{{}, {Owner: "acct_1"}, {Environment: apikey.Live}} {
		var want []string
		for _, k := range all {
			if f.Match(k) {
				want = append(want, k.ID)
			}
		}
		if got := ids(c.list(f)); !slices.Equal(got, want) {
			c.errorf("ListKeys(%s) returned the ids in the order %q, want %q", showFilter(f), got, want)
		}
	}
}

// checkListRecords: the records ListKeys returns are complete, as
// LookupKey returns them.
func checkListRecords(c *checker) {
	full, minimal := fullKey("AAAAAAAAAAA1"), minimalKey("AAAAAAAAAAA2")
	minimal.CreatedAt = base.Add(time.Second)
	c.create(full.Clone())
	c.create(minimal.Clone())
	for _, f := range []apikey.ListFilter{{}, {Owner: full.Owner}, {Environment: minimal.Environment}} {
		ks := c.list(f)
		if want := countMatches(f, full, minimal); len(ks) != want {
			c.errorf("ListKeys(%s) returned %d records, want %d", showFilter(f), len(ks), want)
		}
		for _, got := range ks {
			want := full
			if got.ID == minimal.ID {
				want = minimal
			}
			c.expect(fmt.Sprintf("ListKeys(%s), record %s", showFilter(f), got.ID), got, want)
		}
	}
}

// countMatches returns the number of ks that f matches.
func countMatches(f apikey.ListFilter, ks ...*apikey.Key) int {
	n := 0
	for _, k := range ks {
		if f.Match(k) {
			n++
		}
	}
	return n
}
