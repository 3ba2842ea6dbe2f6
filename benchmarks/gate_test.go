package benchmarks

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Correctness gate parameters: gateGoroutines goroutines each send
// gatePerGoroutine requests with one key, all released at once, against a
// bucket of gateBurst tokens that does not refill during the test (gateBurst
// per day). A library that lets more than gateBurst requests through has a
// race. gateRounds rounds, each with a fresh limiter.
const (
	gateBurst        = 100
	gateGoroutines   = 64
	gatePerGoroutine = 8 // 512 attempts per round
)

// gateResult is one library's outcome over all rounds.
type gateResult struct {
	name     string
	min, max int
	rounds   int
}

func (g gateResult) String() string {
	verdict := "exact"
	switch {
	case g.max > gateBurst:
		verdict = fmt.Sprintf("OVER by up to %d", g.max-gateBurst)
	case g.min < gateBurst:
		verdict = fmt.Sprintf("under by up to %d", gateBurst-g.min)
	}
	return fmt.Sprintf("| %-16s | %3d | %3d | %s |", g.name, g.min, g.max, verdict)
}

// TestCorrectnessGate runs the gate against every library and prints the
// table (go test -run CorrectnessGate -v). Only gatekey is held to the
// result: it must let exactly gateBurst requests through in every round.
// The peers' counts are reported as measured.
func TestCorrectnessGate(t *testing.T) {
	rounds := 200
	if raceEnabled || testing.Short() {
		rounds = 20
	}
	s := spec{N: gateBurst, Window: 24 * time.Hour}
	var results []gateResult
	for _, p := range peers {
		res := gateResult{name: p.name, min: 1 << 30, rounds: rounds}
		for range rounds {
			n := gateRound(p, s)
			res.min, res.max = min(res.min, n), max(res.max, n)
		}
		results = append(results, res)
		if p.name == "gatekey" && (res.min != gateBurst || res.max != gateBurst) {
			t.Errorf("gatekey let %d to %d requests through, want exactly %d", res.min, res.max, gateBurst)
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "correctness gate: %d goroutines x %d requests on one key, burst %d, no refill, %d rounds\n",
		gateGoroutines, gatePerGoroutine, gateBurst, rounds)
	sb.WriteString("| library          | min | max | verdict |\n|---|---:|---:|---|\n")
	for _, r := range results {
		sb.WriteString(r.String() + "\n")
	}
	t.Log("\n" + sb.String())
}

// gateRound runs one round against a fresh limiter and returns how many
// requests reached the next handler.
func gateRound(p peer, s spec) int {
	var passed atomic.Int64
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed.Add(1) })
	lut := p.build(s, next)
	defer lut.close()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range gateGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, w := newRequest("gate-key"), newRecorder()
			<-start
			for range gatePerGoroutine {
				w.reset()
				lut.handler.ServeHTTP(w, req)
			}
		}()
	}
	close(start)
	wg.Wait()
	return int(passed.Load())
}

// TestPeersSmoke checks that every library, as built here, limits what the
// benchmarks claim it limits: denyLimit lets exactly 100 requests of a key
// through and rejects the next with 429, and keys are independent.
func TestPeersSmoke(t *testing.T) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			var passed int
			next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed++ })
			lut := p.build(denyLimit, next)
			defer lut.close()
			a, b, w := newRequest("key-a"), newRequest("key-b"), newRecorder()
			for i := range denyLimit.N {
				w.reset()
				lut.handler.ServeHTTP(w, a)
				if w.code() != http.StatusOK {
					t.Fatalf("request %d: status %d, want 200", i+1, w.code())
				}
			}
			w.reset()
			lut.handler.ServeHTTP(w, a)
			if w.code() != http.StatusTooManyRequests {
				t.Fatalf("request %d: status %d, want 429", denyLimit.N+1, w.code())
			}
			w.reset()
			lut.handler.ServeHTTP(w, b)
			if w.code() != http.StatusOK {
				t.Fatalf("other key: status %d, want 200", w.code())
			}
			if passed != denyLimit.N+1 {
				t.Fatalf("next handler ran %d times, want %d", passed, denyLimit.N+1)
			}
		})
	}
}
