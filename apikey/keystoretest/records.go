package keystoretest

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// checkRoundTrip: a record comes back from LookupKey as it was created,
// every field of it, unset times as the zero time.
func checkRoundTrip(c *checker) {
	for _, want := range []*apikey.Key{fullKey("AAAAAAAAAAA1"), minimalKey("AAAAAAAAAAA2")} {
		c.create(want.Clone())
		c.expect(fmt.Sprintf("LookupKey(%s) after CreateKey", want.ID), c.lookup(want.ID), want)
	}
}

// timeFields are the time fields of a Key.
var timeFields = []struct {
	name string
	get  func(*apikey.Key) time.Time
}{
	{"CreatedAt", func(k *apikey.Key) time.Time { return k.CreatedAt }},
	{"ExpiresAt", func(k *apikey.Key) time.Time { return k.ExpiresAt }},
	{"RevokedAt", func(k *apikey.Key) time.Time { return k.RevokedAt }},
	{"LastUsedAt", func(k *apikey.Key) time.Time { return k.LastUsedAt }},
}

// expectTimes checks the times of got against want: the same instant
// when within is 0, otherwise less than within apart.
func (c *checker) expectTimes(what string, got, want *apikey.Key, within time.Duration) {
	for _, f := range timeFields {
		g, w := f.get(got), f.get(want)
		d := g.Sub(w)
		switch {
		case g.IsZero() != w.IsZero():
			c.errorf("%s: %s = %s, want %s", what, f.name, show(g), show(w))
		case within == 0 && !g.Equal(w):
			c.errorf("%s: %s = %s, want %s: the store must keep whole microseconds, in any location",
				what, f.name, show(g), show(w))
		case within > 0 && (d >= within || d <= -within):
			c.errorf("%s: %s = %s, want %s give or take less than %v", what, f.name, show(g), show(w), within)
		}
	}
}

// checkTimePrecision: times in whole microseconds, in any location, come
// back as the same instants, through every method that writes or reads
// them; finer digits may be lost, but a time read back is less than a
// microsecond away from the one written.
func checkTimePrecision(c *checker) {
	east, west := time.FixedZone("UTC+10", 10*3600), time.FixedZone("UTC-10", -10*3600)
	k := minimalKey("AAAAAAAAAAA1")
	k.CreatedAt = time.Date(2031, 5, 6, 7, 8, 9, 999999000, east)
	k.ExpiresAt = time.Date(2031, 5, 7, 7, 8, 9, 1000, west)
	k.RevokedAt = time.Date(2031, 5, 6, 7, 8, 10, 500001000, time.UTC)
	k.LastUsedAt = time.Date(2031, 5, 6, 7, 8, 11, 10000, time.UTC)
	c.create(k.Clone())
	c.expectTimes("LookupKey after CreateKey", c.lookup(k.ID), k, 0)

	k.ExpiresAt = k.ExpiresAt.Add(time.Hour + 7*time.Microsecond)
	k.LastUsedAt = k.LastUsedAt.Add(13 * time.Microsecond)
	c.update(k.Clone())
	c.expectTimes("LookupKey after UpdateKey", c.lookup(k.ID), k, 0)

	k.LastUsedAt = k.LastUsedAt.Add(time.Second + 17*time.Microsecond).In(east)
	c.touch(map[string]time.Time{k.ID: k.LastUsedAt})
	c.expectTimes("LookupKey after TouchKeys", c.lookup(k.ID), k, 0)
	if ks := c.list(apikey.ListFilter{}); len(ks) == 1 {
		c.expectTimes("ListKeys", ks[0], k, 0)
	}

	fine := minimalKey("AAAAAAAAAAA2")
	fine.CreatedAt = time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)
	fine.ExpiresAt = time.Date(2031, 5, 7, 7, 8, 9, 999, west)
	fine.RevokedAt = time.Date(2031, 5, 6, 7, 8, 10, 999999999, time.UTC)
	fine.LastUsedAt = time.Date(2031, 5, 6, 7, 8, 11, 500, east)
	c.create(fine.Clone())
	c.expectTimes("LookupKey after CreateKey with nanoseconds", c.lookup(fine.ID), fine, time.Microsecond)
}

