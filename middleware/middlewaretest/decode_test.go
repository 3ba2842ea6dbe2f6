package middlewaretest_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware/middlewaretest"
	"github.com/google/go-cmp/cmp"
)

// DecodeError inverts Writer.Write for every encoding.
func TestDecodeErrorRoundTrip(t *testing.T) {
	full := apierrors.NewInvalidParameter("limit", "limit must be at most 100").
		WithDocURL("https://docs.example.com/errors#invalid_parameter").
		WithDetails("max", 100).
		WithRetryAfter(3 * time.Second) // a header: not in the body
	full.RequestID = "req_1"
	for _, tc := range []struct {
		name   string
		writer apierrors.Writer
		accept string
		err    *apierrors.Error
		want   *apierrors.Error
	}{
		{
			name: "object, minimal",
			err:  apierrors.ErrRevokedAPIKey,
			want: &apierrors.Error{Status: 401, Code: "revoked_api_key", Message: apierrors.ErrRevokedAPIKey.Message},
		},
		{
			name: "object, every field",
			err:  full,
			want: &apierrors.Error{Status: 400, Code: "invalid_parameter", Message: "limit must be at most 100", Param: "limit",
				RequestID: "req_1", DocURL: "https://docs.example.com/errors#invalid_parameter", Details: map[string]any{"max": 100.0}},
		},
		{
			name:   "problem, about:blank",
			accept: "application/problem+json",
			err:    apierrors.ErrRateLimited,
			want:   &apierrors.Error{Status: 429, Code: "rate_limit_exceeded", Message: apierrors.ErrRateLimited.Message},
		},
		{
			name:   "problem, every field",
			writer: apierrors.Writer{Encoding: apierrors.EncodingProblem},
			err:    full,
			want: &apierrors.Error{Status: 400, Code: "invalid_parameter", Message: "limit must be at most 100", Param: "limit",
				RequestID: "req_1", DocURL: "https://docs.example.com/errors#invalid_parameter", Details: map[string]any{"max": 100.0}},
		},
		{
			name:   "simple",
			writer: apierrors.Writer{Encoding: apierrors.EncodingSimple},
			err:    apierrors.ErrInvalidAPIKey,
			want:   &apierrors.Error{Message: apierrors.ErrInvalidAPIKey.Message},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.accept != "" {
				r.Header.Set("Accept", tc.accept)
			}
			w := httptest.NewRecorder()
			tc.writer.Write(w, r, tc.err)
			got, err := middlewaretest.DecodeError(w.Body)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decoded error (-want +got):\n%s", diff)
			}
			if tc.want.Code != "" && !errors.Is(got, tc.err) {
				t.Errorf("errors.Is(decoded, %s) = false", tc.err.Code)
			}
		})
	}
}

func TestDecodeErrorInvalid(t *testing.T) {
	for _, body := range []string{
		``,
		`not json`,
		`[]`,
		`{}`,
		`{"error":null}`,
		`{"error":42}`,
		`{"error":{"message":"no status or code"}}`,
		`{"error":{"status":"401","code":"x"}}`,
		`{"data":[]}`,
		`{"error":"a"} {"error":"b"}`,
	} {
		t.Run(body, func(t *testing.T) {
			e, err := middlewaretest.DecodeError(strings.NewReader(body))
			if err == nil || !strings.HasPrefix(err.Error(), "middlewaretest: ") {
				t.Errorf("DecodeError(%q) = %v, %v; want a middlewaretest error", body, e, err)
			}
		})
	}
}
