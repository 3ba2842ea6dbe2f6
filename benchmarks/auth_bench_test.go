package benchmarks

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/middleware"
)

// Authentication benchmarks.
//
//	BenchmarkAuthenticate: the decision alone, no HTTP response.
//	  impl=floor                  by hand: cut "Bearer ", map look-up by id,
//	                              SHA-256 of the key, crypto/subtle compare.
//	  impl=gatekey/cache=hit      Authenticator.Authenticate, record cached.
//	  impl=gatekey/cache=miss     the same with VerifierConfig.CacheTTL < 0:
//	                              every request reads the store
//	                              (apikey.MemoryStore, which copies the record).
//	  impl=gatekey-verify/…       apikey.Manager.Verify behind the floor's
//	                              header handling: the verifier alone.
//	BenchmarkAuthMiddleware: the same as middleware around a no-op handler,
//	  with the key's record handed to the next handler.
//	  impl=floor                  the floor plus context.WithValue/WithContext.
//	  impl=gatekey                Authenticator.Handler (cache hit).
//	  impl=echo-keyauth           labstack/echo/v4 middleware.KeyAuth, see below.
//
// echo's KeyAuth can be measured fairly outside a full echo stack: it is an
// echo.MiddlewareFunc that only needs an echo.Context, and echo.ServeHTTP
// does no more per request than take a pooled Context and Reset it with the
// request and writer, which is what the benchmark does (without echo's
// router, which a net/http service would not have). Its validator is user
// code: it is given the floor's check, so echo-keyauth is the floor plus
// echo's key extraction and Context. Like the floor, and unlike gatekey, it
// does not parse or checksum the key, nor check expiry or revocation.

// authFixture is one key known to a gatekey Manager and to the floor's map.
type authFixture struct {
	key   string // the plaintext key, "sk_live_" + 50 characters
	mgr   *apikey.Manager
	floor map[string]*floorRecord
}

// floorRecord is the hand-written store's record: the key's SHA-256.
type floorRecord struct {
	digest [sha256.Size]byte
	key    *apikey.Key
}

func newAuthFixture(tb testing.TB, cfg apikey.VerifierConfig) *authFixture {
	mgr, err := apikey.NewManager(&apikey.MemoryStore{}, apikey.ManagerConfig{Verifier: cfg})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mgr.Close() })
	tok, rec, err := mgr.Create(context.Background(), apikey.CreateParams{
		Name: "bench", Type: apikey.SecretKey, Environment: apikey.Live, Permission: apikey.ReadWrite,
	})
	if err != nil {
		tb.Fatal(err)
	}
	key := tok.Reveal()
	return &authFixture{
		key: key,
		mgr: mgr,
		floor: map[string]*floorRecord{
			tok.ID(): {digest: sha256.Sum256([]byte(key)), key: rec},
		},
	}
}

func (f *authFixture) request() *http.Request {
	r := newRequest("unused")
	r.Header.Set("Authorization", "Bearer "+f.key)
	return r
}

// check is the floor: the least work that authenticates a presented key
// against stored SHA-256 digests.
func (f *authFixture) check(key string) (*floorRecord, bool) {
	const prefix = len("sk_live_")
	if len(key) != prefix+apikey.BodyLen {
		return nil, false
	}
	rec, ok := f.floor[key[prefix:prefix+apikey.IDLen]]
	if !ok {
		return nil, false
	}
	var buf [prefix + apikey.BodyLen]byte // hashing a stack copy does not allocate
	sum := sha256.Sum256(buf[:copy(buf[:], key)])
	if subtle.ConstantTimeCompare(sum[:], rec.digest[:]) != 1 {
		return nil, false
	}
	return rec, true
}

func (f *authFixture) floorAuth(r *http.Request) (*floorRecord, bool) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, false
	}
	return f.check(key)
}

type floorKey struct{}

var sinkKey *apikey.Key

