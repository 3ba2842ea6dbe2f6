package apikey

import "errors"

// Sentinel errors. Test for them with [errors.Is]; the errors this package
// returns wrap them, often together with more detail.
//
// A caller that authenticates requests needs only three answers: the key is
// not acceptable ([ErrInvalidKey], which every malformed, unknown or
// wrong-secret key matches, so they can share one 401 response), the key is
// genuine but not usable ([ErrExpired], [ErrRevoked], [ErrDisabled]; only
// returned after the secret matched), or the decision could not be made
// ([ErrUnavailable], a 503, never a 401).
var (
	// ErrInvalidKey reports a key that is malformed, unknown, or whose secret
	// does not match. The three cases are deliberately indistinguishable.
	ErrInvalidKey = errors.New("apikey: invalid key")

	// ErrMalformed reports a string that is not a well-formed key of the
	// expected Format. Errors matching it also match ErrInvalidKey, and the
	// concrete error is a *FormatError.
	ErrMalformed error = &chainedError{msg: "apikey: malformed key", parent: ErrInvalidKey}

	// ErrExpired reports a genuine key whose ExpiresAt has passed.
	ErrExpired = errors.New("apikey: key expired")

	// ErrRevoked reports a genuine key that has been revoked (irreversibly).
	ErrRevoked = errors.New("apikey: key revoked")

	// ErrDisabled reports a genuine key that is disabled (reversibly).
	ErrDisabled = errors.New("apikey: key disabled")

	// ErrNotFound is returned by a Store when no key has the requested id.
	ErrNotFound = errors.New("apikey: key not found")

	// ErrConflict is returned by ManagedStore.CreateKey when the id is taken.
	ErrConflict = errors.New("apikey: key id already exists")

	// ErrUnavailable reports that the key store could not answer (network,
	// driver, timeout). Store implementations wrap their driver errors with
	// it; the Verifier wraps every store failure and context deadline with
	// it, and refuses work beyond its concurrency bounds with it
	// (VerifierConfig.MaxConcurrentLookups, MaxConcurrentSlowHashes).
	ErrUnavailable = errors.New("apikey: key store unavailable")

	// ErrTooManyLookups reports a Verify refused at once because
	// VerifierConfig.MaxConcurrentLookups store look-ups were already in
	// flight: the mark of a flood of made-up keys, or of a store that has
	// stopped answering. It matches ErrUnavailable too.
	ErrTooManyLookups error = &chainedError{msg: "apikey: key store unavailable: too many store look-ups in flight", parent: ErrUnavailable}
)

// chainedError is a sentinel that also matches a more general sentinel.
type chainedError struct {
	msg    string
	parent error
}

func (e *chainedError) Error() string { return e.msg }
func (e *chainedError) Unwrap() error { return e.parent }

// FormatField names the part of a key string that failed to parse.
type FormatField uint8

// The parts of a key a *FormatError can blame.
const (
	FieldLength   FormatField = iota + 1 // too short, too long, or the body is not 50 characters
	FieldAlphabet                        // a body character outside [0-9A-Za-z]
	FieldType                            // the type label is not "sk" or "pk"
	FieldEnv                             // the environment label is missing, unknown, or not allowed by the Format
	FieldService                         // the service tag differs from the Format's
	FieldChecksum                        // the checksum does not match
)

var fieldNames = [...]string{
	FieldLength:   "length",
	FieldAlphabet: "alphabet",
	FieldType:     "type",
	FieldEnv:      "env",
	FieldService:  "service",
	FieldChecksum: "checksum",
}

// String returns the field's lowercase name, such as "checksum".
func (f FormatField) String() string {
	if int(f) < len(fieldNames) && fieldNames[f] != "" {
		return fieldNames[f]
	}
	return "unknown"
}

// FormatError reports why a string is not a well-formed key. Its message
// names the failing part and never contains any character of the input.
// It matches ErrMalformed and ErrInvalidKey with errors.Is.
type FormatError struct {
	Field FormatField
}

var formatMessages = [...]string{
	FieldLength:   "apikey: malformed key: wrong length",
	FieldAlphabet: "apikey: malformed key: invalid character",
	FieldType:     "apikey: malformed key: unknown key type",
	FieldEnv:      "apikey: malformed key: unknown or unexpected environment",
	FieldService:  "apikey: malformed key: unexpected service tag",
	FieldChecksum: "apikey: malformed key: checksum mismatch",
}

func (e *FormatError) Error() string {
	if int(e.Field) < len(formatMessages) && formatMessages[e.Field] != "" {
		return formatMessages[e.Field]
	}
	return "apikey: malformed key"
}

// Unwrap returns ErrMalformed.
func (e *FormatError) Unwrap() error { return ErrMalformed }

// Preallocated so that rejecting a malformed key does not allocate.
var (
	errLength   = &FormatError{Field: FieldLength}
	errAlphabet = &FormatError{Field: FieldAlphabet}
	errType     = &FormatError{Field: FieldType}
	errEnv      = &FormatError{Field: FieldEnv}
	errService  = &FormatError{Field: FieldService}
	errChecksum = &FormatError{Field: FieldChecksum}
)

// A ParamError reports an invalid field of CreateParams, from
// Manager.Create or Manager.Roll. Param names the field as an API would,
// in snake_case ("name", "expires_at", "scopes", …), and Reason says what
// is wrong without repeating the value, so that a service can answer a
// client in one line:
//
//	var pe *apikey.ParamError
//	if errors.As(err, &pe) {
//		return apierrors.NewInvalidParameter(pe.Param, pe.Param+" "+pe.Reason)
//	}
type ParamError struct {
	Param  string // "name", "type", "environment", "permission", "scopes", "allowed_networks", "expires_at" or "metadata"
	Reason string // for example "must be in the future"
}

func (e *ParamError) Error() string { return "apikey: invalid " + e.Param + ": " + e.Reason }
