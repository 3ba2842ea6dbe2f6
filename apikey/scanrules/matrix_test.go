package scanrules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gatekey/gatekey/apikey"
)

// A matrix is what each scanner found in the corpus, for one rule set.
type matrix struct {
	title    string
	c        *corpus
	format   *apikey.Format // nil: the rule set is for every form
	scanners []string
	checksum map[string]bool
	found    map[string]findings // scanner -> findings
}

func newMatrix(title string, c *corpus, f *apikey.Format) *matrix {
	return &matrix{title: title, c: c, format: f, checksum: map[string]bool{}, found: map[string]findings{}}
}

func (m *matrix) add(scanner string, checksum bool, f findings) {
	m.scanners = append(m.scanners, scanner)
	m.checksum[scanner] = checksum
	m.found[scanner] = f
}

// wanted reports whether the rule set is for the key of cell cl.
func (m *matrix) wanted(cl cell) bool {
	if cl.miss != nil {
		return false
	}
	if m.format == nil {
		return true
	}
	_, err := m.format.Parse(cl.key)
	return err == nil
}

// outcome is what a scanner did with one corpus file: whether it reported
// the file's string, and whether it reported anything else.
func (m *matrix) outcome(scanner, file string) (hit, other bool) {
	cl := m.c.files[file]
	want := cl.key
	if cl.miss != nil {
		want = cl.miss.text
	}
	for _, s := range m.found[scanner][file] {
		if s == want {
			hit = true
		} else {
			other = true
		}
	}
	return hit, other
}

// check returns an error for every miss and every false positive. A near
// miss whose only fault is its checksum may be reported by a scanner that
// does not check checksums.
func (m *matrix) check() []error {
	var errs []error
	for _, scanner := range m.scanners {
		for file, found := range m.found[scanner] {
			if _, ok := m.c.files[file]; !ok && len(found) > 0 {
				errs = append(errs, fmt.Errorf("%s: %d findings in a file outside the corpus", scanner, len(found)))
			}
		}
		for _, file := range m.files() {
			cl := m.c.files[file]
			hit, other := m.outcome(scanner, file)
			tolerated := cl.miss != nil && cl.miss.checksum && !m.checksum[scanner]
			switch {
			case other:
				errs = append(errs, fmt.Errorf("%s: %s: reported a string that is not the file's", scanner, describe(cl)))
			case m.wanted(cl) && !hit:
				errs = append(errs, fmt.Errorf("%s: %s: missed", scanner, describe(cl)))
			case !m.wanted(cl) && hit && !tolerated:
				errs = append(errs, fmt.Errorf("%s: %s: false positive", scanner, describe(cl)))
			}
		}
	}
	return errs
}

// files returns the corpus files in a stable order.
func (m *matrix) files() []string {
	var fs []string
	for f := range m.c.files {
		fs = append(fs, f)
	}
	slices.Sort(fs)
	return fs
}

// markdown renders the matrix: keys by form and context, then near misses.
func (m *matrix) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", m.title)
	fmt.Fprintf(&b, "Keys: each cell is the contexts (of %d: %s) in which the scanner found the key.\n\n", len(contexts), contextNames())
	header := "| key form | wanted | " + strings.Join(m.scanners, " | ") + " |\n|---|---|" + strings.Repeat("---|", len(m.scanners)) + "\n"
	b.WriteString(header)
	var missed, falsePos, tolerated int
	for _, f := range forms {
		wanted := false
		row := make([]string, len(m.scanners))
		for i, s := range m.scanners {
			n := 0
			for _, file := range m.files() {
				cl := m.c.files[file]
				if cl.miss != nil || cl.form != f.name {
					continue
				}
				wanted = m.wanted(cl)
				hit, _ := m.outcome(s, file)
				if hit {
					n++
				}
				switch {
				case wanted && !hit:
					missed++
				case !wanted && hit:
					falsePos++
				}
			}
			row[i] = fmt.Sprintf("%d/%d", n, len(contexts))
		}
		w := "yes"
		if !wanted {
			w = "no"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.name, w, strings.Join(row, " | "))
	}
	b.WriteString("\nNear misses (in a .env line): reported or not.\n\n")
	b.WriteString(strings.Replace(header, "| wanted |", "| fault |", 1))
	for _, file := range m.files() {
		cl := m.c.files[file]
		if cl.miss == nil {
			continue
		}
		fault := "shape"
		if cl.miss.checksum {
			fault = "checksum only"
		}
		row := make([]string, len(m.scanners))
		for i, s := range m.scanners {
			hit, _ := m.outcome(s, file)
			switch {
			case !hit:
				row[i] = "not reported"
			case cl.miss.checksum && !m.checksum[s]:
				row[i] = "reported (pattern only)"
				tolerated++
			default:
				row[i] = "**reported**"
				falsePos++
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", cl.form, fault, strings.Join(row, " | "))
	}
	fmt.Fprintf(&b, "\nMisses: %d. False positives: %d. Checksum-only near misses reported by scanners that match the pattern alone: %d.\n\n", missed, falsePos, tolerated)
	return b.String()
}

func contextNames() string {
	var names []string
	for _, c := range contexts {
		names = append(names, c.name)
	}
	return strings.Join(names, ", ")
}
