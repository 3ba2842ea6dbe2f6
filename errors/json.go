package errors

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// The bodies are assembled by hand: they have a fixed shape, and this keeps
// writing an error to one or two allocations. Tests decode every encoding
// with encoding/json, and FuzzAppendString checks the escaping against it.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does
// (HTML-safe, invalid UTF-8 replaced by U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendField appends `,"name":"value"` when value is not empty.
func appendField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendDetails appends `,"details":{…}`. Details that cannot be encoded
// are replaced by an empty object rather than failing the whole response.
func appendDetails(b []byte, details map[string]any) ([]byte, error) {
	if len(details) == 0 {
		return b, nil
	}
	d, err := json.Marshal(details)
	if err != nil {
		d = []byte("{}")
	}
	b = append(b, `,"details":`...)
	return append(b, d...), err
}

// appendObject appends the default body:
// {"error":{"status":…,"code":…,"message":…,…}}.
func appendObject(b []byte, e *Error) ([]byte, error) {
	b = append(b, `{"error":{"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"code":`...)
	b = appendString(b, string(e.Code))
	b = append(b, `,"message":`...)
	b = appendString(b, e.Message)
	b = appendField(b, "param", e.Param)
	b = appendField(b, "request_id", e.RequestID)
	b = appendField(b, "doc_url", e.DocURL)
	b, err := appendDetails(b, e.Details)
	return append(b, "}}\n"...), err
}

// appendSimple appends {"error":"message"}.
func appendSimple(b []byte, e *Error) []byte {
	b = append(b, `{"error":`...)
	b = appendString(b, e.Message)
	return append(b, "}\n"...)
}

// appendProblem appends an RFC 9457 problem details object. The type is the
// error's DocURL, or "about:blank" with the status phrase as title; code,
// param, request_id and details are extension members.
func appendProblem(b []byte, e *Error, title string) ([]byte, error) {
	typ := e.DocURL
	if typ == "" {
		typ = "about:blank"
	}
	b = append(b, `{"type":`...)
	b = appendString(b, typ)
	b = append(b, `,"title":`...)
	b = appendString(b, title)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"detail":`...)
	b = appendString(b, e.Message)
	b = append(b, `,"code":`...)
	b = appendString(b, string(e.Code))
	b = appendField(b, "param", e.Param)
	b = appendField(b, "request_id", e.RequestID)
	b, err := appendDetails(b, e.Details)
	return append(b, "}\n"...), err
}
