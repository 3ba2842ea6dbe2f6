package dashboard

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/credits"
	apierrors "github.com/gatekey/gatekey/errors"
)

// handler serves the pages of one Page.
type handler struct {
	mgr     *apikey.Manager
	format  apikey.Format
	account func(*http.Request) (string, error)
	check   func(*http.Request, *apikey.CreateParams) error
	change  func(*http.Request, *apikey.Key) error
	credits func(*http.Request, string) (credits.Balance, bool, error)
	title   string
	log     *slog.Logger
	now     func() time.Time
	envs    []apikey.Environment
	views   *views
	forms   formIDs
}

// maxFormBytes bounds a form's body.
const maxFormBytes = 16 << 10

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if name, ok := strings.CutPrefix(r.URL.Path, "/static/"); ok {
		h.static(w, r, name)
		return
	}
	var allow []string
	switch r.URL.Path {
	case "/":
		allow = []string{http.MethodGet, http.MethodHead}
	case "/keys":
		allow = []string{http.MethodPost}
	case "/revoke", "/roll":
		allow = []string{http.MethodGet, http.MethodHead, http.MethodPost}
	default:
		h.fail(w, r, "", apierrors.New(http.StatusNotFound, apierrors.CodeNotFound, "There is no such page."))
		return
	}
	if !slices.Contains(allow, r.Method) {
		h.fail(w, r, "", apierrors.NewMethodNotAllowed(allow...))
		return
	}
	account, err := h.account(r)
	if err == nil && account == "" {
		err = errNoAccount
	}
	if err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelWarn, "dashboard: no account for the request", slog.String("error", err.Error()))
		h.fail(w, r, "", apierrors.New(http.StatusUnauthorized, apierrors.CodeUnauthorized, "You are not signed in."))
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			h.fail(w, r, account, formError(err))
			return
		}
	}
	switch r.URL.Path + " " + r.Method {
	case "/ GET", "/ HEAD":
		h.list(w, r, account, http.StatusOK, listNotice(r), nil, nil)
	case "/keys POST":
		h.create(w, r, account)
	case "/revoke GET", "/revoke HEAD":
		h.confirmRevoke(w, r, account)
	case "/revoke POST":
		h.revoke(w, r, account)
	case "/roll GET", "/roll HEAD":
		h.confirmRoll(w, r, account)
	case "/roll POST":
		h.roll(w, r, account)
	}
}

// formError is the answer to a form that could not be read.
func formError(err error) *apierrors.Error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return apierrors.New(http.StatusRequestEntityTooLarge, apierrors.CodeRequestTooLarge, "The form is too large.")
	}
	return apierrors.New(http.StatusBadRequest, apierrors.CodeBadRequest, "The form could not be read.")
}

// crossOrigin answers a form posted from another origin.
func (h *handler) crossOrigin(w http.ResponseWriter, r *http.Request) {
	h.fail(w, r, "", apierrors.New(http.StatusForbidden, apierrors.CodeForbidden,
		"This form was sent from another site, so it was refused and nothing was changed."))
}

// fail renders the error page for e, logging the cause of a server error.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, account string, e *apierrors.Error) {
	if e.Status >= 500 {
		h.log.LogAttrs(r.Context(), slog.LevelError, "dashboard: request failed",
			slog.String("path", r.URL.Path), slog.Int("status", e.Status), slog.Any("error", e.Unwrap()))
	}
	for k, v := range e.Header {
		w.Header()[k] = slices.Clone(v) // e may be shared
	}
	h.render(w, r, e.Status, "error", &errorView{base: h.base(account), Err: e})
}

// storeError turns what the Manager (or a hook) returned into the page's
// answer, as the API answers the same errors.
func storeError(err error) *apierrors.Error {
	var pe *apikey.ParamError
	var ae *apierrors.Error
	switch {
	case errors.As(err, &pe):
		return apierrors.NewInvalidParameter(pe.Param, pe.Param+" "+pe.Reason)
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, apikey.ErrNotFound):
		return errKeyNotFound
	case errors.Is(err, apikey.ErrRevoked), errors.Is(err, apikey.ErrExpired):
		// It stopped working between the page's check and the change.
		return apierrors.New(http.StatusConflict, apierrors.CodeConflict, "This key has just stopped working: it was revoked or expired.")
	case errors.Is(err, apikey.ErrUnavailable), errors.Is(err, credits.ErrUnavailable):
		return apierrors.NewServiceUnavailable(2 * time.Second).WithCause(err)
	}
	return apierrors.NewInternal(err)
}

// errKeyNotFound answers a key that is not the account's, or not at all.
var errKeyNotFound = apierrors.New(http.StatusNotFound, apierrors.CodeNotFound, "There is no such key in this account.")
