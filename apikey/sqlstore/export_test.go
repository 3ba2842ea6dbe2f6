package sqlstore

import (
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// IsUniqueViolation exposes isUniqueViolation to the tests.
var IsUniqueViolation = isUniqueViolation

// Statement is a statement the Store runs, with arguments of the right types.
type Statement struct {
	Name  string
	Query string
	Args  []any
}

// Statements returns every statement a Store of dialect d runs (but the
// insert), with sample arguments, so that tests can check their plans.
func Statements(d Dialect) []Statement {
	q := dialectQueries[d]
	k := &apikey.Key{ID: "AAAAAAAAAAA1", Type: apikey.SecretKey, Environment: apikey.Live,
		Owner: "acct", CreatedAt: time.Now(), LastUsedAt: time.Now(), Hash: "sha256$x"}
	args, err := d.args(k)
	if err != nil {
		panic(err)
	}
	var touch []any
	if d == Postgres {
		touch = []any{[]string{k.ID, "AAAAAAAAAAA2"}, []time.Time{time.Now(), time.Now()}}
	} else {
		touch = []any{`{"AAAAAAAAAAA1": 1, "AAAAAAAAAAA2": 2}`}
	}
	return []Statement{
		{"lookup", q.lookup, []any{k.ID}},
		{"update", q.update, args},
		{"touch", q.touch, touch},
		{"listAll", q.listAll, nil},
		{"listOwner", q.listOwner, []any{"acct"}},
		{"listEnv", q.listEnv, []any{"live"}},
		{"listOwnerEnv", q.listOwnerEnv, []any{"acct", "live"}},
	}
}
