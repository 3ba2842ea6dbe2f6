// Package service is gatekey's reference service, the API that
// examples/server runs: keys and monitors behind gatekey's front door,
// middleware.Gate. It is a package so that other programs can run it with
// other stores, as examples/fleet does with PostgreSQL and Redis.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/leakreport"
	"github.com/gatekey/gatekey/credits"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

// Config is everything the service needs; Run fills it from flags and
// the environment, tests fill it directly.
type Config struct {
	Rate            ratelimit.Policy // the limits of every key of the admin account
	Tiers           []Tier           // the plans an account can have; nil: DefaultTiers
	AuthFailureRate ratelimit.Limit  // failed authentications per client address, counted in AuthFailures; zero: 100/minute
	RequireTLS      bool
	TrustedProxies  middleware.TrustedProxies
	ErrorEncoding   apierrors.Encoding
	CORSOrigins     []string
	AdminKey        string // GATEKEY_ADMIN_KEY; empty: generate an sk_test_ key

	// DashboardPassword, if set, serves the admin account's key-management
	// page (package apikey/dashboard) at /dashboard/, behind HTTP Basic
	// with this password and any user name: a stand-in for the service's
	// own sign-in. Empty means no dashboard.
	DashboardPassword string

	// AuthFailures counts failed authentications per client address (the
	// AuthFailureRate throttle). Nil means in memory, per process, so that
	// N replicas allow N times the rate; a fleet shares its rate-limit
	// store (Limits), whose keys the throttle's never collide with.
	AuthFailures ratelimit.Store

	// RateLimitFailClosed answers 503 while the rate-limit store fails. By
	// default each replica then limits on its own (middleware.RateLimiter's
	// Fallback), with the same headers.
	RateLimitFailClosed bool

	// KeyCacheTTL is how long a replica reuses a key record it has read:
	// a revocation made on another replica takes effect here within it,
	// or at once with a KeyChanges feed. 0 means apikey's default (30s).
	KeyCacheTTL time.Duration

	// Keys, Limits, Credits and Idempotency are where a real deployment
	// plugs in shared stores: a SQL apikey.ManagedStore, and Redis or SQL
	// stores for the others (see the apikey/sqlstore,
	// ratelimit/redisstore, credits/redisstore and idempotency/redisstore
	// modules). Nil means in-memory stores, which is all this example
	// needs.
	Keys        apikey.ManagedStore
	Limits      ratelimit.Store
	Credits     credits.Store
	Idempotency idempotency.Store

	// KeyChanges, if set, is a change feed: New runs it, with the
	// service's Verifier, until Close, so that key changes made by other
	// replicas take effect here at once (examples/fleet runs
	// apikey/sqlstore/pgfeed's Watch). It should return when its context
	// is done.
	KeyChanges func(ctx context.Context, inv apikey.Invalidator) error

	// GitHubKeys, if set, are the keys GitHub signs its secret-scanning
	// reports with (leakreport.ParseGitHubKeys of GitHub's published
	// list), and the service receives those reports at
	// POST /v1/leaks/github, revoking every genuine key they name. Nil
	// means the route does not exist.
	GitHubKeys []leakreport.PublicKey

	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger     // nil: slog.Default()
}

// Service is the reference API: keys and monitors behind gatekey.
type Service struct {
	cfg      Config
	mgr      *apikey.Manager
	monitors *monitorStore
	credits  *middleware.Credits
	adminID  string // the admin key's id
	handler  http.Handler
	stopFeed func() // stops the KeyChanges feed and waits for it

	// keysMu serialises creating keys, so that an account's cap on active
	// keys holds under concurrent creates (within this process: replicas
	// of a fleet may together go a few past it).
	keysMu sync.Mutex

	// generatedAdminKey is set when no admin key was configured: main
	// prints it once.
	generatedAdminKey apikey.Token
}

