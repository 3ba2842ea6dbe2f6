package service

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEventsLogged: the service logs every key and credits event, naming
// keys by id.
func TestEventsLogged(t *testing.T) {
	e := newTestEnv(t, withTiers(smallTiers))
	free := e.createKey(e.admin, map[string]any{"name": "free", "tier": "free"})
	r := e.do("POST", "/v1/keys/"+free.ID+"/roll", free.Key, map[string]any{"expires_in": 3600})
	wantStatus(t, r, http.StatusCreated)
	rolled := checkMeta(t, r.Body, "key")
	e.remember(rolled.Key)
	wantStatus(t, e.do("DELETE", "/v1/keys/"+rolled.ID, free.Key, nil), http.StatusOK)
	for range 3 { // free has 3 credits a month
		wantStatus(t, e.do("GET", "/v1/monitors", free.Key, nil), http.StatusOK)
	}
	wantStatus(t, e.do("GET", "/v1/monitors", free.Key, nil), http.StatusPaymentRequired)

	var got []string
	for line := range strings.Lines(e.logs.String()) {
		var l struct {
			Msg   string
			Event struct {
				Kind, Reason string
				Key          struct{ ID string }
			}
			Kind  string
			KeyID string `json:"key_id"`
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch l.Msg {
		case "key event":
			got = append(got, strings.TrimSpace(l.Event.Kind+" "+l.Event.Reason)+" "+l.Event.Key.ID)
		case "credits event":
			got = append(got, l.Kind+" "+l.KeyID)
		}
	}
	want := []string{
		"created " + free.ID,
		"rolled " + free.ID,
		"expiring_soon " + free.ID, // the old key, in its grace period, revokes the new one
		"revoked user " + rolled.ID,
		"credits_low " + free.ID,
		"credits_exhausted " + free.ID,
	}
	if diff := cmp.Diff(want, got[1:]); diff != "" { // got[0]: the admin key's creation
		t.Errorf("events logged (-want +got):\n%s", diff)
	}
}
