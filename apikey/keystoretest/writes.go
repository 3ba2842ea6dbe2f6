package keystoretest

import (
	"fmt"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// checkUpdate: UpdateKey replaces every field of the record, setting
// fields that were unset and clearing fields that were set, and revokes a
// key that was not revoked.
func checkUpdate(c *checker) {
	const id = "AAAAAAAAAAA1"
	c.create(minimalKey(id))

	full := fullKey(id)
	full.RevokedAt = time.Time{}
	c.update(full.Clone())
	c.expect("LookupKey after an UpdateKey that sets every field", c.lookup(id), full)

	other := &apikey.Key{
		ID:          id,
		Name:        "renamed",
		Type:        apikey.PublishableKey,
		Environment: apikey.Live,
		Permission:  apikey.ReadOnly,
		Scopes:      []string{"x"},
		Owner:       "acct_2",
		Tier:        "free",
		CreatedAt:   base.Add(-time.Hour),
		RevokedAt:   base.Add(2*time.Hour + 4*time.Microsecond),
		LastUsedAt:  full.LastUsedAt.Add(5 * time.Microsecond),
		Metadata:    map[string]string{"a": "b"},
		Hash:        "sha256$y",
	}
	c.update(other.Clone())
	c.expect("LookupKey after an UpdateKey that clears fields and revokes", c.lookup(id), other)
}

// checkUpdateKeepsRevocation: an UpdateKey never un-revokes a key nor
// changes when it was revoked (a RevokedAt already stored is kept), and
// still applies its other fields.
func checkUpdateKeepsRevocation(c *checker) {
	k := fullKey("AAAAAAAAAAA1")
	c.create(k.Clone())
	for _, tc := range []struct {
		desc    string
		revoked time.Time
	}{
		{"an UpdateKey without RevokedAt", time.Time{}},
		{"an UpdateKey with a later RevokedAt", k.RevokedAt.Add(time.Hour)},
		{"an UpdateKey with an earlier RevokedAt", k.RevokedAt.Add(-time.Minute)},
	} {
		u := k.Clone()
		u.Name, u.RevokedAt = tc.desc, tc.revoked
		c.update(u.Clone())
		want := u.Clone()
		want.RevokedAt = k.RevokedAt
		c.expect("LookupKey after "+tc.desc+" of a revoked key", c.lookup(k.ID), want)
	}
}

// checkUpdateKeepsLastUse: an UpdateKey never moves LastUsedAt backwards:
// the later of the stored and given values is kept.
func checkUpdateKeepsLastUse(c *checker) {
	k := fullKey("AAAAAAAAAAA1")
	k.RevokedAt = time.Time{}
	c.create(k.Clone())
	stored := k.LastUsedAt
	later := stored.Add(2*time.Hour + 7*time.Microsecond)
	for _, tc := range []struct {
		desc        string
		given, want time.Time
	}{
		{"an earlier LastUsedAt", stored.Add(-time.Microsecond), stored},
		{"no LastUsedAt", time.Time{}, stored},
		{"a later LastUsedAt", later, later},
		{"the first LastUsedAt again", stored, later},
	} {
		u := k.Clone()
		u.Name, u.LastUsedAt = "update with "+tc.desc, tc.given
		c.update(u.Clone())
		want := u.Clone()
		want.LastUsedAt = tc.want
		c.expect("LookupKey after an UpdateKey with "+tc.desc, c.lookup(k.ID), want)
	}

	unused := minimalKey("AAAAAAAAAAA2")
	c.create(unused.Clone())
	unused.LastUsedAt = later
	c.update(unused.Clone())
	c.expect("LookupKey after an UpdateKey that sets LastUsedAt", c.lookup(unused.ID), unused)
}

// batchSize is the number of keys touched in one TouchKeys call.
const batchSize = 64

// checkTouchKeys: one TouchKeys call sets, for each id, LastUsedAt to the
// later of its stored value and the given time, changes nothing else,
// ignores unknown ids (creating nothing) and zero times, and applies the
// whole batch. Empty and nil batches succeed and change nothing.
func checkTouchKeys(c *checker) {
	used := fullKey("AAAAAAAAAAA1")   // revoked, used at base+1m
	unused := fullKey("AAAAAAAAAAA2") // never used
	unused.LastUsedAt = time.Time{}
	zero := fullKey("AAAAAAAAAAA3") // given the zero time
	left := fullKey("AAAAAAAAAAA4") // not in the batch
	for _, k := range []*apikey.Key{used, unused, zero, left} {
		c.create(k.Clone())
	}
	expectAll := func(after string) {
		for _, k := range []*apikey.Key{used, unused, zero, left} {
			c.expect(fmt.Sprintf("LookupKey(%s) after %s", k.ID, after), c.lookup(k.ID), k)
		}
	}

	c.touch(nil)
	c.touch(map[string]time.Time{})
	expectAll("TouchKeys of no ids")

	later := base.Add(time.Hour + 11*time.Microsecond)
	c.touch(map[string]time.Time{
		used.ID:   used.LastUsedAt.Add(-time.Microsecond), // earlier: no change
		unused.ID: later,
		zero.ID:   {},
		unknownID: later,
	})
	unused.LastUsedAt = later
	expectAll("a TouchKeys batch")
	c.lookupMissing(unknownID, "TouchKeys of an unknown id")

	c.touch(map[string]time.Time{used.ID: later, zero.ID: later})
	used.LastUsedAt, zero.LastUsedAt = later, later
	expectAll("a second TouchKeys batch")

	batch := make(map[string]time.Time, batchSize)
	for i := range batchSize {
		id := fmt.Sprintf("B%011d", i)
		c.create(minimalKey(id))
		batch[id] = later.Add(time.Duration(i) * time.Second)
	}
	c.touch(batch)
	right := 0
	for _, k := range c.list(apikey.ListFilter{}) {
		if want, ok := batch[k.ID]; ok && k.LastUsedAt.Equal(want) {
			right++
		}
	}
	if right != batchSize {
		c.errorf("after one TouchKeys of %d ids, ListKeys shows %d of them with the LastUsedAt given", batchSize, right)
	}
}
