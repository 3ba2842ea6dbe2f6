package dashboard

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/credits"
)

// Page configures the key-management page of one service. Manager and
// Account are required; everything else has a working zero value. Handler
// takes a copy: changing a Page afterwards changes nothing.
type Page struct {
	// Manager creates, lists, revokes and rolls the keys.
	Manager *apikey.Manager

	// Account returns the account whose keys the request may see and
	// change, from the host's own sign-in (a session cookie, say). An
	// error, or an empty account, is answered 401 with a page saying so;
	// the error is logged, never shown.
	Account func(*http.Request) (account string, err error)

	// Environments are the environments the create form offers, in order.
	// Default: apikey.Test, then apikey.Live.
	Environments []apikey.Environment

	// CheckCreate, if set, is asked before a key is created or rolled,
	// with the parameters of the new key: the host's own rules, such as a
	// cap on an account's keys. An *errors.Error (package
	// github.com/gatekey/gatekey/errors) is shown with its status, code
	// and message; any other error is logged and answered 500.
	CheckCreate func(r *http.Request, p *apikey.CreateParams) error

	// CheckChange, if set, is asked before a key is revoked or rolled,
	// with the key: the host's own rules, such as keys its own systems
	// use. Its errors are answered as CheckCreate's are.
	CheckChange func(r *http.Request, k *apikey.Key) error

	// Credits, if set, returns the account's credit balance, shown above
	// the keys when metered is true.
	Credits func(r *http.Request, account string) (b credits.Balance, metered bool, err error)

	// TrustedOrigins are origins, besides the page's own, allowed to post
	// its forms ("https://admin.example.com"), for a host that serves the
	// page under another name than the one its proxies pass on. See
	// http.CrossOriginProtection.AddTrustedOrigin.
	TrustedOrigins []string

	// FormKey signs the ids of the forms that make a key, which bind each
	// form to its account and purpose and let it be sent once, within an
	// hour. Nil means a random key per Handler, so that forms shown
	// before a restart are refused as out of date. Replicas behind one
	// load balancer share a FormKey of at least 32 random bytes; each
	// replica remembers the forms sent to it, so a form sent again to
	// another replica within the hour is not recognised unless the load
	// balancer keeps a session on one replica.
	FormKey []byte

	// Title is the heading of every page. Default: "API keys".
	Title string

	// Logger receives the failures worth an operator's attention (the
	// store, the sign-in). Keys are only ever logged by id. Nil means
	// slog.Default().
	Logger *slog.Logger

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// The grace periods a roll offers.
var graces = [...]struct {
	value string
	label string
	d     time.Duration
}{
	{"0", "Now", 0},
	{"1h", "In 1 hour", time.Hour},
	{"24h", "In 24 hours", 24 * time.Hour},
	{"168h", "In 7 days", 7 * 24 * time.Hour},
}

// Handler returns the page's handler. Its paths are relative to where it
// is mounted: mount it on a path ending in a slash, with that path
// stripped (http.StripPrefix). It panics if Manager or Account is nil, an
// environment is invalid or repeated, a trusted origin is malformed, or
// FormKey is set but short.
func (p *Page) Handler() http.Handler {
	if p.Manager == nil {
		panic("dashboard: Page.Manager is nil")
	}
	if p.Account == nil {
		panic("dashboard: Page.Account is nil")
	}
	h := &handler{
		mgr:     p.Manager,
		format:  p.Manager.Format(),
		account: p.Account,
		check:   p.CheckCreate,
		change:  p.CheckChange,
		credits: p.Credits,
		title:   p.Title,
		log:     p.Logger,
		now:     p.Now,
		envs:    append([]apikey.Environment(nil), p.Environments...),
		views:   parseViews(),
	}
	switch {
	case p.FormKey == nil:
		h.forms.key = newFormKey()
	case len(p.FormKey) < 32:
		panic("dashboard: Page.FormKey is shorter than 32 bytes")
	default:
		h.forms.key = bytes.Clone(p.FormKey)
	}
	if h.title == "" {
		h.title = "API keys"
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if len(h.envs) == 0 {
		h.envs = []apikey.Environment{apikey.Test, apikey.Live}
	}
	for i, e := range h.envs {
		if !e.Valid() {
			panic(fmt.Sprintf("dashboard: Page.Environments[%d] is not a valid environment", i))
		}
		for _, f := range h.envs[:i] {
			if e == f {
				panic(fmt.Sprintf("dashboard: Page.Environments lists %v twice", e))
			}
		}
	}
	cop := http.NewCrossOriginProtection()
	for _, o := range p.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			panic(fmt.Sprintf("dashboard: Page.TrustedOrigins: %v", err))
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(h.crossOrigin))
	return secure(cop.Handler(h))
}

// securityHeaders are set on every response, before anything else runs.
var securityHeaders = [...][2]string{
	{"Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; " +
		"connect-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
	{"Referrer-Policy", "no-referrer"},
	{"Cache-Control", "no-store"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
}

// secure sets the security headers on every response of next.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, kv := range securityHeaders {
			h.Set(kv[0], kv[1])
		}
		next.ServeHTTP(w, r)
	})
}

// errNoAccount is logged when Account returns no account and no error.
var errNoAccount = errors.New("dashboard: Page.Account returned no account")
