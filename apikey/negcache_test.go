package apikey

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The negative cache forgets the oldest id added when full, skipping ids
// already forgotten otherwise.
func TestNegCacheEvictsOldest(t *testing.T) {
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	c := newNegCache(time.Hour, 3)
	ids := func() string { return strings.Join(slices.Sorted(maps.Keys(c.m)), " ") }
	for _, step := range []struct {
		add, drop string
		want      string
	}{
		{add: "a", want: "a"},
		{add: "b", want: "a b"},
		{add: "c", want: "a b c"},
		{add: "d", want: "b c d"},
		{drop: "c", want: "b d"},
		{add: "e", want: "d e"},   // b was the oldest
		{add: "f", want: "d e f"}, // c's slot was stale: nothing to forget
		{add: "e", want: "e f"},   // e added again: d goes, e moves to d's slot
		{add: "g", want: "e f g"}, // e's old slot is stale
		{add: "h", want: "e g h"}, // f
		{add: "i", want: "g h i"}, // e
	} {
		if step.drop != "" {
			c.drop(step.drop)
		} else {
			c.add(step.add, now)
		}
		if got := ids(); got != step.want {
			t.Fatalf("after %+v: negative cache holds %q, want %q", step, got, step.want)
		}
	}
}

func TestNegCacheExpiry(t *testing.T) {
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	c := newNegCache(10*time.Second, 10)
	c.add("a", now)
	c.add("b", now.Add(5*time.Second))
	for _, tc := range []struct {
		id   string
		at   time.Duration
		want bool
	}{
		{"a", 0, true},
		{"a", 10*time.Second - 1, true},
		{"a", 10 * time.Second, false}, // and forgotten
		{"a", 0, false},
		{"b", 14 * time.Second, true},
		{"c", 0, false},
	} {
		if got := c.has(tc.id, now.Add(tc.at)); got != tc.want {
			t.Errorf("has(%s) at +%v = %v, want %v", tc.id, tc.at, got, tc.want)
		}
	}
	c.sweep(now.Add(15 * time.Second))
	if c.len() != 0 {
		t.Errorf("%d ids after sweeping past every expiry", c.len())
	}
	off := newNegCache(time.Hour, -1)
	off.add("a", now)
	if off.has("a", now) {
		t.Error("a negative cache of size -1 remembered an id")
	}
}

// BenchmarkNegCacheAdd adds ids to a full cache: the time per add must not
// grow with the size (the cache evicts in constant time).
func BenchmarkNegCacheAdd(b *testing.B) {
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, size := range []int{250, 10000} {
		b.Run("size="+strconv.Itoa(size), func(b *testing.B) {
			c := newNegCache(time.Hour, size)
			ids := make([]string, 2*size)
			for i := range ids {
				ids[i] = strconv.Itoa(i)
			}
			for _, id := range ids[:size] {
				c.add(id, now)
			}
			i := 0
			for b.Loop() {
				c.add(ids[i%len(ids)], now)
				i++
			}
		})
	}
}
