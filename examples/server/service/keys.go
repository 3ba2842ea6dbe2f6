package service

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/credits"
	apierrors "github.com/gatekey/gatekey/errors"
)

// maxRollGrace bounds how long a rolled key keeps working.
const maxRollGrace = 7 * 24 * time.Hour

var errKeyNotFound = apierrors.New(http.StatusNotFound, apierrors.CodeNotFound, "No such API key")

// me answers GET /v1/me: the caller's own key, its plan, its credits and
// its rate limits.
func (s *Service) me(w http.ResponseWriter, r *http.Request) error {
	k, err := callerKey(r)
	if err != nil {
		return err
	}
	policy := s.cfg.Rate
	out := meJSON{keyJSON: s.keyJSON(k)}
	if t, ok := s.tier(k.Tier); ok {
		policy = t.Rate
		out.Tier = &t.Name
		b, _, err := s.credits.Spend(r, 0)
		if err != nil {
			return storeError(err)
		}
		out.CreditsRemaining = &b.Remaining
		out.MonthlyAllowance = &b.Allowance.Credits
		reset := rfc3339(b.ResetAt)
		out.CreditsResetAt = &reset
	}
	out.RateLimit = &rateLimitJSON{Limits: make([]limitJSON, len(policy))}
	for i, l := range policy {
		out.RateLimit.Limits[i] = limitJSON{Requests: l.Requests, WindowSeconds: int64(l.Window / time.Second)}
	}
	if n, ok := window(policy, time.Minute); ok {
		out.RateLimit.RequestsPerMinute = &n
	}
	if n, ok := window(policy, 24*time.Hour); ok {
		out.RateLimit.RequestsPerDay = &n
	}
	return writeJSON(w, http.StatusOK, out)
}

// meJSON is GET /v1/me's answer: the key, and its account's plan and
// credits (null for an account that is not metered).
type meJSON struct {
	keyJSON
	Tier             *string  `json:"tier"`
	CreditsRemaining *int64   `json:"credits_remaining"`
	MonthlyAllowance *int64   `json:"monthly_allowance"`
	CreditsResetAt   *rfc3339 `json:"credits_reset_at"`
}

type createKeyRequest struct {
	Name       string  `json:"name"`
	Type       *string `json:"type"`
	Permission *string `json:"permission"`
	ExpiresAt  *string `json:"expires_at"`
	Tier       *string `json:"tier"`
}

// createKey answers POST /v1/keys: a new key in the caller's environment,
// returned in full this once. It joins the caller's account, or with
// "tier" (the admin key only) opens a new account of that plan.
func (s *Service) createKey(w http.ResponseWriter, r *http.Request) error {
	caller, err := callerKey(r)
	if err != nil {
		return err
	}
	var req createKeyRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	if err := validName("name", req.Name); err != nil {
		return err
	}
	p := apikey.CreateParams{
		Name:        req.Name,
		Type:        apikey.SecretKey,
		Environment: caller.Environment,
		Owner:       caller.Account(),
		Tier:        caller.Tier,
	}
	if req.Tier != nil {
		if caller.ID != s.adminID {
			return apierrors.New(http.StatusForbidden, apierrors.CodeInsufficientPermissions,
				"Only the admin key may open an account (create a key with a tier)")
		}
		t, ok := s.tier(*req.Tier)
		if !ok {
			return apierrors.NewInvalidParameter("tier", "tier must be one of "+s.tierNames())
		}
		p.Owner, p.Tier = newAccountID(), t.Name
	}
	if req.Type != nil {
		if err := p.Type.UnmarshalText([]byte(*req.Type)); err != nil {
			return apierrors.NewInvalidParameter("type", `type must be "secret" or "publishable"`)
		}
	}
	p.Permission = apikey.ReadWrite
	if p.Type == apikey.PublishableKey {
		p.Permission = apikey.ReadOnly
	}
	if req.Permission != nil {
		if err := p.Permission.UnmarshalText([]byte(*req.Permission)); err != nil {
			return apierrors.NewInvalidParameter("permission", `permission must be "read_only" or "read_write"`)
		}
		if p.Type == apikey.PublishableKey && p.Permission == apikey.ReadWrite {
			return apierrors.NewInvalidParameter("permission", "Publishable keys are always read-only")
		}
	}
	if req.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339, *req.ExpiresAt)
		if err != nil {
			return apierrors.NewInvalidParameter("expires_at", "expires_at must be an RFC 3339 time such as 2027-01-01T00:00:00Z")
		}
		if !t.After(s.cfg.Now()) {
			return apierrors.NewInvalidParameter("expires_at", "expires_at must be in the future")
		}
		p.ExpiresAt = t.UTC()
	}
	// A key cannot make a key that outlives it.
	if !caller.ExpiresAt.IsZero() {
		switch {
		case p.ExpiresAt.IsZero():
			p.ExpiresAt = caller.ExpiresAt
		case p.ExpiresAt.After(caller.ExpiresAt):
			return apierrors.NewInvalidParameter("expires_at", "expires_at must not be later than the expiry of the key that creates it, "+
				caller.ExpiresAt.UTC().Format(time.RFC3339))
		}
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if err := s.roomForKey(r, p.Owner, ""); err != nil {
		return err
	}
	tok, k, err := s.mgr.Create(r.Context(), p)
	if err != nil {
		return storeError(err)
	}
	out := s.keyJSON(k)
	out.Key = tok.Reveal()
	return writeJSON(w, http.StatusCreated, out)
}

