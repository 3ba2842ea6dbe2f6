package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkRateLimit/scenario=HotAllowed/lib=gatekey/mode=serial-2   100  10.0 ns/op  64 B/op  2 allocs/op
BenchmarkRateLimit/scenario=HotAllowed/lib=gatekey/mode=serial-2   100  30.0 ns/op  64 B/op  2 allocs/op
BenchmarkRateLimit/scenario=HotAllowed/lib=gatekey/mode=serial-2   100  20.0 ns/op  64 B/op  2 allocs/op
BenchmarkRateLimit/scenario=HotAllowed/lib=gatekey/mode=parallel-2 100  5.00 ns/op  64 B/op  2 allocs/op
BenchmarkRateLimit/scenario=HotAllowed/lib=httprate/mode=serial-2  100  700 ns/op  176 B/op  10 allocs/op
BenchmarkRateLimit/scenario=Keys1M/lib=gatekey/mode=serial-2  1000000  1200 ns/op  117.8 heap-B/key  999994 keys  135.1 peak-heap-MiB  195 B/op  3 allocs/op
BenchmarkAuthenticate/impl=gatekey/cache=hit/mode=serial-2  100  250 ns/op  0 B/op  0 allocs/op
PASS
`

func TestRun(t *testing.T) {
	var sb strings.Builder
	if err := run(strings.NewReader(sample), &sb); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{
		"#### RateLimit HotAllowed\n",
		"| lib | serial ns/op | serial B/op | serial allocs/op | parallel ns/op | parallel B/op | parallel allocs/op |\n",
		"| gatekey | 20 | 64 | 2 | 5 | 64 | 2 |\n",
		"| httprate | 700 | 176 | 10 | – | – | – |\n",
		"#### RateLimit Keys1M\n",
		"| lib | serial ns/op | serial B/op | serial allocs/op | serial heap-B/key | serial peak-heap-MiB | serial keys |\n",
		"| gatekey | 1200 | 195 | 3 | 118 | 135 | 999994 |\n",
		"#### Authenticate\n",
		"| impl cache | serial ns/op | serial B/op | serial allocs/op |\n",
		"| gatekey hit | 250 | 0 | 0 |\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
