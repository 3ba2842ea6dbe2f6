package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "github.com/gatekey/gatekey/errors"
)

// The limits on the forms that make a key (create and roll).
const (
	// formLife is how long a form may be sent after the page showed it.
	formLife = time.Hour
	// maxFormsPerAccount bounds the forms one account may send per
	// formLife, so that no account can crowd out the others' records.
	maxFormsPerAccount = 128
	// maxForms bounds the records of used forms in all. Past it, forms are
	// refused until the oldest are formLife old: a form is never forgotten
	// while it could still be sent again.
	maxForms = 1 << 16
	// formSkew is how far in the future a form's time may be (another
	// replica's clock).
	formSkew = time.Minute
)

// formIDs issues the ids of the forms that make a key and remembers the
// ids used, so that a form is sent at most once. An id is
//
//	nonce "." unix-seconds "." HMAC-SHA256(account, purpose, nonce, seconds)
//
// so that it is good only for the account and the purpose (a create, or
// the roll of one key) it was shown for, and only for formLife: a form the
// page never issued, or an old one, is refused without any record.
type formIDs struct {
	key []byte

	mu   sync.Mutex
	used map[string]map[string]time.Time // account → nonce → when the form expires
	n    int                             // the records in used
}

// form is a checked form id.
type form struct {
	nonce   string
	expires time.Time
}

// issue returns a new form id for account and purpose.
func (f *formIDs) issue(account, purpose string, now time.Time) string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	nonce := hex.EncodeToString(b[:])
	at := strconv.FormatInt(now.Unix(), 10)
	return nonce + "." + at + "." + f.mac(account, purpose, nonce, at)
}

// mac signs the parts of a form id, each prefixed with its length so that
// no two lists of parts share a message.
func (f *formIDs) mac(parts ...string) string {
	m := hmac.New(sha256.New, f.key)
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		m.Write(n[:])
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// check returns the form that id names, if the page issued it to account
// for purpose and it is not too old. It does not say whether it was used.
func (f *formIDs) check(id, account, purpose string, now time.Time) (form, *apierrors.Error) {
	nonce, rest, _ := strings.Cut(id, ".")
	at, sig, _ := strings.Cut(rest, ".")
	secs, err := strconv.ParseInt(at, 10, 64)
	if len(nonce) != 32 || len(sig) != 32 || err != nil || at != strconv.FormatInt(secs, 10) ||
		!hmac.Equal([]byte(sig), []byte(f.mac(account, purpose, nonce, at))) {
		return form{}, errBadForm
	}
	issued := time.Unix(secs, 0)
	switch {
	case issued.After(now.Add(formSkew)):
		return form{}, errBadForm
	case now.Sub(issued) >= formLife:
		return form{}, errFormExpired
	}
	return form{nonce: nonce, expires: issued.Add(formLife)}, nil
}

// claim records that account sends fm now, or returns why it may not:
// sent before, or no room to remember it. A form is claimed before it does
// its work, so that two copies sent at once make one key; release gives
// it back if the work fails.
func (f *formIDs) claim(account string, fm form, now time.Time) *apierrors.Error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.used[account][fm.nonce]; ok {
		return errFormUsed
	}
	f.forget(account, now)
	if len(f.used[account]) >= maxFormsPerAccount {
		return errTooManyForms
	}
	if f.n >= maxForms {
		for a := range f.used {
			f.forget(a, now)
		}
		if f.n >= maxForms {
			return apierrors.NewServiceUnavailable(formLife / 4)
		}
	}
	if f.used == nil {
		f.used = make(map[string]map[string]time.Time)
	}
	m := f.used[account]
	if m == nil {
		m = make(map[string]time.Time)
		f.used[account] = m
	}
	m[fm.nonce] = fm.expires
	f.n++
	return nil
}

// release gives back a form claimed by account whose work failed, so
// that it may be sent again.
func (f *formIDs) release(account string, fm form) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m := f.used[account]; m != nil {
		if _, ok := m[fm.nonce]; ok {
			delete(m, fm.nonce)
			f.n--
		}
		if len(m) == 0 {
			delete(f.used, account)
		}
	}
}

// forget drops the records of account's forms that can no longer be sent.
// The caller holds f.mu.
func (f *formIDs) forget(account string, now time.Time) {
	m := f.used[account]
	for nonce, exp := range m {
		if !now.Before(exp) {
			delete(m, nonce)
			f.n--
		}
	}
	if m != nil && len(m) == 0 {
		delete(f.used, account)
	}
}

// newFormKey returns a random key for form ids.
func newFormKey() []byte {
	k := make([]byte, 32)
	rand.Read(k) // never fails (crypto/rand, Go 1.24+)
	return k
}

// The answers to a form that cannot be sent.
var (
	// errFormUsed answers a form sent a second time: a reload of the page
	// that showed a new key.
	errFormUsed = apierrors.New(http.StatusConflict, apierrors.CodeConflict,
		"This form was already sent. The key it made was shown once and is not shown again: "+
			"it is in the list below, and if you did not keep it, revoke it and create another.")

	// errFormExpired answers a form older than formLife, which may have
	// been sent before.
	errFormExpired = apierrors.New(http.StatusConflict, apierrors.CodeConflict,
		"This form is more than an hour old, so it was not sent. If it made a key before, "+
			"that key is in the list below. Please fill in the form again.")

	// errBadForm answers a form without a form id this page issued.
	errBadForm = apierrors.NewInvalidParameter(fieldForm, "The form is out of date; please fill it in again.")

	// errTooManyForms answers an account past maxFormsPerAccount.
	errTooManyForms = apierrors.New(http.StatusTooManyRequests, apierrors.CodeRateLimitExceeded,
		"This account has sent "+strconv.Itoa(maxFormsPerAccount)+" forms in the last hour; please try again later.").
		WithRetryAfter(formLife / 4)
)
