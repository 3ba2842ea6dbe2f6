package service

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
	"strings"
	"time"

	"github.com/gatekey/gatekey/apikey/leakreport"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

// Hook extends Run, as the fleet example does to plug in shared stores: it
// may define more flags on fs, and returns a function that Run calls after
// parsing, to complete the Config (Keys, Limits). The returned cleanup, if
// not nil, runs when the service stops.
type Hook func(fs *flag.FlagSet) func(cfg *Config) (cleanup func(), err error)

// Run is the service as a command: it parses args as the reference
// service's flags, reads GATEKEY_ADMIN_KEY through getenv, serves until ctx
// is done and then shuts down gracefully, letting in-flight requests finish
// and flushing last-use times. It writes the listening address, the
// generated admin key (once) and the logs to stderr. hook may be nil.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, hook Hook) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	rate := fs.String("rate", "100/minute,10000/day", "limits of the admin key and of keys without a tier")
	tiers := fs.String("tiers", DefaultTiers, `plans, ";"-separated, each "name:rate limits:monthly credits"`)
	authFailureRate := fs.String("auth-failure-rate", "100/minute", "failed authentications allowed per client address")
	requireTLS := fs.Bool("require-tls", false, "answer plain HTTP with 403 https_required")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (serve HTTPS)")
	tlsKey := fs.String("tls-key", "", "TLS key file (serve HTTPS)")
	trusted := fs.String("trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-* headers are believed")
	errorFormat := fs.String("error-format", "json", `error body format: "json" or "simple"`)
	corsOrigins := fs.String("cors-origins", "*", "comma-separated origins allowed to call the API from browsers")
	logFormat := fs.String("log-format", "text", `log format: "text" or "json"`)
	githubKeys := fs.String("github-keys", "", "file of GitHub's secret-scanning public keys (from "+leakreport.GitHubKeysURL+"); if set, POST /v1/leaks/github revokes the keys GitHub finds leaked")
	withDashboard := fs.Bool("dashboard", false, "serve the admin account's key-management page at /dashboard/, behind HTTP Basic (any user name, the password in GATEKEY_DASHBOARD_PASSWORD)")
	keyCacheTTL := fs.Duration("key-cache-ttl", 30*time.Second, "how long a key record is cached; without a change feed (examples/fleet has one), revocations made by other replicas take effect within it")
	var complete func(*Config) (func(), error)
	if hook != nil {
		complete = hook(fs)
	}
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
	logger = slog.New(redacting(logger.Handler())) // net/http's own lines too
	if *keyCacheTTL <= 0 {
		return errors.New("-key-cache-ttl must be positive")
	}
	cfg := Config{AdminKey: getenv("GATEKEY_ADMIN_KEY"), RequireTLS: *requireTLS, Logger: logger, KeyCacheTTL: *keyCacheTTL}
	if *withDashboard {
		if cfg.DashboardPassword = getenv("GATEKEY_DASHBOARD_PASSWORD"); cfg.DashboardPassword == "" {
			return errors.New("-dashboard needs the dashboard's password in GATEKEY_DASHBOARD_PASSWORD")
		}
		if len(cfg.DashboardPassword) < 12 {
			logger.Warn("GATEKEY_DASHBOARD_PASSWORD is shorter than 12 characters: fine for a demo on loopback, not for a network")
		}
	}
	var err error
	if cfg.Rate, err = ratelimit.ParsePolicy(*rate); err != nil {
		return fmt.Errorf("-rate: %w", err)
	}
	if cfg.Tiers, err = ParseTiers(*tiers); err != nil {
		return fmt.Errorf("-tiers: %w", err)
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
	if *githubKeys != "" {
		data, err := os.ReadFile(*githubKeys)
		if err != nil {
			return fmt.Errorf("-github-keys: %w", err)
		}
		if cfg.GitHubKeys, err = leakreport.ParseGitHubKeys(data); err != nil {
			return fmt.Errorf("-github-keys %s: %w", *githubKeys, err)
		}
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}

	if complete != nil {
		cleanup, err := complete(&cfg)
		if err != nil {
			return err
		}
		if cleanup != nil {
			defer cleanup()
		}
	}
	s, err := New(cfg)
	if err != nil {
		return err
	}
	defer s.Close() // flushes last-used times
	if !s.generatedAdminKey.IsZero() {
		// The one time this key is shown. It is a test-environment key.
		fmt.Fprintf(stderr, "admin key: %s\n", s.generatedAdminKey.Reveal())
	}

	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10, // at least 16 KB, so oversized keys get a JSON error, not a plain 431
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
	if cfg.DashboardPassword != "" {
		fmt.Fprintf(stderr, "dashboard: %s://%s/dashboard/ (HTTP Basic: any user name, the password in GATEKEY_DASHBOARD_PASSWORD)\n", scheme, ln.Addr())
	}

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
	srv.RegisterOnShutdown(func() {
		// Shutdown runs this once its listeners are closed.
		logger.Info("shutting down: no new connections; finishing in-flight requests")
	})
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	return nil
}
