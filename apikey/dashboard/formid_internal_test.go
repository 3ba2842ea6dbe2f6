package dashboard

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// Past maxForms records in all, forms are refused until the oldest can no
// longer be sent: a record is never dropped while its form is good.
func TestFormRecordsAreBounded(t *testing.T) {
	f := &formIDs{key: newFormKey()}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxForms {
		fm, e := f.check(f.issue("acct_"+strconv.Itoa(i/100), purposeCreate, now), "acct_"+strconv.Itoa(i/100), purposeCreate, now)
		if e == nil {
			e = f.claim("acct_"+strconv.Itoa(i/100), fm, now)
		}
		if e != nil {
			t.Fatalf("form %d: %v", i, e)
		}
	}
	fm, _ := f.check(f.issue("late", purposeCreate, now), "late", purposeCreate, now)
	if e := f.claim("late", fm, now.Add(formLife-time.Second)); e == nil || e.Status != http.StatusServiceUnavailable {
		t.Errorf("a form past the bound: %v, want 503", e)
	}
	fm, _ = f.check(f.issue("late", purposeCreate, now.Add(formLife)), "late", purposeCreate, now.Add(formLife))
	if e := f.claim("late", fm, now.Add(formLife)); e != nil {
		t.Errorf("a form once the others are an hour old: %v, want room", e)
	}
	if f.n != 1 {
		t.Errorf("%d records kept, want 1", f.n)
	}
}
