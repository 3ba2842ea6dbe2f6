// Command server is gatekey's reference service: a small monitoring API
// (keys and monitors) in the style of Stripe, Hyperping or Trackyard, built
// from gatekey's packages. It is what a newcomer runs first:
//
//	go run ./examples/server
//
// It listens on 127.0.0.1:8080 and prints an admin key on stderr, unless
// GATEKEY_ADMIN_KEY holds one. The README walks through its API with curl.
// Keys and limits live in memory; config.Keys and config.Limits in
// server.go are where a real deployment plugs in SQL and Redis stores.
//
// Flags:
//
//	-addr               listen address (default 127.0.0.1:8080)
//	-rate               limits of every key (default 100/minute,10000/day)
//	-auth-failure-rate  failed authentications allowed per client address (default 100/minute)
//	-require-tls        answer plain HTTP with 403 https_required
//	-tls-cert, -tls-key serve HTTPS with this certificate and key
//	-trusted-proxies    CIDRs whose X-Forwarded-* headers are believed
//	-error-format       json (default) or simple ({"error": "message"})
//	-cors-origins       comma-separated allowed origins (default *)
//	-log-format         text (default) or json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// run parses flags, starts the service and serves until ctx is done.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	rate := fs.String("rate", "100/minute,10000/day", "limits of every key")
	authFailureRate := fs.String("auth-failure-rate", "100/minute", "failed authentications allowed per client address")
	requireTLS := fs.Bool("require-tls", false, "answer plain HTTP with 403 https_required")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (serve HTTPS)")
	tlsKey := fs.String("tls-key", "", "TLS key file (serve HTTPS)")
	trusted := fs.String("trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-* headers are believed")
	errorFormat := fs.String("error-format", "json", `error body format: "json" or "simple"`)
	corsOrigins := fs.String("cors-origins", "*", "comma-separated origins allowed to call the API from browsers")
	logFormat := fs.String("log-format", "text", `log format: "text" or "json"`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	var logger *slog.Logger
	switch *logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	case "json":
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	default:
		return fmt.Errorf("-log-format: %q is not text or json", *logFormat)
	}
	cfg := config{AdminKey: getenv("GATEKEY_ADMIN_KEY"), RequireTLS: *requireTLS, Logger: logger}
	var err error
	if cfg.Rate, err = ratelimit.ParsePolicy(*rate); err != nil {
		return fmt.Errorf("-rate: %w", err)
	}
	if cfg.AuthFailureRate, err = ratelimit.ParseLimit(*authFailureRate); err != nil {
		return fmt.Errorf("-auth-failure-rate: %w", err)
	}
	if cfg.TrustedProxies, err = middleware.ParseTrustedProxies(*trusted); err != nil {
		return fmt.Errorf("-trusted-proxies: %w", err)
	}
	switch *errorFormat {
	case "json":
		cfg.ErrorEncoding = apierrors.EncodingObject
	case "simple":
		cfg.ErrorEncoding = apierrors.EncodingSimple
	default:
		return fmt.Errorf("-error-format: %q is not json or simple", *errorFormat)
	}
	for o := range strings.SplitSeq(*corsOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.CORSOrigins = append(cfg.CORSOrigins, o)
		}
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}

	s, err := newServer(cfg)
	if err != nil {
		return err
	}
	defer s.close() // flushes last-used times
	if !s.generatedAdminKey.IsZero() {
		// The one time this key is shown. It is a test-environment key.
		fmt.Fprintf(stderr, "admin key: %s\n", s.generatedAdminKey.Reveal())
	}

	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10, // DESIGN.md: at least 16 KB, so oversized keys get a JSON error
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stderr, "listening on %s://%s\n", scheme, ln.Addr())

	errc := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			errc <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	return nil
}
