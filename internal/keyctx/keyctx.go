// Package keyctx holds the context key under which the verified API key
// travels with a request. It is internal so that only gatekey's
// authentication middleware, and the clearly named test helpers, can put a
// key in a context.
package keyctx

import (
	"context"

	"github.com/gatekey/gatekey/apikey"
)

type key struct{}

// With returns a copy of ctx carrying k.
func With(ctx context.Context, k *apikey.Key) context.Context {
	return context.WithValue(ctx, key{}, k)
}

// From returns the key stored by With.
func From(ctx context.Context) (*apikey.Key, bool) {
	k, ok := ctx.Value(key{}).(*apikey.Key)
	return k, ok && k != nil
}
