package keystoretest

import (
	"context"
	"errors"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// unknownID is an id the rules never create.
const unknownID = "ZZZZZZZZZZZZ"

// checkCreateConflict: CreateKey with a taken id returns an error matching
// ErrConflict (and neither ErrUnavailable nor ErrNotFound), and leaves the
// stored record alone.
func checkCreateConflict(c *checker) {
	k := fullKey("AAAAAAAAAAA1")
	c.create(k.Clone())
	intruder := minimalKey(k.ID)
	intruder.Name = "intruder"
	err := c.s.CreateKey(c.ctx, intruder)
	switch {
	case !errors.Is(err, apikey.ErrConflict):
		c.errorf("CreateKey with a taken id = %v, want ErrConflict", err)
	case errors.Is(err, apikey.ErrUnavailable), errors.Is(err, apikey.ErrNotFound):
		c.errorf("CreateKey with a taken id = %v, which matches ErrConflict but also ErrUnavailable or ErrNotFound", err)
	}
	c.expect("LookupKey after a CreateKey with a taken id", c.lookup(k.ID), k)
}

// checkLookupNotFound: LookupKey of an unknown id, in an empty store and
// in one that holds other records, returns an error matching ErrNotFound
// and not ErrUnavailable (the Verifier answers 401 for the one, 503 for
// the other).
func checkLookupNotFound(c *checker) {
	check := func(when string) {
		k, err := c.s.LookupKey(c.ctx, unknownID)
		switch {
		case err == nil && k == nil:
			c.errorf("LookupKey of an unknown id, %s, returned no record and no error, want ErrNotFound", when)
		case err == nil:
			c.errorf("LookupKey of an unknown id, %s, returned a record (with id %s), want ErrNotFound", when, k.ID)
		case !errors.Is(err, apikey.ErrNotFound):
			c.errorf("LookupKey of an unknown id, %s, = %v, want ErrNotFound", when, err)
		case errors.Is(err, apikey.ErrUnavailable):
			c.errorf("LookupKey of an unknown id, %s, = %v, which matches ErrNotFound but also ErrUnavailable", when, err)
		}
	}
	check("in an empty store")
	c.create(fullKey("AAAAAAAAAAA1"))
	c.create(minimalKey("ZZZZZZZZZZZ1"))
	check("in a store holding other records")
}

// checkUpdateNotFound: UpdateKey of an unknown id returns an error
// matching ErrNotFound and not ErrUnavailable, and creates nothing.
func checkUpdateNotFound(c *checker) {
	c.create(fullKey("AAAAAAAAAAA1"))
	err := c.s.UpdateKey(c.ctx, fullKey(unknownID))
	switch {
	case !errors.Is(err, apikey.ErrNotFound):
		c.errorf("UpdateKey of an unknown id = %v, want ErrNotFound", err)
	case errors.Is(err, apikey.ErrUnavailable):
		c.errorf("UpdateKey of an unknown id = %v, which matches ErrNotFound but also ErrUnavailable", err)
	}
	c.lookupMissing(unknownID, "UpdateKey of an unknown id")
}

// checkContextCanceled: every method called with a canceled context fails
// with an error wrapping ErrUnavailable.
func checkContextCanceled(c *checker) {
	ctx, cancel := context.WithCancel(c.ctx)
	cancel()
	c.checkDoneContext(ctx, "a canceled context")
}

// checkContextDeadline: every method called with a context whose deadline
// has passed fails with an error wrapping ErrUnavailable.
func checkContextDeadline(c *checker) {
	ctx, cancel := context.WithDeadline(c.ctx, time.Unix(0, 0))
	defer cancel()
	c.checkDoneContext(ctx, "an expired context")
}

// checkDoneContext calls every method with ctx, which is done. Each must
// fail with an error wrapping ErrUnavailable: a store that cannot answer
// must neither answer (nor drop the error) nor claim that a key does not
// exist or that an id is taken. The store must still answer afterwards.
func (c *checker) checkDoneContext(ctx context.Context, desc string) {
	known := fullKey("AAAAAAAAAAA1")
	c.create(known.Clone())
	later := map[string]time.Time{known.ID: base.Add(time.Hour)}
	for _, call := range []struct {
		name      string
		call      func() error
		forbidden error // the answer a store must not give instead
	}{
		{"LookupKey of a stored id", func() error { _, err := c.s.LookupKey(ctx, known.ID); return err }, nil},
		{"LookupKey of an unknown id", func() error { _, err := c.s.LookupKey(ctx, unknownID); return err }, apikey.ErrNotFound},
		{"CreateKey of a new id", func() error { return c.s.CreateKey(ctx, minimalKey("AAAAAAAAAAA2")) }, nil},
		{"CreateKey of a taken id", func() error { return c.s.CreateKey(ctx, known.Clone()) }, apikey.ErrConflict},
		{"UpdateKey of a stored id", func() error { return c.s.UpdateKey(ctx, known.Clone()) }, nil},
		{"UpdateKey of an unknown id", func() error { return c.s.UpdateKey(ctx, fullKey(unknownID)) }, apikey.ErrNotFound},
		{"ListKeys", func() error { _, err := c.s.ListKeys(ctx, apikey.ListFilter{}); return err }, nil},
		{"TouchKeys", func() error { return c.s.TouchKeys(ctx, later) }, nil},
	} {
		err := call.call()
		switch {
		case !errors.Is(err, apikey.ErrUnavailable):
			c.errorf("%s with %s = %v, want an error wrapping ErrUnavailable", call.name, desc, err)
		case call.forbidden != nil && errors.Is(err, call.forbidden):
			c.errorf("%s with %s = %v, which also matches %v: a store that cannot answer must not give that answer",
				call.name, desc, err, call.forbidden)
		}
	}
	c.lookup(known.ID) // the store still answers
}
