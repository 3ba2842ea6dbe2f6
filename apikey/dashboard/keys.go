package dashboard

import (
	"net/http"
	"slices"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
)

// list renders the account's keys and the create form, with status: 200,
// or the status of e, a mistake in the form f (which is then filled in
// again). revoked is the id of a key just revoked, if any.
func (h *handler) list(w http.ResponseWriter, r *http.Request, account string, status int, revoked string, e *apierrors.Error, f *createForm) {
	keys, err := h.mgr.List(r.Context(), apikey.ListFilter{Owner: account})
	if err != nil {
		h.fail(w, r, account, storeError(err))
		return
	}
	slices.Reverse(keys) // newest first
	v := &listView{base: h.base(account), Err: e, Envs: h.envs}
	if f != nil {
		v.Form = f.withoutKeys()
	} else {
		v.Form = createForm{Type: "secret", Permission: "read_write", Environment: h.envs[0].String(), Expires: "never"}
	}
	now := h.now()
	v.Form.Nonce = h.forms.issue(account, purposeCreate, now) // a form sent again is refused, so every page gets a new one
	v.MinDate = now.UTC().AddDate(0, 0, 1).Format("2006-01-02")
	for _, k := range keys {
		row := h.row(k, now)
		if k.ID == revoked && row.Status == apikey.StatusRevoked.String() {
			v.Notice = row.Redacted // only a key of the account's, and revoked
		}
		v.Keys = append(v.Keys, row)
	}
	if h.credits != nil {
		b, metered, err := h.credits(r, account)
		if err != nil {
			h.fail(w, r, account, storeError(err))
			return
		}
		if metered {
			v.Credits = &creditsView{Remaining: b.Remaining, Allowance: b.Allowance.Credits, ResetAt: b.ResetAt}
		}
	}
	h.render(w, r, status, "list", v)
}

// listNotice returns the key a redirect to the list says was revoked.
func listNotice(r *http.Request) string { return r.URL.Query().Get("revoked") }

// create answers the create form: the new key, shown this once.
func (h *handler) create(w http.ResponseWriter, r *http.Request, account string) {
	f, e := readCreate(r.PostForm)
	var fm form
	if e == nil {
		fm, e = h.forms.check(f.Nonce, account, purposeCreate, h.now())
	}
	var p apikey.CreateParams
	if e == nil {
		p, e = h.params(f)
	}
	if e != nil {
		h.list(w, r, account, e.Status, "", e, &f)
		return
	}
	p.Owner = account
	now := h.now()
	if e := h.forms.claim(account, fm, now); e != nil {
		again := &f
		if e == errFormUsed {
			again = nil // a form sent again is not filled in again
		}
		h.list(w, r, account, e.Status, "", e, again)
		return
	}
	var tok apikey.Token
	var k *apikey.Key
	err := h.checkCreate(r, &p)
	if err == nil {
		tok, k, err = h.mgr.Create(r.Context(), p)
	}
	if err != nil {
		h.forms.release(account, fm)
		e := storeError(err)
		h.list(w, r, account, e.Status, "", e, &f)
		return
	}
	h.render(w, r, http.StatusCreated, "key", &keyView{base: h.base(account), Heading: "Your new key",
		Key: tok.Reveal(), Row: h.row(k, now)})
}

// owned returns the account's key named by the form or query field id,
// or the answer if there is none.
func (h *handler) owned(r *http.Request, account string) (*apikey.Key, *apierrors.Error) {
	id := r.URL.Query().Get(fieldID)
	if r.Method == http.MethodPost {
		var e *apierrors.Error
		if id, e = value(r.PostForm, fieldID); e != nil {
			return nil, e
		}
	}
	if len(id) != apikey.IDLen {
		return nil, errKeyNotFound
	}
	k, err := h.mgr.Get(r.Context(), id)
	if err != nil {
		return nil, storeError(err)
	}
	if k.Owner != account { // as List filters them
		return nil, errKeyNotFound // another account's key is as good as unknown
	}
	if st := k.Status(h.now()); st == apikey.StatusRevoked || st == apikey.StatusExpired {
		return nil, apierrors.New(http.StatusConflict, apierrors.CodeConflict, "This key is already "+st.String()+".")
	}
	return k, nil
}

