package apikeytest_test

// This file holds the code sample of README.md ("Testing your
// service"), so that the sample is compiled and run.

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatekey/gatekey/apikey/apikeytest"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
	"github.com/gatekey/gatekey/ratelimit"
)

// routes stands for the service's own routes.
func routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/monitors", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	return mux
}

func TestCreateMonitor(t *testing.T) {
	env := apikeytest.New(t, apikeytest.Config{}) // store, Manager and fake Clock, closed by t.Cleanup
	gate := &middleware.Gate{
		Auth: middleware.Authenticator{Verifier: env.Manager},
		RateLimit: &middleware.RateLimiter{
			Policy: ratelimit.MustParsePolicy("5/minute"),
			Store:  ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Now: env.Clock.Now}), // rate limits obey the same clock
		},
	}
	handler := gate.Handler(routes())

	readWrite, _ := env.MintSecret()
	readOnly, _ := env.MintReadOnly()
	revoked, rec := env.MintSecret()
	env.Revoke(rec.ID)

	for _, tc := range []struct {
		name string
		key  string
		want apierrors.Code // "": 201 Created
	}{
		{"read-write", readWrite.Reveal(), ""},
		{"read-only", readOnly.Reveal(), apierrors.CodeInsufficientPermissions},
		{"revoked", revoked.Reveal(), apierrors.CodeRevokedAPIKey},
	} {
		r := httptest.NewRequest("POST", "/v1/monitors", nil)
		r.Header.Set("Authorization", "Bearer "+tc.key)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		if tc.want == "" {
			if w.Code != http.StatusCreated {
				t.Errorf("%s key: status %d, want 201", tc.name, w.Code)
			}
			continue
		}
		got, err := apierrors.Decode(w.Body) // the body as an *apierrors.Error
		if err != nil || got.Status != w.Code || !errors.Is(got, tc.want) {
			t.Errorf("%s key: %d %v (%v), want %s", tc.name, w.Code, got, err, tc.want)
		}
	}
}
