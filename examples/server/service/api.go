package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/gatekey/gatekey/apikey"
	apierrors "github.com/gatekey/gatekey/errors"
	"github.com/gatekey/gatekey/middleware"
)

// maxBodyBytes bounds request bodies.
const maxBodyBytes = 64 << 10

// Error codes for request bodies, beyond gatekey's own. All are 400.
const (
	codeInvalidContentType apierrors.Code = "invalid_content_type"
	codeInvalidJSON        apierrors.Code = "invalid_json"
	codeUnknownField       apierrors.Code = "unknown_field"
	codeBodyTooLarge       apierrors.Code = "body_too_large"
)

// decodeBody decodes a JSON object from r's body into dst. An empty body
// is allowed only when optional is true (dst then keeps its zero value).
func decodeBody(w http.ResponseWriter, r *http.Request, dst any, optional bool) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return apierrors.New(http.StatusBadRequest, codeBodyTooLarge,
				fmt.Sprintf("Request body exceeds %d bytes", maxBodyBytes))
		}
		return apierrors.New(http.StatusBadRequest, apierrors.CodeBadRequest, "Could not read the request body").WithCause(err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if optional {
			return nil
		}
		return apierrors.New(http.StatusBadRequest, codeInvalidJSON, "Request body must be a JSON object")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return apierrors.New(http.StatusBadRequest, codeInvalidContentType, "Content-Type must be application/json")
	}
	if err := exactFields(body, dst); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return apierrors.New(http.StatusBadRequest, codeInvalidJSON, "Request body must hold a single JSON object")
	}
	return nil
}

// exactFields checks the field names of the JSON object in body against
// the json tags of the struct dst points to, exactly: encoding/json would
// match "Name", "NAME" and even Unicode folds ("permiſſion", with U+017F,
// for "permission") of a tag, and take the last of two copies of a field. An unknown name is 400
// unknown_field (named with apikey.RedactAll, since a client may have put
// its key there), a repeated one 400 invalid_json. Anything that is not
// an object is left for the decoder to refuse.
func exactFields(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	known := jsonFields(dst)
	seen := make(map[string]bool)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil // not valid JSON: the decoder says so
		}
		name, _ := t.(string)
		switch {
		case !known[name]:
			field := apikey.RedactAll(name)
			e := apierrors.New(http.StatusBadRequest, codeUnknownField, fmt.Sprintf("Unknown field %q", field))
			e.Param = field
			return e
		case seen[name]:
			return apierrors.New(http.StatusBadRequest, codeInvalidJSON, fmt.Sprintf("Field %q appears twice", name))
		}
		seen[name] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil
		}
	}
	return nil
}

// jsonFields returns the JSON names of the fields of the struct v points to.
func jsonFields(v any) map[string]bool {
	t := reflect.TypeOf(v).Elem()
	names := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		if name != "-" && f.IsExported() {
			names[name] = true
		}
	}
	return names
}

// jsonError turns a decoding error into a client error that says what is
// wrong without echoing the body.
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return apierrors.NewInvalidParameter(typeErr.Field, fmt.Sprintf("%s must be a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String())))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this; the e2e tests
		// (TestCreateKeyValidation) catch a change of its wording.
		field := apikey.RedactAll(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
		e := apierrors.New(http.StatusBadRequest, codeUnknownField, fmt.Sprintf("Unknown field %q", field))
		e.Param = field
		return e
	case errors.As(err, &typeErr):
		return apierrors.New(http.StatusBadRequest, codeInvalidJSON, "Request body must be a JSON object")
	}
	return apierrors.New(http.StatusBadRequest, codeInvalidJSON, "Request body is not valid JSON")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "int", "int64", "float64":
		return "number"
	case "ptr":
		return "value of the documented type"
	}
	return goKind
}

// writeJSON sends v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// callerKey returns the authenticated key; every route is behind the
// Gate, so its absence is a server bug.
func callerKey(r *http.Request) (*apikey.Key, error) {
	k, ok := middleware.KeyFromContext(r.Context())
	if !ok {
		return nil, apierrors.NewInternal(errors.New("server: no key in context"))
	}
	return k, nil
}

// validName checks a human-readable name with apikey.CheckName, the rules
// the dashboard applies too, so that the two cannot disagree.
func validName(param, s string) error {
	var pe *apikey.ParamError
	if err := apikey.CheckName(param, s); errors.As(err, &pe) {
		return apierrors.NewInvalidParameter(pe.Param, pe.Param+" "+pe.Reason)
	}
	return nil
}

// holdsKey reports whether s holds something shaped like an API key
// (apikey.RedactAll's rule). A key pasted into a name or a URL would be
// stored in the clear and sent back in every listing: it is refused.
func holdsKey(s string) bool { return apikey.RedactAll(s) != s }

func errHoldsKey(param string) error {
	return apierrors.NewInvalidParameter(param, param+" must not hold an API key (never put a key anywhere but the Authorization header)")
}

// rfc3339 formats t as RFC 3339 in UTC, or null when t is zero.
type rfc3339 time.Time

func (t rfc3339) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + time.Time(t).UTC().Format(time.RFC3339) + `"`), nil
}

// keyJSON is a key's metadata as the API shows it: never the hash, and
// the plaintext only in the response that creates it.
type keyJSON struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Type        string         `json:"type"`
	Environment string         `json:"environment"`
	Permission  string         `json:"permission"`
	Status      string         `json:"status"`
	CreatedAt   rfc3339        `json:"created_at"`
	ExpiresAt   rfc3339        `json:"expires_at"`
	LastUsedAt  rfc3339        `json:"last_used_at"`
	Key         string         `json:"key,omitempty"`
	RateLimit   *rateLimitJSON `json:"rate_limit,omitempty"`
}

type rateLimitJSON struct {
	Limits            []limitJSON `json:"limits"`
	RequestsPerMinute *int        `json:"requests_per_minute,omitempty"`
	RequestsPerDay    *int        `json:"requests_per_day,omitempty"`
}

type limitJSON struct {
	Requests      int   `json:"requests"`
	WindowSeconds int64 `json:"window_seconds"`
}

func (s *Service) keyJSON(k *apikey.Key) keyJSON {
	perm := k.Permission
	if !k.CanWrite() {
		perm = apikey.ReadOnly
	}
	return keyJSON{
		ID:          k.ID,
		Name:        k.Name,
		Type:        k.Type.String(),
		Environment: k.Environment.String(),
		Permission:  perm.String(),
		Status:      k.Status(s.cfg.Now()).String(),
		CreatedAt:   rfc3339(k.CreatedAt),
		ExpiresAt:   rfc3339(k.ExpiresAt),
		LastUsedAt:  rfc3339(k.LastUsedAt),
	}
}
