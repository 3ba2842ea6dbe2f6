// Command server is gatekey's reference service: a small monitoring API
// (keys and monitors) in the style of Stripe, Hyperping or Trackyard, built
// from gatekey's packages. It is what a newcomer runs first:
//
//	go run ./examples/server
//
// It listens on 127.0.0.1:8080 and prints an admin key on stderr, unless
// GATEKEY_ADMIN_KEY holds one. The README walks through its API with curl.
// Keys and limits live in memory; service.Config's Keys and Limits are
// where a real deployment plugs in SQL and Redis stores, as examples/fleet
// does.
//
// Flags:
//
//	-addr               listen address (default 127.0.0.1:8080)
//	-rate               limits of the admin key (default 100/minute,10000/day)
//	-tiers              plans: "name:rate limits:monthly credits", ";"-separated
//	                    (default free:10/minute,1000/day:500/month;pro:100/minute,100000/day:100000/month)
//	-auth-failure-rate  failed authentications allowed per client address (default 100/minute)
//	-require-tls        answer plain HTTP with 403 https_required
//	-tls-cert, -tls-key serve HTTPS with this certificate and key
//	-trusted-proxies    CIDRs whose X-Forwarded-* headers are believed
//	-error-format       json (default) or simple ({"error": "message"})
//	-cors-origins       comma-separated allowed origins (default *)
//	-log-format         text (default) or json
//	-key-cache-ttl      how long a key record is cached (default 30s)
//	-dashboard          serve the admin account's key-management page at
//	                    /dashboard/, behind HTTP Basic: any user name, the password
//	                    in GATEKEY_DASHBOARD_PASSWORD (a stand-in for a real sign-in)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gatekey/gatekey/examples/server/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := service.Run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}
