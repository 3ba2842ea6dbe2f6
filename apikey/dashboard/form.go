package dashboard

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
)

// createForm is what the create form sent, kept to fill the form in again
// after a mistake. It never holds a key.
type createForm struct {
	Name, Type, Permission, Environment, Expires, ExpiresOn, Nonce string
}

// withoutKeys returns f with every field that holds something shaped
// like an API key emptied, so that filling the form in again never echoes
// a key pasted into it.
func (f createForm) withoutKeys() createForm {
	for _, v := range []*string{&f.Name, &f.Type, &f.Permission, &f.Environment, &f.Expires, &f.ExpiresOn, &f.Nonce} {
		if apikey.RedactAll(*v) != *v {
			*v = ""
		}
	}
	return f
}

// The names of the create form's fields, which are also the parameters
// that its errors name.
const (
	fieldName        = "name"
	fieldType        = "type"
	fieldPermission  = "permission"
	fieldEnvironment = "environment"
	fieldExpires     = "expires"
	fieldExpiresOn   = "expires_on"
	fieldForm        = "form"
	fieldID          = "id"
	fieldGrace       = "grace"
)

// value returns the one value of the form field name, "" if it has none,
// or an error if it was sent more than once.
func value(form url.Values, name string) (string, *apierrors.Error) {
	switch v := form[name]; len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	}
	return "", apierrors.NewInvalidParameter(name, name+" was sent more than once")
}

// readCreate reads the create form's fields.
func readCreate(form url.Values) (createForm, *apierrors.Error) {
	var f createForm
	for _, fv := range []struct {
		name string
		to   *string
	}{
		{fieldName, &f.Name}, {fieldType, &f.Type}, {fieldPermission, &f.Permission},
		{fieldEnvironment, &f.Environment}, {fieldExpires, &f.Expires}, {fieldExpiresOn, &f.ExpiresOn},
		{fieldForm, &f.Nonce},
	} {
		v, err := value(form, fv.name)
		if err != nil {
			return createForm{}, err
		}
		*fv.to = v
	}
	return f, nil
}

// params checks f with the rules of the API's POST /v1/keys and returns
// the key to create (without its owner).
func (h *handler) params(f createForm) (apikey.CreateParams, *apierrors.Error) {
	var p apikey.CreateParams
	if err := apikey.CheckName(fieldName, f.Name); err != nil {
		return p, storeError(err)
	}
	p.Name = f.Name
	if err := p.Type.UnmarshalText([]byte(f.Type)); err != nil {
		return p, apierrors.NewInvalidParameter(fieldType, `type must be "secret" or "publishable"`)
	}
	if err := p.Permission.UnmarshalText([]byte(f.Permission)); err != nil {
		return p, apierrors.NewInvalidParameter(fieldPermission, `permission must be "read_only" or "read_write"`)
	}
	if p.Type == apikey.PublishableKey && p.Permission == apikey.ReadWrite {
		return p, apierrors.NewInvalidParameter(fieldPermission, "Publishable keys are always read-only")
	}
	if err := p.Environment.UnmarshalText([]byte(f.Environment)); err != nil || !h.offers(p.Environment) {
		return p, apierrors.NewInvalidParameter(fieldEnvironment, "environment must be one of "+h.envNames())
	}
	now := h.now()
	switch f.Expires {
	case "never":
	case "30", "90":
		days := map[string]int{"30": 30, "90": 90}[f.Expires]
		p.ExpiresAt = now.Add(time.Duration(days) * 24 * time.Hour).UTC().Round(time.Second)
	case "date":
		t, err := time.Parse(time.DateOnly, f.ExpiresOn)
		if err != nil {
			return p, apierrors.NewInvalidParameter(fieldExpiresOn, "expires_on must be a date such as 2027-01-31")
		}
		if !t.After(now) {
			return p, apierrors.NewInvalidParameter(fieldExpiresOn, "expires_on must be in the future")
		}
		p.ExpiresAt = t
	default:
		return p, apierrors.NewInvalidParameter(fieldExpires, `expires must be "never", "30", "90" or "date"`)
	}
	return p, nil
}

// offers reports whether the create form offers e.
func (h *handler) offers(e apikey.Environment) bool {
	for _, f := range h.envs {
		if e == f {
			return true
		}
	}
	return false
}

// envNames lists the environments offered, for error messages.
func (h *handler) envNames() string {
	names := make([]string, len(h.envs))
	for i, e := range h.envs {
		names[i] = `"` + e.String() + `"`
	}
	return strings.Join(names, ", ")
}

// grace returns the grace period named by v.
func grace(v string) (time.Duration, *apierrors.Error) {
	for _, g := range graces {
		if v == g.value {
			return g.d, nil
		}
	}
	return 0, apierrors.NewInvalidParameter(fieldGrace, "grace must be one of 0, 1h, 24h and 168h")
}

// newNonce returns a new form id: 32 hex digits.
func newNonce() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

// validNonce reports whether s is shaped like a form id.
func validNonce(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// errFormUsed answers a form sent a second time: a reload of the page that
// showed a new key.
var errFormUsed = apierrors.New(http.StatusConflict, apierrors.CodeConflict,
	"This form was already sent. The key it made was shown once and is not shown again: "+
		"it is in the list below, and if you did not keep it, revoke it and create another.")

// errBadForm answers a form without a valid form id: not one of this page's.
var errBadForm = apierrors.NewInvalidParameter(fieldForm, "The form is out of date; please fill it in again.")

// usedForms remembers the form ids already used, for a day, so that a
// form sent twice is refused. It is bounded: past maxUsedForms the oldest
// go first. Its zero value is ready to use; the handler's mutex guards it.
type usedForms struct {
	at    map[string]time.Time
	order []string
}

const (
	maxUsedForms = 1 << 14
	usedFor      = 24 * time.Hour
)

// has reports whether id was used within the last usedFor.
func (u *usedForms) has(id string, now time.Time) bool {
	t, ok := u.at[id]
	return ok && now.Sub(t) < usedFor
}

// add records id as used at now.
func (u *usedForms) add(id string, now time.Time) {
	if u.at == nil {
		u.at = make(map[string]time.Time)
	}
	for len(u.order) > 0 && (len(u.order) >= maxUsedForms || now.Sub(u.at[u.order[0]]) >= usedFor) {
		delete(u.at, u.order[0])
		u.order = u.order[1:]
	}
	u.at[id] = now
	u.order = append(u.order, id)
}
