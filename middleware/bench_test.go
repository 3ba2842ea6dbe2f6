package middleware_test

import (
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/credits"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/middleware/middlewaretest"
	"github.com/gatekey/gatekey/ratelimit"
)

// nopWriter is a ResponseWriter that keeps one header map, so benchmarks
// measure the middleware rather than a recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

var nop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// benchServe runs h on a prebuilt request, serially and in parallel.
func benchServe(b *testing.B, h http.Handler, newReq func() *http.Request) {
	b.Run("serial", func(b *testing.B) {
		r, w := newReq(), &nopWriter{h: make(http.Header)}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, r)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r, w := newReq(), &nopWriter{h: make(http.Header)}
			for pb.Next() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	})
}

// bearerRequest returns a function making requests that present key.
func bearerRequest(method, path, key string) func() *http.Request {
	return func() *http.Request {
		r := httptest.NewRequest(method, path, nil)
		r.Header.Set("Authorization", "Bearer "+key)
		return r
	}
}

// BenchmarkAuthenticate measures Authenticate on a cache hit (SHA-256)
// beside the floor it is compared with: a bare handler, and one
// sha256.Sum256 of the key.
func BenchmarkAuthenticate(b *testing.B) {
	f := newFixture(b)
	key := f.keys["secret"]
	newReq := bearerRequest("GET", "/v1/monitors", key)
	b.Run("baseline=bare-handler", func(b *testing.B) { benchServe(b, nop, newReq) })
	b.Run("baseline=sha256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sha256.Sum256([]byte(key))
		}
	})
	auth := (&middleware.Authenticator{Verifier: f.mgr}).Handler(nop)
	b.Run("authenticate=hit", func(b *testing.B) { benchServe(b, auth, newReq) })
	b.Run("authenticate=hit/method", func(b *testing.B) {
		a, r := &middleware.Authenticator{Verifier: f.mgr}, newReq()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Authenticate(r); err != nil {
				b.Fatal(err)
			}
		}
	})

	bad := quietWriter((&middleware.Authenticator{Verifier: f.mgr, Logger: discardLogger()}).Handler(nop))
	b.Run("authenticate=malformed", func(b *testing.B) {
		benchServe(b, bad, func() *http.Request {
			r := httptest.NewRequest("GET", "/v1/monitors", nil)
			r.Header.Set("Authorization", "Bearer sk_live_garbage")
			return r
		})
	})
}

// BenchmarkRateLimit measures the RateLimiter alone, keyed by a header, on
// the in-memory store: one hot key allowed and denied, 10k keys round
// robin, and a new key per request.
func BenchmarkRateLimit(b *testing.B) {
	byHeader := func(r *http.Request) string { return r.Header.Get("X-Client") }
	newLimiter := func(p string) http.Handler {
		return (&middleware.RateLimiter{Policy: ratelimit.MustParsePolicy(p), Key: byHeader,
			Logger: discardLogger()}).Handler(nop)
	}
	req := func(key string) *http.Request {
		r := httptest.NewRequest("GET", "/v1/monitors", nil)
		r.Header.Set("X-Client", key)
		return r
	}
	b.Run("hot-allowed", func(b *testing.B) {
		benchServe(b, newLimiter("1000000000/second"), func() *http.Request { return req("hot") })
	})
	b.Run("hot-allowed-tiers", func(b *testing.B) {
		tiers := map[string]ratelimit.Policy{"hot": ratelimit.MustParsePolicy("1000000000/second")}
		h := (&middleware.RateLimiter{Key: byHeader, Logger: discardLogger(),
			PolicyFor: func(r *http.Request) ratelimit.Policy { return tiers[r.Header.Get("X-Client")] }}).Handler(nop)
		benchServe(b, h, func() *http.Request { return req("hot") })
	})
	b.Run("hot-denied", func(b *testing.B) {
		h := newLimiter("1/day")
		h.ServeHTTP(&nopWriter{h: make(http.Header)}, req("hot"))
		benchServe(b, h, func() *http.Request { return req("hot") })
	})
	b.Run("keys-10k", func(b *testing.B) {
		h := newLimiter("1000000000/second")
		reqs := make([]*http.Request, 10000)
		for i := range reqs {
			reqs[i] = req("client-" + strconv.Itoa(i))
		}
		w := &nopWriter{h: make(http.Header)}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, reqs[i%len(reqs)])
			i++
		}
	})
}

