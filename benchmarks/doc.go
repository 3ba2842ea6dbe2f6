// Package benchmarks measures gatekey against the rate-limiting and
// authentication middleware that Go services would otherwise pick, in the
// same run on the same machine.
//
// It is a nested module (its own go.mod) so that the peer libraries never
// become dependencies of gatekey itself. Everything lives in _test.go files:
//
//	go test ./...                                  # fast: correctness gate and smoke tests
//	go test -run '^$' -bench . -benchmem ./...     # the benchmarks
//	./run.sh                                       # the whole measurement (see README.md)
package benchmarks