func New(cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = slog.New(redacting(cfg.Logger.Handler()))
	if len(cfg.Rate) == 0 {
		return nil, errors.New("server: no rate limit policy")
	}
	if cfg.Keys == nil {
		cfg.Keys = &apikey.MemoryStore{}
	}
	if cfg.Limits == nil {
		cfg.Limits = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: cfg.Now})
	}
	if cfg.AuthFailures == nil {
		cfg.AuthFailures = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: cfg.Now})
	}
	if cfg.Tiers == nil {
		var err error
		if cfg.Tiers, err = ParseTiers(DefaultTiers); err != nil {
			return nil, fmt.Errorf("server: DefaultTiers: %w", err)
		}
	}
	if err := validateTiers(cfg.Tiers); err != nil {
		return nil, err
	}
	if cfg.Credits == nil {
		cfg.Credits = credits.NewMemoryStore(credits.MemoryConfig{Now: cfg.Now})
	}
	if cfg.Idempotency == nil {
		cfg.Idempotency = idempotency.NewMemoryStore(idempotency.MemoryConfig{Now: cfg.Now})
	}
	mgr, err := apikey.NewManager(cfg.Keys, apikey.ManagerConfig{
		Verifier: apikey.VerifierConfig{Now: cfg.Now, Logger: cfg.Logger, CacheTTL: cfg.KeyCacheTTL},
		OnEvent:  logKeyEvent(cfg.Logger),
	})
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, mgr: mgr, monitors: newMonitorStore(cfg.Now), stopFeed: func() {}}
	s.credits = &middleware.Credits{
		AllowanceFor: s.allowanceFor,
		Store:        cfg.Credits,
		OnEvent:      logCreditsEvent(cfg.Logger),
	}
	if err := s.setupAdminKey(); err != nil {
		mgr.Close()
		return nil, err
	}
	if cfg.AuthFailureRate != (ratelimit.Limit{}) {
		if err := cfg.AuthFailureRate.Validate(); err != nil {
			mgr.Close()
			return nil, fmt.Errorf("server: auth failure rate: %w", err)
		}
	}
	s.handler = s.routes()
	if cfg.KeyChanges != nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := cfg.KeyChanges(ctx, mgr.Verifier()); err != nil {
				cfg.Logger.Error("server: the key change feed stopped; key changes made elsewhere take effect within -key-cache-ttl", "error", err.Error())
			}
		}()
		s.stopFeed = func() { cancel(); <-done }
	}
	return s, nil
}

// setupAdminKey registers the configured admin key, or creates one.
func (s *Service) setupAdminKey() error {
	ctx := context.Background()
	if s.cfg.AdminKey == "" {
		tok, k, err := s.mgr.Create(ctx, apikey.CreateParams{
			Name: "admin", Type: apikey.SecretKey, Environment: apikey.Test, Permission: apikey.ReadWrite,
			Owner: adminAccount,
		})
		if err != nil {
			return err
		}
		s.generatedAdminKey, s.adminID = tok, k.ID
		return nil
	}
	tok, err := apikey.Parse(s.cfg.AdminKey)
	if err != nil || tok.Type() != apikey.SecretKey {
		// Never echo the value: it is meant to be a secret.
		return errors.New("server: GATEKEY_ADMIN_KEY is not a valid secret key (sk_live_… or sk_test_…)")
	}
	hash, err := apikey.SHA256{}.Hash(tok.Reveal())
	if err != nil {
		return err
	}
	s.adminID = tok.ID()
	err = s.cfg.Keys.CreateKey(ctx, &apikey.Key{
		ID: tok.ID(), Name: "admin", Type: apikey.SecretKey, Environment: tok.Environment(),
		Permission: apikey.ReadWrite, Owner: adminAccount, CreatedAt: s.cfg.Now().UTC(), Hash: hash,
	})
	if errors.Is(err, apikey.ErrConflict) {
		return nil // registered by an earlier run against a persistent store
	}
	return err
}

