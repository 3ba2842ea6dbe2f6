package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gatekey/gatekey/apikey/scanrules"
)

var rulesCommand = &command{
	name:     "rules",
	synopsis: "rules -out DIR [-service NAME] [-omit-live-label]",
	about: `Rules writes the rules with which secret scanners find keys: gitleaks.toml,
trufflehog.yaml, trufflehog-checksum.yaml (TruffleHog asks checksum-webhook
about each match) and a secretlint rule with its configuration (it checks the
checksum itself). Without -service the rules find every gatekey key (any
service tag or none, with or without the live label), as the scanners
directory of the repository ships them; with -service they find the keys of
that format alone.
`,
	flags: flagKinds{format: true, out: true},
	run:   runRules,
}

var webhookCommand = &command{
	name:     "checksum-webhook",
	synopsis: "checksum-webhook [-addr 127.0.0.1:8787]",
	about: `Checksum-webhook serves the verification webhook of the TruffleHog rules in
trufflehog-checksum.yaml: TruffleHog sends it each match, and it answers that
the match is verified only when its checksum is valid, so that
"trufflehog ... --results=verified" reports keys and no near misses. It logs
nothing and keeps nothing. It serves until interrupted.
`,
	flags: flagKinds{addr: true},
	run:   runWebhook,
}

func runRules(inv *invocation) int {
	o := inv.opts
	rule := scanrules.Any()
	if o.service != "" || o.omitLive {
		var err error
		if rule, err = scanrules.For(o.format); err != nil {
			return inv.fail("%v", err)
		}
	}
	files := rule.Files()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path := filepath.Join(o.out, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return inv.fail("%v", err)
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return inv.fail("%v", err)
		}
		fmt.Fprintln(inv.stdout, path)
	}
	fmt.Fprintf(inv.stderr, "Rule %q: %s\n", rule.ID, rule.Pattern)
	return exitOK
}

func runWebhook(inv *invocation) int {
	ln, err := net.Listen("tcp", inv.opts.addr)
	if err != nil {
		return inv.fail("%v", err)
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !isLoopback(host) {
		fmt.Fprintf(inv.stderr, "keygen checksum-webhook: warning: %s is not a loopback address; scans send keys to it in the clear\n", host)
	}
	srv := &http.Server{Handler: scanrules.ChecksumWebhook(), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Fprintf(inv.stderr, "checksum webhook on http://%s/verify\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return inv.fail("%v", err)
	}
	return exitOK
}

func isLoopback(host string) bool {
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
