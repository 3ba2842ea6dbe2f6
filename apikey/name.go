package apikey

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CheckName checks a human-readable name, such as a key's, with the rules
// a service should apply to names its clients send: not blank, at most
// MaxNameLen bytes, valid UTF-8 without control characters, and holding
// nothing shaped like an API key (which would be stored in the clear and
// listed back). It returns nil or a *ParamError for param, whose Reason
// reads after the parameter's name ("name must be printable text").
//
// Manager.Create checks less (it accepts an empty name); a service that
// takes names from its clients checks them with CheckName first, so that
// its API and its pages answer alike.
func CheckName(param, s string) error {
	var reason string
	switch {
	case strings.TrimSpace(s) == "":
		reason = "is required"
	case len(s) > MaxNameLen:
		reason = "must be at most " + strconv.Itoa(MaxNameLen) + " bytes of UTF-8"
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		reason = "must be printable text"
	case RedactAll(s) != s:
		reason = "must not hold an API key (never put a key anywhere but the Authorization header)"
	default:
		return nil
	}
	return &ParamError{Param: param, Reason: reason}
}
