package scanrules

import (
	"bytes"
	ctxpkg "context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatekey/gatekey/apikey"
)

// findings maps a corpus file (slash-separated, relative) to the strings a
// scanner reported in it.
type findings map[string][]string

// A scanner is one real tool run with one rule set.
type scanner struct {
	name     string
	tool     string // the binary, looked up in PATH
	install  string // how to install it
	checksum bool   // whether it checks the checksum, not the pattern alone
	run      func(t *testing.T, bin string, rules map[string]string, corpus string) findings
}

var scanners = []scanner{
	{name: "gitleaks", tool: "gitleaks", install: "go install github.com/zricethezav/gitleaks/v8@v8.30.1", run: runGitleaks},
	{name: "trufflehog", tool: "trufflehog", install: "see .ci/run: trufflehog v3.90.0 is built from its module's source", run: runTruffleHog(false)},
	{name: "trufflehog checksum", tool: "trufflehog", install: "see .ci/run", checksum: true, run: runTruffleHog(true)},
	{name: "secretlint", tool: "secretlint", install: "npm install secretlint@13.0.6, and put node_modules/.bin in PATH", checksum: true, run: runSecretlint},
}

// lookTool returns the path of a scanner's binary. Without it the test
// skips, saying how to install it, except under CI, where it fails.
func lookTool(t *testing.T, s scanner) string {
	t.Helper()
	bin, err := exec.LookPath(s.tool)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (%s); CI runs every scanner", s.tool, s.install)
		}
		t.Skipf("%s is not installed: %s", s.tool, s.install)
	}
	return bin
}

// command runs bin in dir and returns its stdout and exit status; a
// failure to start it fails the test.
func command(t *testing.T, dir, bin string, args ...string) ([]byte, int) {
	t.Helper()
	ctx, cancel := ctxpkg.WithTimeout(ctxpkg.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return stdout.Bytes(), exit.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", filepath.Base(bin), err)
	}
	// stderr may quote a finding: never print it.
	return stdout.Bytes(), 0
}

// relative returns path relative to corpus, slash-separated.
func relative(t *testing.T, corpus, path string) string {
	t.Helper()
	if !filepath.IsAbs(path) {
		path = filepath.Join(corpus, path)
	}
	rel, err := filepath.Rel(corpus, path)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.ToSlash(rel)
}

func runGitleaks(t *testing.T, bin string, rules map[string]string, corpus string) findings {
	out, code := command(t, corpus, bin, "dir", ".", "--config", rules[FileGitleaks],
		"--no-banner", "--log-level", "error", "--report-format", "json", "--report-path", "-", "--exit-code", "99")
	if code != 0 && code != 99 {
		t.Fatalf("gitleaks exited %d", code)
	}
	var report []struct{ RuleID, File, Secret string }
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("gitleaks report: %v", err)
	}
	found := findings{}
	for _, f := range report {
		file := relative(t, corpus, f.File)
		found[file] = append(found[file], f.Secret)
	}
	return found
}

func runTruffleHog(checksum bool) func(t *testing.T, bin string, rules map[string]string, corpus string) findings {
	return func(t *testing.T, bin string, rules map[string]string, corpus string) findings {
		args := []string{"filesystem", ".", "--json", "--no-update", "--include-detectors=CustomRegex"}
		if checksum {
			args = append(args, "--config", rules[FileTruffleHogChecksum], "--results=verified")
		} else {
			args = append(args, "--config", rules[FileTruffleHog], "--no-verification")
		}
		out, code := command(t, corpus, bin, args...)
		if code != 0 {
			t.Fatalf("trufflehog exited %d", code)
		}
		found := findings{}
		for line := range bytes.Lines(out) {
			var r struct {
				SourceMetadata struct {
					Data struct {
						Filesystem struct{ File string }
					}
				}
				Raw       string
				Verified  bool
				ExtraData struct{ Name string }
			}
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("trufflehog output: %v", err)
			}
			if checksum && !r.Verified {
				t.Errorf("trufflehog --results=verified reported an unverified finding")
				continue
			}
			file := relative(t, corpus, r.SourceMetadata.Data.Filesystem.File)
			found[file] = append(found[file], r.Raw)
		}
		return found
	}
}

