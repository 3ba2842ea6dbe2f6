package dashboard

import (
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
