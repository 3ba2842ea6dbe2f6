package leakreport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// A finding is one element of a report.
type finding struct {
	Token  string
	Type   string
	URL    string
	Source string
}

// maxTokenLen bounds the tokens a report may hold: GitHub reports what
// matched the registered pattern, far shorter.
const maxTokenLen = 1024

// parseReport parses a report: a JSON array of objects, each with a
// non-empty string token and optional string (or null) type, url and
// source.
// Other fields are ignored (GitHub may add some); anything else is an
// error, whose message quotes nothing of the body.
func parseReport(body []byte) ([]finding, error) {
	var raw []map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, errors.New("leakreport: the report is not a JSON array of findings")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("leakreport: the report has data after its JSON array")
	}
	findings := make([]finding, len(raw))
	for i, obj := range raw {
		f := &findings[i]
		if obj == nil {
			return nil, fmt.Errorf("leakreport: finding %d is not a JSON object", i)
		}
		// Field names match exactly, as the protocol spells them (not
		// case-insensitively, as encoding/json matches struct fields).
		for name, v := range obj {
			var dst *string
			switch name {
			case "token":
				dst = &f.Token
			case "type":
				dst = &f.Type
			case "url":
				dst = &f.URL
			case "source":
				dst = &f.Source
			default:
				continue
			}
			if name != "token" && string(v) == "null" {
				continue // as if absent
			}
			if err := json.Unmarshal(v, dst); err != nil || v[0] != '"' {
				return nil, fmt.Errorf("leakreport: finding %d: %s is not a string", i, name)
			}
		}
		if f.Token == "" || len(f.Token) > maxTokenLen {
			return nil, fmt.Errorf("leakreport: finding %d has no token, or one longer than %d bytes", i, maxTokenLen)
		}
	}
	return findings, nil
}

// An answer says whether a finding was a genuine key.
type answer struct {
	Token   string
	Type    string
	Genuine bool
}

// encodeAnswers encodes the reply GitHub reads: for each finding, in
// order, {"token_raw", "token_type", "label"} with the label
// "true_positive" or "false_positive".
func encodeAnswers(answers []answer) []byte {
	type wire struct {
		TokenRaw  string `json:"token_raw"`
		TokenType string `json:"token_type"`
		Label     string `json:"label"`
	}
	out := make([]wire, len(answers))
	for i, a := range answers {
		out[i] = wire{TokenRaw: a.Token, TokenType: a.Type, Label: "false_positive"}
		if a.Genuine {
			out[i].Label = "true_positive"
		}
	}
	b, _ := json.Marshal(out) // strings only: cannot fail
	return append(b, '\n')
}