// BenchmarkGate measures the whole Gate (request id, recovery, CORS,
// throttle, authentication, rate limit, routing, per-route checks) on a
// cache hit, with and without credits (cost 1 in memory), beside the same parts composed by hand in the same order (as
// the reference service did before the Gate) and the bare ServeMux.
func BenchmarkGate(b *testing.B) {
	f := newFixture(b)
	key := f.keys["secret"]
	newReq := bearerRequest("GET", "/v1/monitors", key)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/monitors", nop)
	policy := ratelimit.MustParsePolicy("1000000000/second,1000000000/day")

	b.Run("bare-mux", func(b *testing.B) { benchServe(b, mux, newReq) })
	gate := (&middleware.Gate{
		Auth:      middleware.Authenticator{Verifier: f.mgr, Throttle: &middleware.AuthThrottle{}},
		RateLimit: &middleware.RateLimiter{Policy: policy},
		CORS:      &middleware.CORS{AllowedOrigins: []string{"*"}},
		Logger:    discardLogger(),
	}).Handler(mux)
	b.Run("gate", func(b *testing.B) { benchServe(b, gate, newReq) })
	metered := (&middleware.Gate{
		Auth:      middleware.Authenticator{Verifier: f.mgr, Throttle: &middleware.AuthThrottle{}},
		RateLimit: &middleware.RateLimiter{Policy: policy},
		CORS:      &middleware.CORS{AllowedOrigins: []string{"*"}},
		Credits:   &middleware.Credits{Allowance: credits.PerMonth(credits.MaxCredits), Store: credits.NewMemoryStore(credits.MemoryConfig{})},
		Logger:    discardLogger(),
	}).Handler(mux)
	b.Run("gate-credits", func(b *testing.B) { benchServe(b, metered, newReq) })
	safe := (&middleware.Gate{
		Auth:        middleware.Authenticator{Verifier: f.mgr, Throttle: &middleware.AuthThrottle{}},
		RateLimit:   &middleware.RateLimiter{Policy: policy},
		CORS:        &middleware.CORS{AllowedOrigins: []string{"*"}},
		Idempotency: &middleware.Idempotency{Store: idempotency.NewMemoryStore(idempotency.MemoryConfig{})},
		Credits:     &middleware.Credits{Allowance: credits.PerMonth(credits.MaxCredits), Store: credits.NewMemoryStore(credits.MemoryConfig{})},
		Logger:      discardLogger(),
	}).Handler(mux)
	b.Run("gate-idempotency-credits", func(b *testing.B) { benchServe(b, safe, newReq) })

	routes := http.NewServeMux()
	routes.Handle("GET /v1/monitors", middleware.RequireMethodPermission(nop))
	byHand := (&apierrors.Writer{Logger: discardLogger()}).Middleware(middleware.RequestID((&middleware.Recoverer{Logger: discardLogger()}).Handler(
		(&middleware.CORS{AllowedOrigins: []string{"*"}, Routes: routes}).Handler(
			(&middleware.Authenticator{Verifier: f.mgr, Throttle: &middleware.AuthThrottle{}, Logger: discardLogger()}).Handler(
				(&middleware.RateLimiter{Policy: policy, Logger: discardLogger()}).Handler(
					apierrors.Mux(routes)))))))
	b.Run("by-hand", func(b *testing.B) { benchServe(b, byHand, newReq) })
}

// BenchmarkCredits measures the Credits part alone on its allowed path: a
// key already in the context, a route of cost 1 picked from a ServeMux,
// an allowance too large to run out, the in-memory store.
func BenchmarkCredits(b *testing.B) {
	mux := http.NewServeMux()
	mux.Handle("GET /v1/monitors", middleware.Cost(1)(nop))
	cr := &middleware.Credits{
		Allowance: credits.PerMonth(credits.MaxCredits),
		Store:     credits.NewMemoryStore(credits.MemoryConfig{}),
		Logger:    discardLogger(),
	}
	k := &apikey.Key{ID: "01uoTHatT215", Owner: "acct_bench", Type: apikey.SecretKey, Permission: apikey.ReadWrite}
	benchServe(b, cr.Handler(mux), func() *http.Request {
		return middlewaretest.WithKey(httptest.NewRequest("GET", "/v1/monitors", nil), k)
	})
}
