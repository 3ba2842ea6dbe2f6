package service

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/credits"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

// DefaultTiers is the -tiers flag's default.
const DefaultTiers = "free:10/minute,1000/day:500/month;pro:100/minute,100000/day:100000/month"

// A Tier is a plan: its rate limits, per key, and its monthly credits,
// per account.
type Tier struct {
	Name      string
	Rate      ratelimit.Policy
	Allowance credits.Allowance
}

// ParseTiers parses tiers separated by ";", each "name:rate policy:credit
// allowance", such as DefaultTiers. The rate policy is ratelimit's syntax
// without bursts (";" separates tiers); the allowance is a month's.
func ParseTiers(s string) ([]Tier, error) {
	var tiers []Tier
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, rest, ok1 := strings.Cut(part, ":")
		policy, allowance, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("tier %q: want name:rate policy:credit allowance", part)
		}
		t := Tier{Name: strings.TrimSpace(name)}
		var err error
		if t.Rate, err = ratelimit.ParsePolicy(policy); err != nil {
			return nil, fmt.Errorf("tier %q: %w", t.Name, err)
		}
		if t.Allowance, err = credits.ParseAllowance(allowance); err != nil {
			return nil, fmt.Errorf("tier %q: %w", t.Name, err)
		}
		tiers = append(tiers, t)
	}
	return tiers, nil
}

// Route costs, in credits.
const (
	costMonitor = 1 // every monitor route
	costCheck   = 5 // POST /v1/monitors/{id}/checks
)

// checkTier is the plan POST /v1/monitors/{id}/checks needs.
const checkTier = "pro"

// validateTiers checks what the service needs of its tiers: unique, valid
// names; monthly allowances (GET /v1/me reports a monthly_allowance) that
// cover every route an account of the tier may use; a tier for the paid
// route.
func validateTiers(tiers []Tier) error {
	seen := map[string]bool{}
	for _, t := range tiers {
		switch {
		case t.Name == "" || strings.ContainsAny(t.Name, " \t:;,"):
			return fmt.Errorf("server: tier name %q: want a word", t.Name)
		case seen[t.Name]:
			return fmt.Errorf("server: tier %q is defined twice", t.Name)
		}
		seen[t.Name] = true
		if err := t.Rate.Validate(); err != nil {
			return fmt.Errorf("server: tier %q: %w", t.Name, err)
		}
		if err := t.Allowance.Validate(); err != nil {
			return fmt.Errorf("server: tier %q: %w", t.Name, err)
		}
		if t.Allowance.Period != credits.Month {
			return fmt.Errorf("server: tier %q: the allowance %v is not a month's", t.Name, t.Allowance)
		}
		if need := max(int64(costMonitor), costOf(t.Name)); t.Allowance.Credits < need {
			return fmt.Errorf("server: tier %q: an allowance of %d cannot pay for a route costing %d", t.Name, t.Allowance.Credits, need)
		}
	}
	if !seen[checkTier] {
		return fmt.Errorf("server: no tier %q, which POST /v1/monitors/{id}/checks needs", checkTier)
	}
	return nil
}

// costOf is the dearest route a tier may use.
func costOf(tier string) int64 {
	if tier == checkTier {
		return costCheck
	}
	return costMonitor
}

func (s *Service) tier(name string) (Tier, bool) {
	for _, t := range s.cfg.Tiers {
		if t.Name == name {
			return t, true
		}
	}
	return Tier{}, false
}

// adminAccount is the account of the admin key: no tier, not metered,
// limited by -rate.
const adminAccount = "acct_admin"

func newAccountID() string { return "acct_" + rand.Text()[:16] }

// policyFor is the RateLimiter's PolicyFor: the rate of the key's tier,
// or -rate for the admin account.
func (s *Service) policyFor(r *http.Request) ratelimit.Policy {
	k, ok := middleware.KeyFromContext(r.Context())
	if !ok {
		return nil
	}
	if t, ok := s.tier(k.Tier); ok {
		return t.Rate
	}
	return nil // -rate
}

// allowanceFor is the Credits' AllowanceFor: the tier's, and none for an
// account without a tier (the admin's).
func (s *Service) allowanceFor(k *apikey.Key) (credits.Allowance, bool) {
	t, ok := s.tier(k.Tier)
	return t.Allowance, ok
}

// window returns the N of p's limit with the given window, if it has one.
func window(p ratelimit.Policy, w time.Duration) (int, bool) {
	for _, l := range p {
		if l.Window == w {
			return l.Requests, true
		}
	}
	return 0, false
}