// listKeys answers GET /v1/keys: the keys of the caller's account and
// environment, newest first, a page at a time.
func (s *Service) listKeys(w http.ResponseWriter, r *http.Request) error {
	caller, err := callerKey(r)
	if err != nil {
		return err
	}
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	keys, err := s.mgr.List(r.Context(), apikey.ListFilter{Environment: caller.Environment, Owner: caller.Account()})
	if err != nil {
		return storeError(err)
	}
	slices.Reverse(keys) // List is oldest first, by creation time then id
	pg, err := paginate(keys, func(k *apikey.Key) string { return k.ID }, p)
	if err != nil {
		return err
	}
	out := listJSON[keyJSON]{Data: make([]keyJSON, 0, len(pg.Data)), HasMore: pg.HasMore}
	for _, k := range pg.Data {
		out.Data = append(out.Data, s.keyJSON(k))
	}
	return writeJSON(w, http.StatusOK, out)
}

// errTooManyKeys is the answer to a key past an account's cap.
var errTooManyKeys = apierrors.New(http.StatusConflict, apierrors.CodeConflict,
	fmt.Sprintf("This account has %d active keys, as many as it may have; revoke one first", maxActiveKeys))

// roomForKey reports, as nil, whether the account may hold one more
// active key, beside those it has; freed is a key about to stop being
// active (a key rolled without grace). The caller holds s.keysMu, so that
// concurrent creates cannot all take the last slot.
func (s *Service) roomForKey(r *http.Request, account, freed string) error {
	keys, err := s.mgr.List(r.Context(), apikey.ListFilter{Owner: account})
	if err != nil {
		return storeError(err)
	}
	now, active := s.cfg.Now(), 0
	for _, k := range keys {
		if st := k.Status(now); st != apikey.StatusRevoked && st != apikey.StatusExpired && k.ID != freed {
			active++
		}
	}
	if active >= maxActiveKeys {
		return errTooManyKeys
	}
	return nil
}

// errAdminKey refuses a change of the admin key by another key.
var errAdminKey = apierrors.New(http.StatusForbidden, apierrors.CodeInsufficientPermissions,
	"Only the admin key may revoke or roll the admin key")

// findKey returns the key named by the path's {id}, if it belongs to the
// caller's environment and account; anything else is 404.
func (s *Service) findKey(r *http.Request) (*apikey.Key, *apikey.Key, error) {
	caller, err := callerKey(r)
	if err != nil {
		return nil, nil, err
	}
	id := r.PathValue("id")
	if !validKeyID(id) {
		return nil, nil, errKeyNotFound
	}
	k, err := s.mgr.Get(r.Context(), id)
	if errors.Is(err, apikey.ErrNotFound) || err == nil && (k.Environment != caller.Environment || k.Account() != caller.Account()) {
		return nil, nil, errKeyNotFound
	}
	if err != nil {
		return nil, nil, storeError(err)
	}
	return caller, k, nil
}

