// Package reqctx holds the context keys that gatekey's packages share, and
// State, the one context value middleware.Gate installs per request to
// carry all of them.
//
// A part used alone adds its value with context.WithValue and
// http.Request.WithContext, as usual: a copy of the request, and a new
// context, per value. Inside a Gate nothing but gatekey's own parts runs
// between the Gate's outermost layer and the service's routes, so the Gate
// installs one State there and its parts fill in its fields instead, saving
// a request copy and a context per part. The lookups are positional either
// way: State answers a key only once its field is set, and otherwise asks
// its parent, so a value added closer to the handler, by a part used alone
// inside the Gate's routes, still wins over the Gate's, and one added
// outside the Gate loses to it.
package reqctx
