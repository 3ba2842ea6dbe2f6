package reqctx

import "context"

// The context keys. Each package keeps its own typed accessors.
type (
	// WriterKey's value is the *errors.Writer installed for the request.
	WriterKey struct{}
	// KeyKey's value is the authenticated *apikey.Key.
	KeyKey struct{}
	// RequestIDKey's value is the request id, a string, or the *State
	// holding it.
	RequestIDKey struct{}
	// stateKey's value is the *State itself.
	stateKey struct{}
)

// State is a request's context inside a Gate: its parent, and the values
// the Gate's parts set on it in the order they run. The fields are set
// before the next part runs and never changed after, by the goroutine
// serving the request.
type State struct {
	context.Context

	Writer    any    // the request's *errors.Writer, or nil
	RequestID string // the request id, or ""
	Key       any    // the authenticated *apikey.Key, or nil
}

// Value answers the keys whose fields are set, and asks the parent
// context for everything else.
func (s *State) Value(key any) any {
	switch key.(type) {
	case stateKey:
		return s
	case WriterKey:
		if s.Writer != nil {
			return s.Writer
		}
	case KeyKey:
		if s.Key != nil {
			return s.Key
		}
	case RequestIDKey:
		if s.RequestID != "" {
			return s // a string in an interface would allocate
		}
	}
	return s.Context.Value(key)
}

// From returns the innermost State in ctx, or nil.
func From(ctx context.Context) *State {
	s, _ := ctx.Value(stateKey{}).(*State)
	return s
}
