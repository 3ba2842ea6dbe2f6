package scanrules

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/gatekey/gatekey/apikey"
)

// maxWebhookBody bounds a verification request: a few matches.
const maxWebhookBody = 64 << 10

// ChecksumWebhook returns the handler of TruffleHog's verification
// webhook for the checksum rules (see Rule.TruffleHog): TruffleHog POSTs
// each match as
//
//	{"<detector name>": {"key": ["<match>", "<group 1>"]}}
//
// and counts it verified when the answer is 200. The handler answers 200
// when every value sent is a gatekey key with a valid checksum (of any
// Format: the detector's pattern has already chosen the form), and 403
// otherwise, 400 for a body it cannot read. It keeps nothing and logs
// nothing: serve it on loopback only, as the keys a scan finds are sent to
// it in the clear.
func ChecksumWebhook() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		var body map[string]map[string][]string
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
		if err != nil || json.Unmarshal(data, &body) != nil || len(body) == 0 {
			http.Error(w, "not a TruffleHog verification request", http.StatusBadRequest)
			return
		}
		for _, groups := range body {
			if len(groups) == 0 {
				http.Error(w, "no match", http.StatusForbidden)
				return
			}
			for _, values := range groups {
				if len(values) == 0 {
					http.Error(w, "no match", http.StatusForbidden)
					return
				}
				for _, v := range values {
					if found := apikey.FindAll(v); len(found) != 1 || found[0].Reveal() != v {
						http.Error(w, "not a gatekey key: wrong checksum", http.StatusForbidden)
						return
					}
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"checksum":"ok"}`+"\n")
	})
}
