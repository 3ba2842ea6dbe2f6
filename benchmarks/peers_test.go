package benchmarks

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/didip/tollbooth/v7"
	tollboothlimiter "github.com/didip/tollbooth/v7/limiter"
	"github.com/go-chi/httprate"
	"github.com/sethvargo/go-limiter/httplimit"
	"github.com/sethvargo/go-limiter/memorystore"
	"github.com/throttled/throttled/v2"
	throttledmem "github.com/throttled/throttled/v2/store/memstore"
	ulule "github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/middleware/stdlib"
	ululemem "github.com/ulule/limiter/v3/drivers/store/memory"
	"golang.org/x/time/rate"

	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

// keyHeader is the one request header every limiter is keyed by.
const keyHeader = "X-Api-Key" // canonical form, so Header.Get does not allocate

// requestKey is the key function shared by every library: the value of one
// header, nothing else (no client address, no path).
func requestKey(r *http.Request) string { return r.Header.Get(keyHeader) }

// spec is one limit, expressed identically to every library: N requests per
// Window, and a burst (bucket capacity) of N.
type spec struct {
	N      int
	Window time.Duration
}

var (
	// denyLimit is the limit of the runs that must be rejected:
	// 100/minute with a burst of 100.
	denyLimit = spec{N: 100, Window: time.Minute}

	// hugeLimit is the limit of the runs that must be allowed. It is a
	// finite limit (never rate.Inf: that would skip the bucket arithmetic in
	// x/time/rate and let some libraries short-circuit) whose burst no
	// benchmark can drain: 10^9 tokens, refilled at 10^9 per hour (about
	// 278k/s). The refill rate is deliberately far below the request rate of
	// every benchmark, so a hot key's bucket is never full again between two
	// of its requests: that is what a key using its allowance looks like, and
	// it keeps libraries that drop full buckets (gatekey) on their hot path
	// instead of re-creating the bucket on every request.
	hugeLimit = spec{N: 1_000_000_000, Window: time.Hour}
)

// limiterUnderTest is one library's middleware around next, as built for one
// (sub-)benchmark or one gate round.
type limiterUnderTest struct {
	handler http.Handler

	// tracked returns how many keys the library holds state for, given the
	// number of distinct keys it was sent. Libraries that expose a count use
	// it; for the others it is derived from their documented eviction rule.
	tracked func(distinct int) int

	// close releases background goroutines, if the library has any.
	close func()
}

// peer is a library under comparison.
type peer struct {
	name string
	// headers names the response headers the library writes by default, for
	// the README (writing headers is part of the work measured).
	headers string
	// bounded says how the library bounds its memory, for the README.
	bounded string
	build   func(s spec, next http.Handler) limiterUnderTest
}

// all returns distinct unchanged: for libraries that keep every key they see
// for longer than any benchmark runs.
func all(distinct int) int { return distinct }

func noClose() {}

