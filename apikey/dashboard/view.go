package dashboard

import (
	"bytes"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
)

//go:embed templates/*.html static/*
var files embed.FS

// The pages, each a template of its own beside the shared layout.
var pageNames = [...]string{"list", "key", "revoke", "roll", "error"}

// views are the parsed page templates.
type views struct {
	pages map[string]*template.Template
}

// parseViews parses the embedded templates. They are part of the package:
// a failure is a bug, and panics.
func parseViews() *views {
	v := &views{pages: make(map[string]*template.Template, len(pageNames))}
	funcs := template.FuncMap{"date": formatTime}
	for _, name := range pageNames {
		v.pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(files,
			"templates/layout.html", "templates/"+name+".html"))
	}
	return v
}

// base is what every page shows.
type base struct {
	Title   string
	Account string
}

func (h *handler) base(account string) base { return base{Title: h.title, Account: account} }

// keyRow is one key as the pages show it: never the key itself.
type keyRow struct {
	ID, Name, Redacted                    string
	Type, Environment, Permission, Status string
	CreatedAt, LastUsedAt, ExpiresAt      time.Time
	Active                                bool
}

// row describes k at now.
func (h *handler) row(k *apikey.Key, now time.Time) keyRow {
	st := k.Status(now)
	return keyRow{
		ID: k.ID, Name: k.Name, Redacted: h.format.Redacted(k),
		Type: k.Type.String(), Environment: k.Environment.String(), Permission: k.Permission.String(),
		Status: st.String(), Active: st == apikey.StatusActive || st == apikey.StatusDisabled,
		CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, ExpiresAt: k.ExpiresAt,
	}
}

// formatTime formats t for the pages, in UTC; zero is "never".
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// creditsView is the account's credit balance.
type creditsView struct {
	Remaining, Allowance int64
	ResetAt              time.Time
}

// listView is the list page.
type listView struct {
	base
	Notice  string           // a key just revoked, by its redacted form
	Err     *apierrors.Error // a mistake in the form
	Credits *creditsView     // nil: not metered
	Keys    []keyRow
	Form    createForm
	Envs    []apikey.Environment
	MinDate string // the earliest expiry date the form accepts
}

// keyView is the page of one key: the confirmation of a revocation, or a
// new key, shown once (Key).
type keyView struct {
	base
	Heading  string
	Key      string // the new key in full; "" on other pages
	Row      keyRow
	Replaced *keyRow   // after a roll: the old key
	Until    time.Time // after a roll: when the old key stops working
}

// rollView is the roll form.
type rollView struct {
	base
	Row   keyRow
	Nonce string
}

// Graces lists the grace periods offered.
func (rollView) Graces() []struct{ Value, Label string } {
	out := make([]struct{ Value, Label string }, len(graces))
	for i, g := range graces {
		out[i].Value, out[i].Label = g.value, g.label
	}
	return out
}

// errorView is the error page.
type errorView struct {
	base
	Err *apierrors.Error
}

// render writes the page name with status. A page is rendered into a
// buffer first, so that a template failure is a clean 500, not half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := h.views.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		h.log.LogAttrs(r.Context(), slog.LevelError, "dashboard: cannot render page", slog.String("page", name), slog.String("error", err.Error()))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// static serves the stylesheet and the script.
func (h *handler) static(w http.ResponseWriter, r *http.Request, name string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.fail(w, r, "", apierrors.NewMethodNotAllowed(http.MethodGet, http.MethodHead))
		return
	}
	var ctype string
	switch name {
	case "dashboard.css":
		ctype = "text/css; charset=utf-8"
	case "dashboard.js":
		ctype = "text/javascript; charset=utf-8"
	default:
		h.fail(w, r, "", apierrors.New(http.StatusNotFound, apierrors.CodeNotFound, "There is no such page."))
		return
	}
	b, err := files.ReadFile("static/" + name)
	if err != nil { // embedded: cannot happen
		h.fail(w, r, "", apierrors.NewInternal(err))
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}