func validKeyID(id string) bool {
	if len(id) != apikey.IDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// getKey answers GET /v1/keys/{id}.
func (s *Service) getKey(w http.ResponseWriter, r *http.Request) error {
	_, k, err := s.findKey(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.keyJSON(k))
}

// revokeKey answers DELETE /v1/keys/{id}: immediate and irreversible, and
// idempotent.
func (s *Service) revokeKey(w http.ResponseWriter, r *http.Request) error {
	caller, k, err := s.findKey(r)
	if err != nil {
		return err
	}
	if k.ID == s.adminID && caller.ID != s.adminID {
		return errAdminKey
	}
	k, err = s.mgr.Revoke(r.Context(), k.ID)
	if err != nil {
		return storeError(err)
	}
	return writeJSON(w, http.StatusOK, s.keyJSON(k))
}

type rollKeyRequest struct {
	ExpiresIn *int64 `json:"expires_in"`
}

// rollKey answers POST /v1/keys/{id}/roll: a new key with the same
// attributes; the old one keeps working for expires_in seconds.
func (s *Service) rollKey(w http.ResponseWriter, r *http.Request) error {
	caller, k, err := s.findKey(r)
	if err != nil {
		return err
	}
	if k.ID == s.adminID && caller.ID != s.adminID {
		return errAdminKey
	}

	var req rollKeyRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		return err
	}
	var grace time.Duration
	if req.ExpiresIn != nil {
		if *req.ExpiresIn < 0 || *req.ExpiresIn > int64(maxRollGrace/time.Second) {
			return apierrors.NewInvalidParameter("expires_in", "expires_in must be between 0 and 604800 seconds (7 days)")
		}
		grace = time.Duration(*req.ExpiresIn) * time.Second
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	freed := ""
	if grace == 0 {
		freed = k.ID // replaced at once: its slot is the new key's
	}
	if err := s.roomForKey(r, k.Account(), freed); err != nil {
		return err
	}
	// The successor keeps k's expiry, and must not outlive the caller.
	tok, nk, err := s.mgr.Roll(r.Context(), k.ID, apikey.RollParams{Grace: grace, ExpiresAt: caller.ExpiresAt})
	switch {
	case errors.Is(err, apikey.ErrRevoked):
		return apierrors.New(http.StatusConflict, apierrors.CodeConflict, "A revoked key cannot be rolled")
	case errors.Is(err, apikey.ErrExpired):
		return apierrors.New(http.StatusConflict, apierrors.CodeConflict, "An expired key cannot be rolled")
	case err != nil:
		return storeError(err)
	}
	out := s.keyJSON(nk)
	out.Key = tok.Reveal()
	return writeJSON(w, http.StatusCreated, out)
}

// storeError maps the Manager's errors: an invalid parameter is 400,
// unavailable is 503, anything else a 500 whose cause is logged, never
// sent.
func storeError(err error) error {
	var pe *apikey.ParamError
	if errors.As(err, &pe) {
		return apierrors.NewInvalidParameter(pe.Param, pe.Param+" "+pe.Reason)
	}
	if errors.Is(err, apikey.ErrUnavailable) || errors.Is(err, credits.ErrUnavailable) {
		return apierrors.NewServiceUnavailable(2 * time.Second).WithCause(err)
	}
	if errors.Is(err, apikey.ErrNotFound) {
		return errKeyNotFound
	}
	return apierrors.NewInternal(err)
}

// tierNames lists the plans, for error messages.
func (s *Service) tierNames() string {
	var names []string
	for _, t := range s.cfg.Tiers {
		names = append(names, strconv.Quote(t.Name))
	}
	return strings.Join(names, ", ")
}