// peers lists the libraries, gatekey first (benchstat compares every column
// with the first one).
var peers = []peer{
	{
		name:    "gatekey",
		headers: "RateLimit-Policy, RateLimit (IETF draft); Retry-After and a JSON error body on 429",
		bounded: "yes: full buckets dropped, cap of 1<<20 buckets (MemoryConfig defaults)",
		build: func(s spec, next http.Handler) limiterUnderTest {
			// The default store, created here rather than left nil only so
			// that the benchmark can read Len: NewMemoryStore with a zero
			// MemoryConfig is exactly what RateLimiter uses when Store is nil.
			store := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
			rl := &middleware.RateLimiter{
				Policy: ratelimit.Policy{{Requests: s.N, Window: s.Window, Burst: s.N}},
				Store:  store,
				Key:    requestKey,
			}
			return limiterUnderTest{
				handler: rl.Handler(next),
				tracked: func(int) int { return store.Len() },
				close:   noClose,
			}
		},
	},
	{
		name:    "xtime-syncmap",
		headers: "none",
		bounded: "no: one *rate.Limiter per key, never dropped",
		build: func(s spec, next http.Handler) limiterUnderTest {
			// The baseline: what a team writes by hand in ten lines.
			var m sync.Map // key -> *rate.Limiter
			limit := rate.Limit(float64(s.N) / s.Window.Seconds())
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				key := requestKey(r)
				v, ok := m.Load(key)
				if !ok {
					v, _ = m.LoadOrStore(key, rate.NewLimiter(limit, s.N))
				}
				if !v.(*rate.Limiter).Allow() {
					http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
					return
				}
				next.ServeHTTP(w, r)
			})
			return limiterUnderTest{handler: h, tracked: all, close: noClose}
		},
	},
	{
		name:    "httprate",
		headers: "X-RateLimit-Limit, -Remaining, -Reset; Retry-After on 429",
		bounded: "by window: counters of the two latest windows only",
		build: func(s spec, next http.Handler) limiterUnderTest {
			// README, "Rate limit by arbitrary keys": LimitBy(n, window,
			// KeyFunc) with the default in-memory counter. httprate is a
			// sliding-window counter: n requests per window, no separate
			// burst parameter.
			mw := httprate.LimitBy(s.N, s.Window, func(r *http.Request) (string, error) {
				return requestKey(r), nil
			})
			return limiterUnderTest{handler: mw(next), tracked: all, close: noClose}
		},
	},
	{
		name:    "tollbooth",
		headers: "X-Rate-Limit-Limit, -Duration, -Request-Remote-Addr; RateLimit-Limit, -Reset, -Remaining",
		bounded: "by TTL: buckets expire 1h after creation (README's ExpirableOptions example)",
		build: func(s spec, next http.Handler) limiterUnderTest {
			// README "Five Minute Tutorial" and feature 1: NewLimiter(max
			// per second, ExpirableOptions) and LimitHandler; the README's
			// expirable example uses a one-hour TTL, which we keep (without
			// it buckets live 10 years); burst via SetBurst. Keyed by our
			// header with SetHeader(header, nil): no listed values means
			// every value of the header is limited separately. LimitHandler
			// always adds the client IP and the path to the key; both are
			// the same in every benchmark request, so the buckets are still
			// one per header value.
			lmt := tollbooth.NewLimiter(float64(s.N)/s.Window.Seconds(),
				&tollboothlimiter.ExpirableOptions{DefaultExpirationTTL: time.Hour})
			lmt.SetBurst(s.N)
			lmt.SetHeader(keyHeader, nil)
			return limiterUnderTest{handler: tollbooth.LimitHandler(lmt, next), tracked: all, close: noClose}
		},
	},
	{
		name:    "tollbooth-bykeys",
		headers: "none (LimitByKeys decides; the caller writes the response)",
		bounded: "by TTL: buckets expire 1h after creation (README's ExpirableOptions example)",
		build: func(s spec, next http.Handler) limiterUnderTest {
			// README item 2, "Compose your own middleware by using
			// LimitByKeys()": the one way to key tollbooth by our key
			// function alone. Limiter built as above; the 429 is written
			// the way LimitHandler writes it.
			lmt := tollbooth.NewLimiter(float64(s.N)/s.Window.Seconds(),
				&tollboothlimiter.ExpirableOptions{DefaultExpirationTTL: time.Hour})
			lmt.SetBurst(s.N)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if httpErr := tollbooth.LimitByKeys(lmt, []string{requestKey(r)}); httpErr != nil {
					w.Header().Add("Content-Type", lmt.GetMessageContentType())
					w.WriteHeader(httpErr.StatusCode)
					w.Write([]byte(httpErr.Message))
					return
				}
				next.ServeHTTP(w, r)
			})
			return limiterUnderTest{handler: h, tracked: all, close: noClose}
		},
	},
	{
		name:    "ulule",
		headers: "X-RateLimit-Limit, -Remaining, -Reset",
		bounded: "by TTL: expired windows cleaned every 30s (memory.NewStore default)",
		build: func(s spec, next http.Handler) limiterUnderTest {
			// README "Usage": Rate{Period, Limit}, memory.NewStore(),
			// limiter.New(store, rate), stdlib.NewMiddleware; our key via
			// the documented WithKeyGetter option. ulule is a fixed window
			// counter: Limit requests per Period, no separate burst.
			store := ululemem.NewStore()
			inst := ulule.New(store, ulule.Rate{Period: s.Window, Limit: int64(s.N)})
			mw := stdlib.NewMiddleware(inst, stdlib.WithKeyGetter(requestKey))
			return limiterUnderTest{handler: mw.Handler(next), tracked: all, close: noClose}
		},
	},
	{
		name:    "sethvargo",
		headers: "X-RateLimit-Limit, -Remaining, -Reset (RFC 1123 date); Retry-After on 429",
		bounded: "by TTL: idle keys swept after 12h, every 6h (memorystore defaults)",
		build: func(s spec, next http.Handler) limiterUnderTest {
			// README "Usage": memorystore.New(&Config{Tokens, Interval}),
			// then httplimit.NewMiddleware(store, KeyFunc).Handle(next).
			store, err := memorystore.New(&memorystore.Config{Tokens: uint64(s.N), Interval: s.Window})
			if err != nil {
				panic(err)
			}
			mw, err := httplimit.NewMiddleware(store, func(r *http.Request) (string, error) {
				return requestKey(r), nil
			})
			if err != nil {
				panic(err)
			}
			return limiterUnderTest{
				handler: mw.Handle(next),
				tracked: all,
				// The README: "You should always call Close()".
				close: func() { store.Close(context.Background()) },
			}
		},
	},
	{
		name:    "throttled",
		headers: "X-RateLimit-Limit, -Remaining, -Reset; Retry-After",
		bounded: "yes: LRU of 65536 keys (README's memstore.NewCtx(65536))",
		build: func(s spec, next http.Handler) limiterUnderTest {
			// README "Usage": memstore.NewCtx(65536), RateQuota{MaxRate,
			// MaxBurst}, NewGCRARateLimiterCtx, HTTPRateLimiterCtx.
			// MaxBurst counts requests beyond the first, so a bucket of N
			// is MaxBurst N-1. VaryBy is documented as any value with a
			// Key(*http.Request) string method; ours is the shared key
			// function (VaryBy{Headers: ...} would also lower-case the value
			// and append a separator).
			const lruSize = 65536
			store, err := throttledmem.NewCtx(lruSize)
			if err != nil {
				panic(err)
			}
			rl, err := throttled.NewGCRARateLimiterCtx(store, throttled.RateQuota{
				MaxRate:  throttled.PerDuration(s.N, s.Window),
				MaxBurst: s.N - 1,
			})
			if err != nil {
				panic(err)
			}
			h := &throttled.HTTPRateLimiterCtx{RateLimiter: rl, VaryBy: varyByHeader{}}
			return limiterUnderTest{
				handler: h.RateLimit(next),
				tracked: func(distinct int) int { return min(distinct, lruSize) },
				close:   noClose,
			}
		},
	},
}

// varyByHeader is throttled's VaryBy for the shared key function.
type varyByHeader struct{}

func (varyByHeader) Key(r *http.Request) string { return requestKey(r) }