// checkCreate asks the host's CheckCreate, if any, about p.
func (h *handler) checkCreate(r *http.Request, p *apikey.CreateParams) error {
	if h.check == nil {
		return nil
	}
	return h.check(r, p)
}

// changeable returns the account's key named by the request, if the host
// lets it be revoked or rolled (Page.CheckChange).
func (h *handler) changeable(r *http.Request, account string) (*apikey.Key, *apierrors.Error) {
	k, e := h.owned(r, account)
	if e == nil && h.change != nil {
		if err := h.change(r, k); err != nil {
			return nil, storeError(err)
		}
	}
	return k, e
}

// The purposes of form ids: a create, or the roll of the key whose id
// follows purposeRoll.
const (
	purposeCreate = "create"
	purposeRoll   = "roll "
)

// confirmRevoke asks whether to revoke a key.
func (h *handler) confirmRevoke(w http.ResponseWriter, r *http.Request, account string) {
	k, e := h.changeable(r, account)
	if e != nil {
		h.fail(w, r, account, e)
		return
	}
	h.render(w, r, http.StatusOK, "revoke", &keyView{base: h.base(account), Row: h.row(k, h.now())})
}

// revoke revokes a key and goes back to the list, which says so.
func (h *handler) revoke(w http.ResponseWriter, r *http.Request, account string) {
	k, e := h.changeable(r, account)
	if e != nil {
		h.fail(w, r, account, e)
		return
	}
	if _, err := h.mgr.Revoke(r.Context(), k.ID); err != nil {
		h.fail(w, r, account, storeError(err))
		return
	}
	// The key's id is public; the list shows the notice only for a key of
	// the account that is revoked. The reference is relative, for the
	// browser to resolve against the page's own URL: http.Redirect would
	// resolve it against the path StripPrefix left, and leave the page.
	w.Header().Set("Location", "./?revoked="+k.ID)
	w.WriteHeader(http.StatusSeeOther)
}

// confirmRoll asks when the old key should stop working.
func (h *handler) confirmRoll(w http.ResponseWriter, r *http.Request, account string) {
	k, e := h.changeable(r, account)
	if e != nil {
		h.fail(w, r, account, e)
		return
	}
	now := h.now()
	h.render(w, r, http.StatusOK, "roll", &rollView{base: h.base(account), Row: h.row(k, now),
		Nonce: h.forms.issue(account, purposeRoll+k.ID, now)})
}

// roll replaces a key, showing its successor this once.
func (h *handler) roll(w http.ResponseWriter, r *http.Request, account string) {
	k, e := h.changeable(r, account)
	var g string
	if e == nil {
		g, e = value(r.PostForm, fieldGrace)
	}
	var fm form
	if e == nil {
		var id string
		if id, e = value(r.PostForm, fieldForm); e == nil {
			fm, e = h.forms.check(id, account, purposeRoll+k.ID, h.now())
		}
	}
	var p apikey.RollParams
	if e == nil {
		p.Grace, e = grace(g)
	}
	if e != nil {
		h.fail(w, r, account, e)
		return
	}
	now := h.now()
	if e := h.forms.claim(account, fm, now); e != nil {
		h.fail(w, r, account, e)
		return
	}
	var tok apikey.Token
	var nk *apikey.Key
	err := h.checkCreate(r, &apikey.CreateParams{Name: k.Name, Type: k.Type, Environment: k.Environment,
		Permission: k.Permission, Scopes: k.Scopes, Owner: k.Owner, Tier: k.Tier, ExpiresAt: k.ExpiresAt})
	if err == nil {
		tok, nk, err = h.mgr.Roll(r.Context(), k.ID, p)
	}
	if err != nil {
		h.forms.release(account, fm)
		h.fail(w, r, account, storeError(err))
		return
	}
	old := h.row(k, now)
	h.render(w, r, http.StatusCreated, "key", &keyView{base: h.base(account), Heading: "Your rolled key",
		Key: tok.Reveal(), Row: h.row(nk, now), Replaced: &old, Until: now.Add(p.Grace)})
}
