package keystoretest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// checkConcurrent: the store is safe for concurrent use. Goroutines
// create, look up, update, touch and list their own keys at once, every
// call succeeds and every write lands; and of concurrent CreateKey calls
// with one id, exactly one succeeds and the others get ErrConflict. Run
// the suite with -race for this rule to find data races.
func checkConcurrent(c *checker) {
	const workers, perWorker = 8, 20
	const sameID = "SAMESAMESAME"
	lastUse := func(i int) time.Time { return base.Add(time.Duration(i) * time.Hour) }
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c.protect(func() {
				for i := range perWorker {
					id := fmt.Sprintf("W%02dK%08d", w, i)
					k := fullKey(id)
					k.RevokedAt = time.Time{}
					if err := c.s.CreateKey(c.ctx, k.Clone()); err != nil {
						c.errorf("CreateKey(%s) = %v", id, err)
						continue
					}
					if got, err := c.s.LookupKey(c.ctx, id); err != nil || got == nil || got.ID != id {
						c.errorf("LookupKey(%s) = %v, %v, want the record", id, got, err)
					}
					k.Name = "updated"
					if err := c.s.UpdateKey(c.ctx, k); err != nil {
						c.errorf("UpdateKey(%s) = %v", id, err)
					}
					if err := c.s.TouchKeys(c.ctx, map[string]time.Time{id: lastUse(i)}); err != nil {
						c.errorf("TouchKeys(%s) = %v", id, err)
					}
					if _, err := c.s.ListKeys(c.ctx, apikey.ListFilter{Owner: k.Owner}); err != nil {
						c.errorf("ListKeys = %v", err)
					}
				}
			})
		})
	}
	var wins atomic.Int32
	for range workers {
		wg.Go(func() {
			c.protect(func() {
				switch err := c.s.CreateKey(c.ctx, fullKey(sameID)); {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, apikey.ErrConflict):
					c.errorf("CreateKey(%s) racing with others = %v, want success or ErrConflict", sameID, err)
				}
			})
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		c.errorf("%d concurrent CreateKey calls with one id succeeded, want exactly 1", n)
	}

	ks := c.list(apikey.ListFilter{})
	if len(ks) != workers*perWorker+1 {
		c.errorf("ListKeys after concurrent creates = %d records, want %d", len(ks), workers*perWorker+1)
	}
	lost := 0
	for _, k := range ks {
		var w, i int
		if _, err := fmt.Sscanf(k.ID, "W%02dK%08d", &w, &i); err != nil {
			continue
		}
		want := fullKey(k.ID).LastUsedAt
		if t := lastUse(i); t.After(want) {
			want = t
		}
		if k.Name != "updated" || !k.LastUsedAt.Equal(want) {
			lost++
		}
	}
	if lost > 0 {
		c.errorf("after concurrent writes, %d records lack their UpdateKey or TouchKeys", lost)
	}
}
