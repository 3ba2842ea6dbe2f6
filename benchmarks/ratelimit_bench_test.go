package benchmarks

import (
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// slowLimit is the limit of the 1M-key runs: 100 per hour with a burst of
// 100, so that no bucket refills while the benchmark runs and every key is
// still tracked, by every library, when the heap is measured.
var slowLimit = spec{N: 100, Window: time.Hour}

// BenchmarkRateLimit compares the rate-limit middleware. Sub-benchmarks are
// named scenario=…/lib=…/mode=… so that benchstat can pivot on any of them
// (benchstat -col /lib).
//
// Scenarios:
//
//	HotAllowed  one key, every request allowed (hugeLimit)
//	HotDenied   one key whose bucket was drained first, every request rejected (denyLimit)
//	Keys10k     10,000 keys in round robin, every request allowed (hugeLimit)
//	Keys1M      1,000,000 distinct keys (slowLimit); run it with
//	            -benchtime=1000000x so that every request brings a new key.
//	            Reports heap-B/key (live heap after runtime.GC, per tracked
//	            key), peak-heap-MiB (heap objects, live or not yet swept, at
//	            their highest during the run, above the heap before it) and
//	            keys (the number of keys tracked).
func BenchmarkRateLimit(b *testing.B) {
	scenarios := []struct {
		name string
		run  func(b *testing.B, p peer, parallel bool)
	}{
		{"HotAllowed", func(b *testing.B, p peer, par bool) { benchHot(b, p, par, hugeLimit, http.StatusOK) }},
		{"HotDenied", func(b *testing.B, p peer, par bool) {
			benchHot(b, p, par, denyLimit, http.StatusTooManyRequests)
		}},
		{"Keys10k", func(b *testing.B, p peer, par bool) { benchKeys(b, p, par, 10_000, hugeLimit, false) }},
		{"Keys1M", func(b *testing.B, p peer, par bool) { benchKeys(b, p, par, 1_000_000, slowLimit, true) }},
	}
	for _, sc := range scenarios {
		b.Run("scenario="+sc.name, func(b *testing.B) {
			for _, p := range peers {
				b.Run("lib="+p.name, func(b *testing.B) {
					b.Run("mode=serial", func(b *testing.B) { sc.run(b, p, false) })
					b.Run("mode=parallel", func(b *testing.B) { sc.run(b, p, true) })
				})
			}
		})
	}
}

// benchHot sends every request with the same key. For want 429 the bucket
// is drained first; every timed request must then be rejected, and for want
// 200 every timed request must be allowed.
func benchHot(b *testing.B, p peer, parallel bool, s spec, want int) {
	lut := p.build(s, noop) // a fresh limiter for every run
	b.Cleanup(lut.close)
	req := newRequest("hot-key")
	w := newRecorder()
	if want == http.StatusTooManyRequests {
		for range s.N {
			w.reset()
			lut.handler.ServeHTTP(w, req)
		}
	}
	w.reset()
	lut.handler.ServeHTTP(w, req)
	if w.code() != want {
		b.Fatalf("%s: status %d before the run, want %d", p.name, w.code(), want)
	}

	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		var bad atomic.Int32
		b.RunParallel(func(pb *testing.PB) {
			w := newRecorder()
			for pb.Next() {
				w.reset()
				lut.handler.ServeHTTP(w, req)
			}
			if w.status != 0 && w.code() != want {
				bad.Store(int32(w.code()))
			}
		})
		if c := bad.Load(); c != 0 {
			b.Fatalf("%s: status %d at the end of the run, want %d", p.name, c, want)
		}
		return
	}
	for range b.N {
		w.reset()
		lut.handler.ServeHTTP(w, req)
	}
	b.StopTimer()
	if w.code() != want {
		b.Fatalf("%s: status %d at the end of the run, want %d", p.name, w.code(), want)
	}
}

// chunk is how many consecutive key indexes a goroutine claims at once, so
// that handing out keys costs one atomic add per chunk, not per request.
const chunk = 1024

// benchKeys sends requests whose keys walk through n distinct keys in order
// (and round robin once all are used). In parallel runs the goroutines claim
// consecutive chunks of the walk, so that every key is still used once
// before any is reused. With memory set it reports the heap metrics
// described on BenchmarkRateLimit.
func benchKeys(b *testing.B, p peer, parallel bool, n int, s spec, memory bool) {
	keys := keyPool(n)
	var base uint64
	if memory {
		base = liveHeap()
	}
	lut := p.build(s, noop)
	b.Cleanup(lut.close)
	var peak atomic.Uint64
	notePeak := func() {
		h := heapNow()
		for {
			old := peak.Load()
			if h <= old || peak.CompareAndSwap(old, h) {
				return
			}
		}
	}

	var next atomic.Int64 // the next unclaimed index of the walk
	var bad atomic.Int32
	work := func(req *http.Request, w *recorder, more func() bool) {
		kv := keyValue(req)
		for c := 0; ; c++ {
			start := int(next.Add(chunk) - chunk)
			for i := range chunk {
				if !more() {
					if w.status != 0 && w.code() != http.StatusOK {
						bad.Store(int32(w.code()))
					}
					return
				}
				kv[0] = keys[(start+i)%n]
				w.reset()
				lut.handler.ServeHTTP(w, req)
			}
			if memory && c%64 == 0 {
				notePeak()
			}
		}
	}

	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			work(newRequest(keys[0]), newRecorder(), pb.Next)
		})
	} else {
		req, w := newRequest(keys[0]), newRecorder()
		left := b.N
		work(req, w, func() bool { left--; return left >= 0 })
	}
	b.StopTimer()
	if c := bad.Load(); c != 0 {
		b.Fatalf("%s: status %d at the end of the run, want 200", p.name, c)
	}
	if memory {
		notePeak()
		after := liveHeap()
		tracked := lut.tracked(min(b.N, n))
		if tracked > 0 {
			b.ReportMetric(float64(int64(after)-int64(base))/float64(tracked), "heap-B/key")
		}
		b.ReportMetric(float64(int64(peak.Load())-int64(base))/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(tracked), "keys")
	}
	runtime.KeepAlive(lut)
}
