package apikey

import "time"

// negCache remembers ids the store does not know, for a while, so that a
// flood of made-up keys reaches the store once per id and TTL rather than
// once per request. It holds at most size ids: adding one more forgets the
// oldest added, in constant time. All ids live equally long, so the oldest
// added is also the first to expire.
//
// A negCache is not safe for concurrent use; its owner (recordCache) holds
// a lock around every call.
type negCache struct {
	ttl  time.Duration
	size int // <= 0: remember nothing

	m    map[string]negEntry
	ring []string // ids in the order added, at most size
	head int      // the oldest slot of ring once it is full
}

// negEntry is an unknown id in the negative cache.
type negEntry struct {
	until time.Time // remembered until then
	slot  int       // its slot in negCache.ring
}

func newNegCache(ttl time.Duration, size int) negCache {
	return negCache{ttl: ttl, size: size, m: make(map[string]negEntry)}
}

// has reports whether id is remembered as unknown at now. An expired id is
// forgotten.
func (c *negCache) has(id string, now time.Time) bool {
	ne, ok := c.m[id]
	if !ok {
		return false
	}
	if now.Before(ne.until) {
		return true
	}
	delete(c.m, id)
	return false
}

// add remembers id as unknown from now on. An id removed meanwhile (drop,
// expiry) leaves a stale slot in ring, which is skipped when its turn comes.
func (c *negCache) add(id string, now time.Time) {
	if c.size <= 0 {
		return
	}
	slot := len(c.ring)
	if slot < c.size {
		c.ring = append(c.ring, id)
	} else {
		slot = c.head
		c.head = (slot + 1) % c.size
		if old := c.ring[slot]; c.m[old].slot == slot {
			delete(c.m, old)
		}
		c.ring[slot] = id
	}
	c.m[id] = negEntry{until: now.Add(c.ttl), slot: slot}
}

// drop forgets id.
func (c *negCache) drop(id string) { delete(c.m, id) }

// reset forgets every id.
func (c *negCache) reset() {
	clear(c.m)
	clear(c.ring)
	c.ring, c.head = c.ring[:0], 0
}

// sweep forgets every id expired at now.
func (c *negCache) sweep(now time.Time) {
	for id, ne := range c.m {
		if !now.Before(ne.until) {
			delete(c.m, id)
		}
	}
}

// len returns the number of ids remembered, expired ones included until
// they are looked at or swept.
func (c *negCache) len() int { return len(c.m) }