func runSecretlint(t *testing.T, bin string, rules map[string]string, corpus string) findings {
	out, code := command(t, corpus, bin, ".", "--secretlintrc", rules[FileSecretlintConfig], "--format", "json", "--no-gitignore")
	if code != 0 && code != 1 {
		t.Fatalf("secretlint exited %d", code)
	}
	var report []struct {
		FilePath      string
		SourceContent string
		Messages      []struct {
			MessageID string
			Range     [2]int
		}
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("secretlint report: %v", err)
	}
	found := findings{}
	for _, f := range report {
		file := relative(t, corpus, f.FilePath)
		for _, m := range f.Messages {
			// The corpus is ASCII: UTF-16 offsets are byte offsets.
			if m.MessageID != "KEY" || m.Range[0] < 0 || m.Range[1] > len(f.SourceContent) || m.Range[0] > m.Range[1] {
				t.Errorf("secretlint reported %q at %v in %s", m.MessageID, m.Range, file)
				continue
			}
			found[file] = append(found[file], f.SourceContent[m.Range[0]:m.Range[1]])
		}
	}
	return found
}

// findAll is apikey.FindAll over the corpus, the reference the scanners'
// rules are held to.
func findAll(t *testing.T, f *apikey.Format, corpus string) findings {
	found := findings{}
	err := filepath.WalkDir(corpus, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var toks []apikey.Token
		if f == nil {
			toks = apikey.FindAll(string(data))
		} else {
			toks = f.FindAll(string(data))
		}
		for _, tok := range toks {
			file := relative(t, corpus, path)
			found[file] = append(found[file], tok.Reveal())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// writeRules writes the files of r to a new directory and returns their
// paths by name. The checksum rules ask webhook.
func writeRules(t *testing.T, r Rule, webhook string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	files := r.Files()
	files[FileTruffleHogChecksum] = r.TruffleHog(webhook)
	paths := map[string]string{}
	for name, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths[name] = path
	}
	return paths
}

// TestScanners runs the real scanners, with the rules this package
// writes, over a corpus of keys of every form in many contexts and of
// near misses: every key a rule set is for must be found by every
// scanner, and nothing else (a near miss whose only fault is its checksum
// excepted, for the scanners that match the pattern alone). Set
// GATEKEY_SCANNER_MATRIX to a file name to have the matrix written there.
func TestScanners(t *testing.T) {
	c := newCorpus(t)
	webhook := httptest.NewServer(ChecksumWebhook())
	defer webhook.Close()

	acme := apikey.Format{Service: "acme"}
	acmeRule, err := For(acme)
	if err != nil {
		t.Fatal(err)
	}
	sets := []struct {
		name   string
		rule   Rule
		format *apikey.Format // nil: every form
	}{
		{"every gatekey key (the shipped rules)", Any(), nil},
		{"keygen rules -service acme", acmeRule, &acme},
	}
	var report strings.Builder
	for _, set := range sets {
		t.Run(set.rule.ID, func(t *testing.T) {
			bins := make([]string, len(scanners))
			for i, s := range scanners {
				bins[i] = lookTool(t, s)
			}
			rules := writeRules(t, set.rule, webhook.URL+"/verify")
			m := newMatrix(set.name, c, set.format)
			m.add("apikey.FindAll", false, findAll(t, set.format, c.dir))
			for i, s := range scanners {
				m.add(s.name, s.checksum, s.run(t, bins[i], rules, c.dir))
			}
			for _, e := range m.check() {
				t.Error(e)
			}
			report.WriteString(m.markdown())
		})
	}
	if path := os.Getenv("GATEKEY_SCANNER_MATRIX"); path != "" {
		if err := os.WriteFile(path, []byte(report.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// describe names a corpus file by what it holds, never by its content.
func describe(cl cell) string {
	if cl.miss != nil {
		return fmt.Sprintf("near miss %q", cl.form)
	}
	return fmt.Sprintf("%s key in %s", cl.form, cl.context)
}
