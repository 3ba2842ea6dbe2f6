package idempotencystoretest

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatekey/gatekey/idempotency"
)

var created = &idempotency.Answer{
	Status: http.StatusCreated,
	Header: http.Header{
		"Content-Type": {"application/json"},
		"Location":     {"/v1/monitors/mon_1"},
	},
	Body: []byte(`{"id":"mon_1","name":"Homepage"}` + "\n"),
}

// checkClaim: a fresh key is claimed once; while in flight it is held,
// whatever the fingerprint.
func checkClaim(c *checker) {
	fp := fingerprint("POST /v1/monitors")
	c.claim("acct", "k1", fp, time.Minute)
	c.wantHeld("in flight", "acct", "k1", fp, nil)
	c.advance(30 * time.Second)
	c.wantHeld("in flight, half the lock later", "acct", "k1", fp, nil)
}

// checkReplay: a finished request's answer is returned, exactly, to every
// later Begin, and Finish or Release of another token change nothing.
func checkReplay(c *checker) {
	fp := fingerprint("POST /v1/monitors")
	tok := c.claim("acct", "k1", fp, time.Minute)
	if !c.finish("acct", "k1", tok, created, 24*time.Hour) {
		c.fatalf("Finish of the claiming token reported false")
	}
	c.wantHeld("finished", "acct", "k1", fp, created)
	c.advance(2 * time.Minute) // past the lock: the answer is what holds the key now
	c.wantHeld("finished, after the lock", "acct", "k1", fp, created)
	if c.finish("acct", "k1", tok, &idempotency.Answer{Status: 500}, time.Hour) {
		c.errorf("a second Finish of the same token reported true")
	}
	c.release("acct", "k1", tok)
	c.wantHeld("after a second Finish and a Release", "acct", "k1", fp, created)
}

