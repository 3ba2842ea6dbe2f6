package benchmarks

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"sync"
)

// recorder is the reused ResponseWriter: it keeps the status and discards
// the body. reset clears its headers (keeping the map's storage), so that a
// library that Adds headers does not see them pile up across calls.
type recorder struct {
	h      http.Header
	status int
}

func newRecorder() *recorder { return &recorder{h: make(http.Header, 8)} }

func (w *recorder) Header() http.Header { return w.h }

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *recorder) reset() {
	clear(w.h)
	w.status = 0
}

// code is the status the handler answered with (200 if it wrote nothing).
func (w *recorder) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// noop is the next handler of every rate-limit benchmark.
var noop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// newRequest returns a prebuilt GET request carrying key in keyHeader.
func newRequest(key string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/things", nil)
	r.Header.Set(keyHeader, key)
	return r
}

// keyValue returns the slice holding r's key header value: storing into
// its first element switches the request to another key without
// allocating.
func keyValue(r *http.Request) []string { return r.Header[keyHeader] }

var (
	keyPoolMu sync.Mutex
	keyPools  = map[int][]string{}
)

// keyPool returns n distinct keys, built once per process and shared.
func keyPool(n int) []string {
	keyPoolMu.Lock()
	defer keyPoolMu.Unlock()
	if k, ok := keyPools[n]; ok {
		return k
	}
	k := make([]string, n)
	for i := range k {
		k[i] = fmt.Sprintf("key-%08d", i)
	}
	keyPools[n] = k
	return k
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

// heapNow returns the bytes of heap objects, live or not yet swept, without
// stopping the world: cheap enough to sample inside a benchmark loop.
func heapNow() uint64 {
	metrics.Read(heapSample)
	return heapSample[0].Value.Uint64()
}