func BenchmarkAuthenticate(b *testing.B) {
	run := func(b *testing.B, auth func(*http.Request) bool, req *http.Request) {
		if !auth(req) {
			b.Fatal("key rejected")
		}
		b.Run("mode=serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !auth(req) {
					b.Fatal("key rejected")
				}
			}
		})
		b.Run("mode=parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if !auth(req) {
						b.Error("key rejected")
						return
					}
				}
			})
		})
	}
	b.Run("impl=floor", func(b *testing.B) {
		f := newAuthFixture(b, apikey.VerifierConfig{})
		run(b, func(r *http.Request) bool {
			rec, ok := f.floorAuth(r)
			if ok {
				sinkKey = rec.key
			}
			return ok
		}, f.request())
	})
	for _, c := range []struct {
		name string
		ttl  time.Duration
	}{{"hit", 0}, {"miss", -1}} {
		b.Run("impl=gatekey/cache="+c.name, func(b *testing.B) {
			// CacheTTL 0 is the default (30s); negative disables the cache.
			f := newAuthFixture(b, apikey.VerifierConfig{CacheTTL: c.ttl})
			a := &middleware.Authenticator{Verifier: f.mgr}
			run(b, func(r *http.Request) bool {
				k, err := a.Authenticate(r)
				sinkKey = k
				return err == nil
			}, f.request())
		})
		b.Run("impl=gatekey-verify/cache="+c.name, func(b *testing.B) {
			// The verifier alone (apikey.Manager.Verify) behind the floor's
			// header handling: what Authenticate costs without its own
			// per-call set-up.
			f := newAuthFixture(b, apikey.VerifierConfig{CacheTTL: c.ttl})
			ctx := context.Background()
			run(b, func(r *http.Request) bool {
				key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
				if !ok {
					return false
				}
				k, err := f.mgr.Verify(ctx, key)
				sinkKey = k
				return err == nil
			}, f.request())
		})
	}
}

func BenchmarkAuthMiddleware(b *testing.B) {
	run := func(b *testing.B, f *authFixture, serve func(w *recorder, r *http.Request)) {
		req := f.request()
		w := newRecorder()
		serve(w, req)
		if w.code() != http.StatusOK {
			b.Fatalf("status %d, want 200", w.code())
		}
		b.Run("mode=serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				serve(w, req)
			}
			if w.code() != http.StatusOK {
				b.Fatalf("status %d, want 200", w.code())
			}
		})
		b.Run("mode=parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := newRecorder()
				for pb.Next() {
					w.reset()
					serve(w, req)
				}
				if w.code() != http.StatusOK {
					b.Errorf("status %d, want 200", w.code())
				}
			})
		})
	}

	b.Run("impl=floor", func(b *testing.B) {
		f := newAuthFixture(b, apikey.VerifierConfig{})
		next := noop
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec, ok := f.floorAuth(r)
			if !ok {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, rec.key)))
		})
		run(b, f, func(w *recorder, r *http.Request) { h.ServeHTTP(w, r) })
	})

	b.Run("impl=gatekey", func(b *testing.B) {
		f := newAuthFixture(b, apikey.VerifierConfig{})
		h := (&middleware.Authenticator{Verifier: f.mgr}).Handler(noop)
		run(b, f, func(w *recorder, r *http.Request) { h.ServeHTTP(w, r) })
	})

	b.Run("impl=echo-keyauth", func(b *testing.B) {
		f := newAuthFixture(b, apikey.VerifierConfig{})
		e := echo.New()
		// echo's README/docs: middleware.KeyAuth(validator) reads
		// "Authorization: Bearer <key>" by default.
		// The validator hands the record to the next handler with c.Set,
		// echo's way, as the floor and gatekey do with the request context.
		h := echomw.KeyAuth(func(key string, c echo.Context) (bool, error) {
			rec, ok := f.check(key)
			if ok {
				c.Set("apikey", rec.key)
			}
			return ok, nil
		})(func(echo.Context) error { return nil })
		serve := func(w *recorder, r *http.Request) {
			c := e.NewContext(r, w)
			if err := h(c); err != nil {
				e.HTTPErrorHandler(err, c)
			}
		}
		// One Context per goroutine, Reset per request as echo.ServeHTTP
		// does with its pooled Contexts.
		req := f.request()
		w := newRecorder()
		serve(w, req)
		if w.code() != http.StatusOK {
			b.Fatalf("status %d, want 200", w.code())
		}
		b.Run("mode=serial", func(b *testing.B) {
			c := e.NewContext(req, w)
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				c.Reset(req, w)
				if err := h(c); err != nil {
					e.HTTPErrorHandler(err, c)
				}
			}
			if w.code() != http.StatusOK {
				b.Fatalf("status %d, want 200", w.code())
			}
		})
		b.Run("mode=parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := newRecorder()
				c := e.NewContext(req, w)
				for pb.Next() {
					w.reset()
					c.Reset(req, w)
					if err := h(c); err != nil {
						e.HTTPErrorHandler(err, c)
					}
				}
				if w.code() != http.StatusOK {
					b.Errorf("status %d, want 200", w.code())
				}
			})
		})
	})
}
