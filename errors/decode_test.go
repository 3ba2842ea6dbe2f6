package errors_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Decode inverts Writer.Write for every encoding.
func TestDecodeRoundTrip(t *testing.T) {
	full := apierrors.NewInvalidParameter("limit", "limit must be at most 100").
		WithDetails("max", 100).
		WithRetryAfter(3 * time.Second) // a header: not in the body
	full.DocURL = "https://docs.example.com/errors#invalid_parameter"
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
			err:  apierrors.New(401, apierrors.CodeRevokedAPIKey, "This API key has been revoked"),
			want: &apierrors.Error{Status: 401, Code: "revoked_api_key", Message: "This API key has been revoked"},
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
			err:    apierrors.NewTooManyRequests(time.Second),
			want:   &apierrors.Error{Status: 429, Code: "rate_limit_exceeded", Message: "Rate limit exceeded"},
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
			err:    apierrors.New(401, apierrors.CodeInvalidAPIKey, "Invalid or missing API key"),
			want:   &apierrors.Error{Message: "Invalid or missing API key"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.accept != "" {
				r.Header.Set("Accept", tc.accept)
			}
			w := httptest.NewRecorder()
			tc.writer.Write(w, r, tc.err)
			got, err := apierrors.Decode(w.Body)
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

func TestDecodeInvalid(t *testing.T) {
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
			e, err := apierrors.Decode(strings.NewReader(body))
			if err == nil || !strings.HasPrefix(err.Error(), "apierrors: ") {
				t.Errorf("Decode(%q) = %v, %v; want an apierrors error", body, e, err)
			}
		})
	}
}

// FuzzDecode: Decode never panics, and what it accepts in the default
// encoding survives a round trip through Write unchanged.
func FuzzDecode(f *testing.F) {
	f.Add(`{"error":{"status":404,"code":"not_found","message":"Not found","request_id":"req_1"}}`)
	f.Add(`{"error":{"status":400,"code":"invalid_parameter","message":"m","param":"p","details":{"a":[1,"x",null]}}}`)
	f.Add(`{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"slow","code":"rate_limit_exceeded"}`)
	f.Add(`{"error":"Invalid or missing API key"}`)
	f.Add(`{"error":{"status":"x"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		e, err := apierrors.Decode(strings.NewReader(body))
		if err != nil || e.Status < 400 || e.Status > 599 || e.Code == "" {
			return
		}
		w := httptest.NewRecorder()
		(&apierrors.Writer{DisableNegotiation: true}).Write(w, httptest.NewRequest("GET", "/", nil), e)
		again, err := apierrors.Decode(w.Body)
		if err != nil {
			t.Fatalf("Decode(Write(%+v)): %v", e, err)
		}
		// Write repairs invalid UTF-8; compare what survives that.
		e.Message = strings.ToValidUTF8(e.Message, "\uFFFD")
		e.Param = strings.ToValidUTF8(e.Param, "\uFFFD")
		e.RequestID = strings.ToValidUTF8(e.RequestID, "\uFFFD")
		e.DocURL = strings.ToValidUTF8(e.DocURL, "\uFFFD")
		e.Code = apierrors.Code(strings.ToValidUTF8(string(e.Code), "\uFFFD"))
		if e.Message == "" {
			e.Message = again.Message // Write fills in an empty message
		}
		if diff := cmp.Diff(e, again, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("round trip changed the error (-first +second):\n%s", diff)
		}
	})
}