// routes builds the handler: the service's routes behind the Gate, which
// puts every request through TLS, CORS, the failed-authentication
// throttle, authentication, the rate limit, routing, the per-route
// checks, idempotency and credits, in that order; the request log wraps
// it all. The key routes ignore Idempotency-Key: their answers carry new
// keys, which must never be kept.
func (s *Service) routes() http.Handler {
	h := func(f apierrors.HandlerFunc) http.Handler { return f }
	secret, write := middleware.RequireSecret, middleware.RequireWrite
	free := middleware.Cost(0)
	// The key routes are free, and their answers carry keys.
	keyRoute := func(next http.Handler) http.Handler { return free(middleware.IgnoreIdempotencyKey(next)) }
	monitor := middleware.Cost(costMonitor)
	pro := middleware.RequireTier(checkTier)

	mux := http.NewServeMux()
	mux.Handle("GET /v1/me", free(h(s.me)))
	mux.Handle("POST /v1/keys", keyRoute(secret(write(h(s.createKey)))))
	mux.Handle("GET /v1/keys", keyRoute(secret(h(s.listKeys))))
	mux.Handle("GET /v1/keys/{id}", keyRoute(secret(h(s.getKey))))
	mux.Handle("DELETE /v1/keys/{id}", keyRoute(secret(write(h(s.revokeKey)))))
	mux.Handle("POST /v1/keys/{id}/roll", keyRoute(secret(write(h(s.rollKey)))))
	mux.Handle("GET /v1/monitors", monitor(secret(h(s.listMonitors))))
	mux.Handle("POST /v1/monitors", monitor(write(h(s.createMonitor))))
	mux.Handle("GET /v1/monitors/{id}", monitor(h(s.getMonitor)))
	mux.Handle("DELETE /v1/monitors/{id}", monitor(write(h(s.deleteMonitor))))
	mux.Handle("POST /v1/monitors/{id}/checks", middleware.Cost(costCheck)(pro(write(h(s.createCheck)))))
	var public []string
	if s.cfg.GitHubKeys != nil {
		// Signed by GitHub rather than authenticated by a key.
		public = append(public, routeGitHubLeaks)
		mux.Handle(routeGitHubLeaks, (&leakreport.GitHub{Revoker: s.mgr, PublicKeys: s.cfg.GitHubKeys, Logger: s.cfg.Logger}).Handler())
	}

	gate := &middleware.Gate{
		Auth: middleware.Authenticator{
			Verifier: s.mgr,
			Throttle: &middleware.AuthThrottle{
				Limit: s.cfg.AuthFailureRate,
				Store: s.cfg.AuthFailures,
				Now:   s.cfg.Now,
			},
			OnSuccess: noteKey,
		},
		RateLimit:   &middleware.RateLimiter{Policy: s.cfg.Rate, PolicyFor: s.policyFor, Store: s.cfg.Limits, FailClosed: s.cfg.RateLimitFailClosed},
		Idempotency: &middleware.Idempotency{Store: s.cfg.Idempotency},
		Credits:     s.credits,
		CORS:        &middleware.CORS{AllowedOrigins: s.cfg.CORSOrigins},
		Public:      public,
		Errors:      apierrors.Writer{Encoding: s.cfg.ErrorEncoding, Logger: s.cfg.Logger},
		Proxies:     s.cfg.TrustedProxies,
		Logger:      s.cfg.Logger,
	}
	if s.cfg.RequireTLS {
		gate.TLS = &middleware.RequireTLS{}
	}
	api := gate.Handler(mux)
	if s.cfg.DashboardPassword == "" {
		return logRequests(s.cfg.Logger, s.cfg.Now)(api)
	}
	// The page signs in with a password, not an API key: it sits beside
	// the Gate, not behind it.
	top := http.NewServeMux()
	dash := s.dashboardHandler()
	if gate.TLS != nil {
		dash = (&middleware.RequireTLS{Proxies: s.cfg.TrustedProxies}).Handler(dash)
	}
	top.Handle("/dashboard/", dash)
	top.Handle("/", api)
	return logRequests(s.cfg.Logger, s.cfg.Now)(top)
}

// routeGitHubLeaks receives GitHub's secret-scanning reports.
const routeGitHubLeaks = "POST /v1/leaks/github"

// Handler returns the service's HTTP handler.
func (s *Service) Handler() http.Handler { return s.handler }

// GeneratedAdminKey returns the admin key New created when Config.AdminKey
// was empty, or the zero Token.
func (s *Service) GeneratedAdminKey() apikey.Token { return s.generatedAdminKey }

// Close flushes pending last-use times and stops background work.
func (s *Service) Close() error {
	s.stopFeed()
	return s.mgr.Close()
}
