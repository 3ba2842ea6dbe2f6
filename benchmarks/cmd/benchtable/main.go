// Command benchtable turns `go test -bench` output into the markdown tables
// of benchmarks/README.md: the median of every metric over the runs
// (-count), one table per benchmark and scenario, one row per library and
// the serial and parallel figures side by side. benchstat remains the source
// of the statistics (confidence intervals, significance); this only lays the
// medians out for reading.
//
//	go run ./cmd/benchtable results/bench.txt > results/tables.md
package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	in := io.Reader(os.Stdin)
	if len(os.Args) > 1 {
		f, err := os.Open(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchtable:", err)
			os.Exit(1)
		}
		defer f.Close()
		in = f
	}
	if err := run(in, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// result is one benchmark's values per unit, over all runs.
type result struct {
	top, table, row, mode string
	rowKeys               string // the names of the row's components, such as "lib"
	values                map[string][]float64
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

func run(in io.Reader, out io.Writer) error {
	var order []string
	results := map[string]*result{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procsSuffix.ReplaceAllString(f[0], "")
		r, ok := results[name]
		if !ok {
			r = parseName(name)
			results[name] = r
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			r.values[f[i+1]] = append(r.values[f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}

	// Group into tables, keeping first-seen order everywhere.
	type table struct {
		title   string
		rowKeys string
		rows    []string
		modes   []string
		units   []string
		cells   map[[2]string]*result // (row, mode)
	}
	var tables []*table
	byTitle := map[string]*table{}
	for _, name := range order {
		r := results[name]
		title := r.top
		if r.table != "" {
			title += " " + r.table
		}
		t, ok := byTitle[title]
		if !ok {
			t = &table{title: title, rowKeys: r.rowKeys, cells: map[[2]string]*result{}}
			byTitle[title] = t
			tables = append(tables, t)
		}
		if !slices.Contains(t.rows, r.row) {
			t.rows = append(t.rows, r.row)
		}
		if !slices.Contains(t.modes, r.mode) {
			t.modes = append(t.modes, r.mode)
		}
		for u := range r.values {
			if !slices.Contains(t.units, u) {
				t.units = append(t.units, u)
			}
		}
		t.cells[[2]string{r.row, r.mode}] = r
	}

	for _, t := range tables {
		sortUnits(t.units)
		fmt.Fprintf(out, "#### %s\n\n", t.title)
		head := []string{t.rowKeys}
		align := []string{"---"}
		for _, m := range t.modes {
			for _, u := range t.units {
				h := u
				if m != "" {
					h = m + " " + u
				}
				head = append(head, h)
				align = append(align, "---:")
			}
		}
		fmt.Fprintf(out, "| %s |\n|%s|\n", strings.Join(head, " | "), strings.Join(align, "|"))
		for _, row := range t.rows {
			cells := []string{row}
			for _, m := range t.modes {
				for _, u := range t.units {
					c := "–"
					if r := t.cells[[2]string{row, m}]; r != nil && len(r.values[u]) > 0 {
						c = format(median(r.values[u]))
					}
					cells = append(cells, c)
				}
			}
			fmt.Fprintf(out, "| %s |\n", strings.Join(cells, " | "))
		}
		fmt.Fprintln(out)
	}
	return nil
}

// parseName splits BenchmarkTop/scenario=S/lib=L/mode=M (or impl=…, cache=…)
// into the table (scenario), the row (every other component) and the mode.
func parseName(name string) *result {
	parts := strings.Split(name, "/")
	r := &result{top: strings.TrimPrefix(parts[0], "Benchmark"), values: map[string][]float64{}}
	var row, keys []string
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		switch {
		case ok && k == "scenario":
			r.table = v
		case ok && k == "mode":
			r.mode = v
		case ok:
			row, keys = append(row, v), append(keys, k)
		default:
			row = append(row, p)
		}
	}
	r.row = strings.Join(row, " ")
	r.rowKeys = strings.Join(keys, " ")
	return r
}

var unitOrder = []string{"ns/op", "B/op", "allocs/op", "heap-B/key", "peak-heap-MiB", "keys"}

func sortUnits(units []string) {
	rank := func(u string) int {
		if i := slices.Index(unitOrder, u); i >= 0 {
			return i
		}
		return len(unitOrder)
	}
	sort.SliceStable(units, func(i, j int) bool {
		ri, rj := rank(units[i]), rank(units[j])
		if ri != rj {
			return ri < rj
		}
		return units[i] < units[j]
	})
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func format(v float64) string {
	switch {
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
