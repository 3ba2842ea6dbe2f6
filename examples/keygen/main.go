// Command keygen generates, checks, hashes and redacts gatekey API keys.
//
// A service that seeds keys into its own database runs "generate": it prints
// the new key, to hand to its owner once, and the self-describing hash (with
// the key's id, the store's primary key) to put in the database. The other
// subcommands read a key from stdin, never from the command line, where it
// would end up in shell history and process listings.
//
//	go run ./examples/keygen generate
//	go run ./examples/keygen generate -type publishable -env live -service acme
//	go run ./examples/keygen generate -env live -omit-live-label -hash argon2id
//
//	export GATEKEY_PEPPER=$(openssl rand -hex 32)   # from your secret manager
//	go run ./examples/keygen generate -hash hmac
//
//	go run ./examples/keygen check < key.txt          # exit 0 if well-formed, 1 if not
//	pbpaste | go run ./examples/keygen check -service acme -type secret
//	go run ./examples/keygen hash -hash hmac < key.txt
//	go run ./examples/keygen redact < key.txt         # sk_live_4XkT2mZpQa9B…
//
//	go run ./examples/keygen rules -service acme -out scanners/acme   # secret-scanner rules
//	go run ./examples/keygen checksum-webhook        # for TruffleHog's checksum rules
//
// Exit status: 0 on success (for check: the key is well-formed), 1 on failure
// (for check: it is not), 2 for a usage error such as an unknown subcommand or
// flag, or a key given as an argument.
//
// With -hash hmac the pepper comes from the environment, never from argv:
// GATEKEY_PEPPER holds at least 32 bytes, hex or base64 encoded (hex is tried
// first; prefix the value with "hex:" or "base64:" to say which), and
// GATEKEY_PEPPER_ID the pepper id written into each hash (default "v1"),
// which must be the id the service passes to apikey.NewHMAC.
package main

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv, rand.Reader))
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // an error, or (check) a key that is not well-formed
	exitUsage = 2 // bad command line
)

const usageText = `Usage: keygen <command> [flags]

keygen generates, checks, hashes and redacts gatekey API keys. Commands that
take an existing key read it from stdin (one line), never from the command line.

Commands:
  generate  make a new key and print it (show it to its owner once) with its
            id and the hash a service stores in its key database
  check     read a string from stdin and report whether it is a well-formed
            key of the given format: its redacted form and parts, or why not
            (exit status 0 if well-formed, 1 if not)
  hash      read a key from stdin, validate it, and print the hash to store
  redact    read a key from stdin and print its redacted form, safe to log
  rules     write rules for gitleaks, TruffleHog and secretlint that find the
            keys of a format (without -service: every gatekey key)
  checksum-webhook
            serve the webhook with which TruffleHog's checksum rules check
            each match's checksum, on loopback
  help      print this text, or "help <command>" for a command's flags

Environment (only for -hash hmac):
  GATEKEY_PEPPER     the pepper: at least 32 bytes, hex or base64 encoded
                     (hex is tried first; prefix "hex:" or "base64:" to choose)
  GATEKEY_PEPPER_ID  the pepper id written into hashes (default "v1"); use the
                     id your service passes to apikey.NewHMAC

Examples:
  keygen generate -type secret -env live -service acme
  keygen check < key.txt
  keygen hash -hash argon2id < key.txt
  keygen rules -service acme -out scanners/acme

Run "keygen <command> -h" for the flags of a command.
`

// run is the whole program, with its environment passed in so tests can call
// it: args excludes the program name, getenv reads environment variables and
// rand is the source of key and salt randomness. It returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, rand io.Reader) int {
	if refuseSecretArgs(args, stderr) {
		return exitUsage
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	case "help":
		if len(rest) == 0 {
			fmt.Fprint(stdout, usageText)
			return exitOK
		}
		if c := lookup(rest[0]); c != nil && len(rest) == 1 {
			fs, _ := c.flagSet()
			printCommandUsage(stdout, c, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "keygen help: unknown command %q\n\n%s", rest[0], usageText)
		return exitUsage
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "keygen: unknown command %q\n\n%s", name, usageText)
		return exitUsage
	}

	fs, o := c.flagSet()
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandUsage(stdout, c, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "keygen %s: %v\n\n", c.name, err)
		printCommandUsage(stderr, c, fs)
		return exitUsage
	}
	if fs.NArg() > 0 {
		// Never echo the argument: it may be a key.
		if c.readsStdin {
			fmt.Fprintf(stderr, "keygen %s: unexpected argument: %s reads the key from stdin, not from the command line\n"+
				"(arguments end up in shell history and process listings), e.g.  keygen %s < key.txt\n\n", c.name, c.name, c.name)
		} else {
			fmt.Fprintf(stderr, "keygen %s: unexpected argument\n\n", c.name)
		}
		printCommandUsage(stderr, c, fs)
		return exitUsage
	}

	inv := &invocation{
		cmd: c.name, opts: o,
		stdin: stdin, stdout: stdout, stderr: stderr,
		getenv: getenv, rand: rand,
	}
	if err := inv.opts.validate(c); err != nil {
		fmt.Fprintf(stderr, "keygen %s: %v\n\n", c.name, err)
		printCommandUsage(stderr, c, fs)
		return exitUsage
	}
	return c.run(inv)
}

func printCommandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: keygen %s\n\n%s", c.synopsis, c.about)
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// minSecretRun is the length from which a run of base62 characters in an
// argument is taken for a secret: longer than any service tag (20), shorter
// than a key body (50) or an encoded 32-byte pepper.
const minSecretRun = 24

// refuseSecretArgs reports (on stderr, without echoing anything) whether
// some argument looks like a key or another secret: a well-formed key or a
// long run of base62 characters, wherever it appears (command, flag name,
// flag value, positional argument).
func refuseSecretArgs(args []string, stderr io.Writer) bool {
	for _, a := range args {
		if !looksSecret(a) {
			continue
		}
		fmt.Fprint(stderr, "keygen: refusing an argument that looks like an API key or secret: command lines end up in\n"+
			"shell history and process listings. Pass keys on stdin, e.g.  keygen hash < key.txt\n"+
			"(or: pbpaste | keygen check), and an HMAC pepper in GATEKEY_PEPPER.\n")
		return true
	}
	return false
}

func looksSecret(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if isBase62(s[i]) {
			run++
			if run >= minSecretRun {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
