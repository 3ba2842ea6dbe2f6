package apikey

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"
)

// recordCache is what a Verifier knows of key records: the records it has
// read, for a while (ttl); the ids the store does not know (a negCache);
// and the store look-ups in flight. It keeps three promises, each with a
// test:
//
//   - One store call per cold id: concurrent look-ups of an id that is
//     neither cached nor known to be unknown share one store call.
//   - A look-up never undoes a forget: when forget(id) runs while a
//     look-up of id is in flight (a revoke, say), that look-up's result
//     goes to the callers already waiting for it but is never cached, so
//     the record read before the change cannot replace it (fencing).
//   - Bounded work: at most max look-ups (distinct ids) run at once, each
//     for at most timeout whatever its callers' contexts say; a look-up
//     beyond the bound fails at once with ErrUnavailable.
//
// It is safe for concurrent use.
type recordCache struct {
	store    Store
	ttl      time.Duration // <= 0: records are not kept
	timeout  time.Duration // <= 0: no bound of its own on a store call
	max      int           // <= 0: no bound on look-ups in flight
	now      func() time.Time
	newEntry func(k *Key, now time.Time) *entry
	// mismatch is told of a store that answered for id with another id's
	// record (a case-insensitive collation, typically).
	mismatch func(requested, returned string, now time.Time)

	mu       sync.RWMutex
	records  map[string]*entry
	unknown  negCache
	calls    map[string]*call // look-ups in flight, by id
	inflight int              // look-up goroutines running, fenced ones included
}

// call is one store look-up in flight, shared by everyone waiting for it.
type call struct {
	done chan struct{}
	e    *entry // set before done is closed
	err  error
}

// get returns the entry for id if one is cached and fresh at now: the hot
// path, one read lock.
func (c *recordCache) get(id string, now time.Time) *entry {
	c.mu.RLock()
	e := c.records[id]
	c.mu.RUnlock()
	if e == nil || !now.Before(e.expires) {
		return nil
	}
	return e
}

// lookup returns the entry for id: cached, or read from the store by a
// look-up that concurrent callers share. An id the store does not know
// (now, or recently) is reported as ErrNotFound. A store failure, the
// timeout, ctx ending while waiting, and the bound on look-ups in flight
// are errors wrapping ErrUnavailable.
func (c *recordCache) lookup(ctx context.Context, id string, now time.Time) (*entry, error) {
	c.mu.Lock()
	if e := c.records[id]; e != nil && now.Before(e.expires) {
		c.mu.Unlock()
		return e, nil
	}
	if c.unknown.has(id, now) {
		c.mu.Unlock()
		return nil, ErrNotFound
	}
	cl := c.calls[id]
	if cl == nil {
		if c.max > 0 && c.inflight >= c.max {
			c.mu.Unlock()
			return nil, ErrTooManyLookups
		}
		c.inflight++
		cl = &call{done: make(chan struct{})}
		id = strings.Clone(id) // id is part of a presented key: never retain that
		c.calls[id] = cl
		go c.run(ctx, id, cl)
	}
	c.mu.Unlock()

	select {
	case <-cl.done:
		return cl.e, cl.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

// run performs one store look-up for id and gives the result to cl's
// waiters. It caches the result only if cl is still the current call for
// id, that is if no forget(id) happened meanwhile.
func (c *recordCache) run(ctx context.Context, id string, cl *call) {
	lctx := context.WithoutCancel(ctx) // one caller leaving must not fail the others
	if c.timeout > 0 {
		var cancel context.CancelFunc
		lctx, cancel = context.WithTimeout(lctx, c.timeout)
		defer cancel()
	}
	k, err := c.safeLookup(lctx, id)
	now := c.now()
	var e *entry
	switch {
	case err == nil && k != nil && k.ID == id:
		e = c.newEntry(k, now)
	case err == nil && k != nil:
		// That record is not the presented key's: the id is unknown.
		c.mismatch(id, k.ID, now)
		err = ErrNotFound
	case err == nil:
		err = fmt.Errorf("%w: store returned no record and no error for id %q", ErrUnavailable, id)
	case errors.Is(err, ErrNotFound):
		err = ErrNotFound
	case !errors.Is(err, ErrUnavailable):
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}

	c.mu.Lock()
	c.inflight--
	if c.calls[id] == cl {
		delete(c.calls, id)
		if e != nil && c.ttl > 0 {
			c.records[id] = e
		} else if err == ErrNotFound {
			c.unknown.add(id, now)
		}
	}
	cl.e, cl.err = e, err
	c.mu.Unlock()
	close(cl.done)
}

func (c *recordCache) safeLookup(ctx context.Context, id string) (k *Key, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: store panicked: %v", ErrUnavailable, r)
		}
	}()
	return c.store.LookupKey(ctx, id)
}

// forget drops everything known of id, and fences a look-up of id in
// flight so that its result is not cached.
func (c *recordCache) forget(id string) {
	c.mu.Lock()
	delete(c.records, id)
	c.unknown.drop(id)
	delete(c.calls, id)
	c.mu.Unlock()
}

// forgetAll is forget for every id: it drops every record cached, positive
// and negative, and fences every look-up in flight.
func (c *recordCache) forgetAll() {
	c.mu.Lock()
	clear(c.records)
	c.unknown.reset()
	clear(c.calls)
	c.mu.Unlock()
}

// sweep drops what has expired at now, so that only recently used keys
// take memory.
func (c *recordCache) sweep(now time.Time) {
	c.mu.Lock()
	maps.DeleteFunc(c.records, func(_ string, e *entry) bool { return !now.Before(e.expires) })
	c.unknown.sweep(now)
	c.mu.Unlock()
}
