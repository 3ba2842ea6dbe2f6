package service

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/apikey/dashboard"
	apierrors "github.com/gatekey/gatekey/errors"
)

// errNotSignedIn is what the dashboard's Account says of a request
// without the right password (which basicAuth has already refused).
var errNotSignedIn = errors.New("server: dashboard request without the dashboard password")

// dashboardHandler returns the key-management page of the admin account,
// at /dashboard/, behind HTTP Basic with the dashboard password. The
// password is a stand-in for the service's own sign-in: a real service
// puts the page behind its session login and returns the signed-in
// account from Account.
func (s *Service) dashboardHandler() http.Handler {
	page := &dashboard.Page{
		Manager: s.mgr,
		Account: func(r *http.Request) (string, error) {
			if !s.dashboardAuthorized(r) {
				return "", errNotSignedIn
			}
			return adminAccount, nil
		},
		CheckCreate: func(r *http.Request, p *apikey.CreateParams) error {
			// The API's cap on an account's keys. A create through the
			// API at the same moment may pass it by one.
			s.keysMu.Lock()
			defer s.keysMu.Unlock()
			return s.roomForKey(r, p.Owner, "")
		},
		CheckChange: func(_ *http.Request, k *apikey.Key) error {
			if k.ID == s.adminID {
				return errAdminKeyOnDashboard
			}
			return nil
		},
		Title:  "gatekey reference service: API keys",
		Logger: s.cfg.Logger,
		Now:    s.cfg.Now,
	}
	return s.basicAuth(http.StripPrefix("/dashboard", page.Handler()))
}

// dashboardAuthorized reports whether r carries the dashboard password,
// under any user name. The SHA-256 hashes are compared, in constant time,
// so that not even the password's length shows in the time taken.
func (s *Service) dashboardAuthorized(r *http.Request) bool {
	_, pass, ok := r.BasicAuth()
	got, want := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(s.cfg.DashboardPassword))
	return ok && subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// errAdminKeyOnDashboard refuses to revoke or roll the admin key from the
// dashboard: the service knows it by its id, and the API allows it only
// to the admin key itself.
var errAdminKeyOnDashboard = apierrors.New(http.StatusForbidden, apierrors.CodeInsufficientPermissions,
	"The admin key can only be revoked or rolled with the admin key itself, through the API.")

// basicAuth asks for the dashboard password before next runs.
func (s *Service) basicAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.dashboardAuthorized(r) {
			h := w.Header()
			h.Set("WWW-Authenticate", `Basic realm="gatekey dashboard", charset="UTF-8"`)
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
			h.Set("X-Content-Type-Options", "nosniff")
			http.Error(w, "Sign in with the dashboard password (GATEKEY_DASHBOARD_PASSWORD).", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
