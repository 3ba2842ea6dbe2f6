// Command loadserver is the target of benchmarks/loadtest.sh. It serves one
// handler three times, in one process, on one http.Server:
//
//	GET /bare        the handler alone
//	GET /v1/hello    the same handler behind gatekey's front door,
//	                 middleware.Gate, configured as examples/server's is
//	                 (without its request log): request id and recovery,
//	                 CORS, failed-auth throttle and authentication, the rate
//	                 limit (two limits, like the reference service's default
//	                 policy), routing with JSON 404/405, and the per-route
//	                 checks
//	GET /peer/hello  the same handler behind a peer chain, built as a Go
//	                 service would without gatekey (peer.go): chi's
//	                 middleware.RequestID, a hand-written API key check (a
//	                 map from the key's SHA-256 to its record, put in the
//	                 request context) and go-chi/httprate keyed by the key's
//	                 id, one limiter per limit of -rate
//	POST /v1/keys    creates a key (secret, read-write keys only), as
//	                 examples/server's POST /v1/keys does, so the load test
//	                 makes its keys through the API; the key is valid on
//	                 /v1/hello and on /peer/hello
//
// Comparing routes of one process isolates what a chain costs: they share
// the listener, net/http's work, the handler and its response bytes, and
// the load generator sends the same request bytes to each (it sends the
// Authorization header to /bare too). examples/server's own routes could not
// give that comparison: it has no bare route, its handlers encode JSON
// records, and it writes a log line per request.
//
// Like examples/server it prints "listening on http://ADDR" and
// "admin key: KEY" on stderr. Flags: -addr, -rate, -auth-failure-rate, and
// -cpuprofile FILE to see where the chain's time goes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadserver:", err)
		os.Exit(1)
	}
}

// hello is the handler of every GET route: a small fixed JSON body.
var hello = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"hello":"world"}`+"\n")
})

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (port 0: a free port)")
	rate := fs.String("rate", "100000/minute,10000000/day", "limits of every key")
	authFailureRate := fs.String("auth-failure-rate", "100/minute", "failed authentications allowed per client address")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	policy, err := ratelimit.ParsePolicy(*rate)
	if err != nil {
		return fmt.Errorf("-rate: %w", err)
	}
	failLimit, err := ratelimit.ParseLimit(*authFailureRate)
	if err != nil {
		return fmt.Errorf("-auth-failure-rate: %w", err)
	}

	logger := slog.New(slog.DiscardHandler)
	mgr, err := apikey.NewManager(&apikey.MemoryStore{}, apikey.ManagerConfig{})
	if err != nil {
		return err
	}
	defer mgr.Close()
	admin, adminKey, err := mgr.Create(ctx, apikey.CreateParams{
		Name: "admin", Type: apikey.SecretKey, Environment: apikey.Test, Permission: apikey.ReadWrite,
	})
	if err != nil {
		return err
	}
	// The peer chain accepts the keys the Gate accepts: the admin key and
	// every key POST /v1/keys creates.
	peers := &peerKeys{}
	peers.add(admin.Reveal(), peerKey{ID: adminKey.ID, Name: adminKey.Name})
	api := http.NewServeMux()
	api.Handle("GET /v1/hello", hello)
	api.Handle("POST /v1/keys", middleware.RequireSecret(middleware.RequireWrite(apierrors.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) error { return createKey(w, r, mgr, peers) }))))
	gate := &middleware.Gate{
		Auth:      middleware.Authenticator{Verifier: mgr, Throttle: &middleware.AuthThrottle{Limit: failLimit}},
		RateLimit: &middleware.RateLimiter{Policy: policy},
		CORS:      &middleware.CORS{AllowedOrigins: []string{"*"}},
		Logger:    logger,
	}

	root := http.NewServeMux()
	root.Handle("GET /bare", hello)
	root.Handle("GET /peer/hello", peerChain(peers, policy, hello))
	root.Handle("/", gate.Handler(api))

	// The reference service's server settings.
	srv := &http.Server{
		Handler:           root,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "admin key: %s\n", admin.Reveal())
	fmt.Fprintf(stderr, "listening on http://%s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// createKey answers POST /v1/keys {"name": "…"} with 201 {"id": …, "key": …}:
// a read-write secret key in the caller's environment, also added to peers
// so that the peer chain accepts it.
func createKey(w http.ResponseWriter, r *http.Request, mgr *apikey.Manager, peers *peerKeys) error {
	caller, ok := middleware.KeyFromContext(r.Context())
	if !ok {
		return apierrors.NewInternal(errors.New("loadserver: no key in context"))
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.Name == "" {
		return apierrors.NewInvalidParameter("name", "a JSON body with a name is required")
	}
	tok, k, err := mgr.Create(r.Context(), apikey.CreateParams{
		Name: req.Name, Type: apikey.SecretKey, Environment: caller.Environment, Permission: apikey.ReadWrite,
	})
	if err != nil {
		return apierrors.NewInternal(err)
	}
	peers.add(tok.Reveal(), peerKey{ID: k.ID, Name: k.Name})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	return json.NewEncoder(w).Encode(struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}{k.ID, tok.Reveal()})
}