// checkDeepCopy: the store keeps its own copy of what it is given and
// hands out copies, so that callers cannot change stored records by
// mutating what they passed or got back.
func checkDeepCopy(c *checker) {
	want := fullKey("AAAAAAAAAAA1")
	// scribble changes every part of k that a shallow copy would share; it
	// copes with records that lack parts (other rules report those).
	scribble := func(k *apikey.Key) {
		k.Name = "scribbled"
		if len(k.Scopes) > 0 {
			k.Scopes[0] = "scribbled"
		}
		if len(k.AllowedNetworks) > 0 {
			k.AllowedNetworks[0] = netip.MustParsePrefix("0.0.0.0/0")
		}
		if k.Metadata != nil {
			k.Metadata["team"] = "scribbled"
			k.Metadata["new"] = "scribbled"
		}
	}
	in := want.Clone()
	c.create(in)
	scribble(in)
	c.expect("LookupKey after changing the record given to CreateKey", c.lookup(want.ID), want)

	scribble(c.lookup(want.ID))
	c.expect("LookupKey after changing a record LookupKey returned", c.lookup(want.ID), want)

	for _, k := range c.list(apikey.ListFilter{}) {
		scribble(k)
	}
	c.expect("LookupKey after changing the records ListKeys returned", c.lookup(want.ID), want)

	upd := want.Clone()
	c.update(upd)
	scribble(upd)
	c.expect("LookupKey after changing the record given to UpdateKey", c.lookup(want.ID), want)
}

// checkCaseSensitiveIDs: ids that differ only in case are different keys
// (key ids are case-sensitive), for every method.
func checkCaseSensitiveIDs(c *checker) {
	const upper, lower = "ABCDEFGHIJK1", "abcdefghijk1"
	k := fullKey(upper)
	c.create(k.Clone())

	got, err := c.s.LookupKey(c.ctx, lower)
	switch {
	case err == nil && got != nil:
		c.errorf("LookupKey(%s) returned the record of %s: ids are case-sensitive", lower, got.ID)
	case err == nil:
		c.errorf("LookupKey(%s) returned no record and no error, want ErrNotFound", lower)
	case !errors.Is(err, apikey.ErrNotFound):
		c.errorf("LookupKey(%s), with only %s stored, = %v, want ErrNotFound", lower, upper, err)
	}

	intruder := fullKey(lower)
	intruder.Name, intruder.RevokedAt = "intruder", time.Time{}
	if err := c.s.UpdateKey(c.ctx, intruder.Clone()); !errors.Is(err, apikey.ErrNotFound) {
		c.errorf("UpdateKey(%s), with only %s stored, = %v, want ErrNotFound", lower, upper, err)
	}
	c.touch(map[string]time.Time{lower: base.Add(100 * time.Hour)})
	c.expect(fmt.Sprintf("LookupKey(%s) after UpdateKey and TouchKeys of %s", upper, lower), c.lookup(upper), k)

	if err := c.s.CreateKey(c.ctx, intruder.Clone()); err != nil {
		c.fatalf("CreateKey(%s), with %s stored, = %v, want success: ids are case-sensitive", lower, upper, err)
	}
	c.expect(fmt.Sprintf("LookupKey(%s)", lower), c.lookup(lower), intruder)
	c.expect(fmt.Sprintf("LookupKey(%s) after CreateKey(%s)", upper, lower), c.lookup(upper), k)
	if n := len(c.list(apikey.ListFilter{})); n != 2 {
		c.errorf("ListKeys after creating %s and %s returned %d records, want 2", upper, lower, n)
	}
}
