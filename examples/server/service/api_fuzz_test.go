package service

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	apierrors "github.com/gatekey/gatekey/errors"
)

// FuzzExactFields: whatever the body, exactFields never panics, accepts
// only objects whose field names are exactly the struct's, each once,
// and never echoes a key-shaped field name.
func FuzzExactFields(f *testing.F) {
	f.Add([]byte(`{"name":"x","permission":"read_only"}`))
	f.Add([]byte(`{"Name":"x"}`))
	f.Add([]byte(`{"name":"x","name":"y"}`))
	f.Add([]byte(`{"permiſſion":"read_only"}`))
	f.Add([]byte(`{"sk_live_` + strings.Repeat("a", 50) + `":1}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var req createKeyRequest
		err := exactFields(body, &req)
		var ae *apierrors.Error
		if err != nil {
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
				t.Fatalf("exactFields: %v, want a 400", err)
			}
			if holdsKey(ae.Message) || holdsKey(ae.Param) {
				t.Fatalf("exactFields echoes a key-shaped field name")
			}
			return
		}
		// Accepted: a top-level object holds only known names, once each.
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil {
			return // not an object, or not JSON: the decoder refuses it
		}
		known := jsonFields(&req)
		for name := range obj {
			if !known[name] {
				t.Fatalf("exactFields accepted the unknown field %q", name)
			}
		}
	})
}