// checkAnswers: answers come back byte for byte, whatever their shape.
func checkAnswers(c *checker) {
	binary := make([]byte, 256<<10)
	for i := range binary {
		binary[i] = byte(i * 7)
	}
	answers := map[string]*idempotency.Answer{
		"empty":        {Status: http.StatusNoContent},
		"no-headers":   {Status: http.StatusOK, Body: []byte("ok")},
		"binary":       {Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/octet-stream"}}, Body: binary},
		"nul-and-crlf": {Status: http.StatusAccepted, Body: []byte("a\x00b\r\n\"}\\")},
		"many-values": {Status: http.StatusBadRequest, Header: http.Header{
			"Content-Type":     {"application/problem+json"},
			"Content-Language": {"en", "fr"},
			"Location":         {"/ünïcode?q=1&r=\"x\""},
		}, Body: []byte(`{"error":{}}`)},
		"server-error": {Status: http.StatusInternalServerError, Body: []byte("{}")},
	}
	for name, a := range answers {
		fp := fingerprint(name)
		tok := c.claim("acct", name, fp, time.Minute)
		if !c.finish("acct", name, tok, a, time.Hour) {
			c.errorf("Finish(%q) reported false", name)
			continue
		}
		c.wantHeld(name, "acct", name, fp, a)
	}
}

// checkScope: accounts and keys are apart, byte for byte.
func checkScope(c *checker) {
	alphabet := make([]byte, 0, 94)
	for b := byte(0x21); b <= 0x7e; b++ {
		alphabet = append(alphabet, b)
	}
	long := strings.Repeat("k", idempotency.MaxKeyLen)
	keys := []string{"k", "K", string(alphabet), long, long[1:] + "K", `a}:b`, `a`, `{a}`}
	accounts := []string{"a", "A", "a}:b", "ünï", "a:b}", strings.Repeat("x", 200)}
	fps := map[[2]string]idempotency.Fingerprint{}
	for _, acct := range accounts {
		for _, key := range keys {
			fp := fingerprint(acct + "\x00" + key)
			fps[[2]string{acct, key}] = fp
			c.claim(acct, key, fp, time.Minute)
		}
	}
	for _, acct := range accounts {
		for _, key := range keys {
			c.wantHeld("after claiming every pair", acct, key, fps[[2]string{acct, key}], nil)
		}
	}
	c.wantFree("an account never used", "b", "k")
	c.wantFree("a key never used", "a", "k2")
	// The boundary between account and key is kept: ("ab", "c") is not
	// ("a", "bc").
	c.claim("ab", "c", fingerprint("ab c"), time.Minute)
	c.wantFree("an account and key that join into another pair's", "a", "bc")
}

// checkRelease: Release frees a claimed key, only for its token, and
// never an answered one.
func checkRelease(c *checker) {
	fp := fingerprint("POST /v1/monitors")
	tok := c.claim("acct", "k1", fp, time.Minute)
	c.release("acct", "k1", tok+1000)
	c.wantHeld("after a Release with another token", "acct", "k1", fp, nil)
	c.release("acct", "k1", tok)
	tok2 := c.wantFree("after Release", "acct", "k1")
	c.release("acct", "k1", tok) // the first claim's token again: nothing
	if !c.finish("acct", "k1", tok2, created, time.Hour) {
		c.fatalf("Finish of the second claim reported false after a stale Release")
	}
	c.release("acct", "k1", tok2)
	c.wantHeld("after Release of a finished key", "acct", "k1", fingerprint("a new request"), created)
	c.release("acct", "never-claimed", 1) // must not fail
}

// checkTokens: Finish works only for the claiming token.
func checkTokens(c *checker) {
	fp := fingerprint("POST /v1/monitors")
	tok := c.claim("acct", "k1", fp, time.Minute)
	if c.finish("acct", "k1", tok+1000, created, time.Hour) {
		c.errorf("Finish with another token reported true")
	}
	c.wantHeld("after Finish with another token", "acct", "k1", fp, nil)
	if c.finish("acct", "never-claimed", tok, created, time.Hour) {
		c.errorf("Finish of a key never claimed reported true")
	}
	c.wantFree("a key Finish was called on without a claim", "acct", "never-claimed")
}

// checkLock: a claim never finished frees its key when its lock ends, and
// the late request can then neither finish nor release the new claim.
func checkLock(c *checker) {
	fp := fingerprint("POST /v1/monitors")
	tok := c.claim("acct", "k1", fp, time.Minute)
	c.advance(time.Minute - time.Millisecond)
	c.wantHeld("a millisecond before the lock ends", "acct", "k1", fp, nil)
	c.advance(time.Millisecond)
	tok2 := c.wantFree("when the lock ends", "acct", "k1")
	if c.finish("acct", "k1", tok, created, time.Hour) {
		c.errorf("Finish of the claim whose lock ended reported true after another claimed the key")
	}
	c.release("acct", "k1", tok)
	c.wantHeld("after the late request's Finish and Release", "acct", "k1", fingerprint("a new request"), nil)
	if !c.finish("acct", "k1", tok2, created, time.Hour) {
		c.errorf("Finish of the new claim reported false")
	}

	// A request whose lock ended keeps nothing, even when no other has
	// claimed its key since.
	tok3 := c.claim("acct", "k2", fp, time.Minute)
	c.advance(time.Minute)
	if c.finish("acct", "k2", tok3, created, time.Hour) {
		c.errorf("Finish of a claim whose lock had ended reported true")
	}
	c.wantFree("after a Finish too late", "acct", "k2")
}

// checkRetention: an answer is kept for its retention, then the key is
// free.
func checkRetention(c *checker) {
	fp := fingerprint("POST /v1/monitors")
	tok := c.claim("acct", "k1", fp, time.Minute)
	c.advance(30 * time.Second)
	if !c.finish("acct", "k1", tok, created, 24*time.Hour) {
		c.fatalf("Finish reported false")
	}
	c.advance(24*time.Hour - time.Millisecond)
	c.wantHeld("a millisecond before the retention ends", "acct", "k1", fp, created)
	c.advance(time.Millisecond)
	c.wantFree("when the retention ends", "acct", "k1")
}

// checkExact: of many concurrent Begins for one key, one claims it.
func checkExact(c *checker) {
	const n = 50
	for round := range 3 {
		key := "k" + string(rune('0'+round))
		fp := fingerprint("POST /v1/monitors " + key)
		var wg sync.WaitGroup
		var mu sync.Mutex
		claimed, held := 0, 0
		for range n {
			wg.Go(func() {
				rec, ok := c.begin("acct", key, fp, c.newToken(), time.Minute)
				mu.Lock()
				defer mu.Unlock()
				if ok {
					claimed++
				} else if bytes.Equal(rec.Fingerprint[:], fp[:]) {
					held++
				}
			})
		}
		wg.Wait()
		if claimed != 1 || held != n-1 {
			c.errorf("round %d: %d concurrent Begins: %d claimed the key and %d saw it held, want 1 and %d", round, n, claimed, held, n-1)
		}
	}
}
