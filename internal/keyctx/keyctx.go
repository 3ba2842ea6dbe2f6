// Package keyctx holds the context key under which the verified API key
// travels with a request. It is internal so that only gatekey's
// authentication middleware, and the clearly named test helpers, can put a
// key in a context.
package keyctx

import (
	"context"

	"github.com/gatekey/gatekey/apikey"
	"github.com/gatekey/gatekey/internal/reqctx"
)

// With returns a copy of ctx carrying k.
func With(ctx context.Context, k *apikey.Key) context.Context {
	return context.WithValue(ctx, reqctx.KeyKey{}, k)
}

// Set stores k in st, the Gate's State of the request, instead of in a new
// context.
func Set(st *reqctx.State, k *apikey.Key) { st.Key = k }

// From returns the key stored by With or Set.
func From(ctx context.Context) (*apikey.Key, bool) {
	k, ok := ctx.Value(reqctx.KeyKey{}).(*apikey.Key)
	return k, ok && k != nil
}
