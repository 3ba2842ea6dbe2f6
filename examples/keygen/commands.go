package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gatekey/gatekey/apikey"
)

// A command is one subcommand of keygen.
type command struct {
	name       string
	synopsis   string // after "keygen "
	about      string // what it does, printed under the synopsis
	readsStdin bool   // takes a key on stdin
	flags      flagKinds
	run        func(*invocation) int
}

// flagKinds says which flags a command accepts.
type flagKinds struct {
	format   bool // -service, -omit-live-label
	typeEnv  bool // -type, -env
	expect   bool // -type and -env are optional expectations, not choices
	hashAlgo bool // -hash
	out      bool // -out
	addr     bool // -addr
}

var commands []*command

func init() {
	commands = []*command{
		{
			name:     "generate",
			synopsis: "generate [-type secret|publishable] [-env live|test] [-service NAME] [-omit-live-label] [-hash sha256|hmac|argon2id]",
			about: `Generate makes a new random key (crypto/rand) and prints it, its public id
(the store's primary key), type, environment and the self-describing hash a
service stores instead of the key. Show the key to its owner once; store only
the hash. With -hash hmac the pepper is read from GATEKEY_PEPPER (hex or
base64, at least 32 bytes) and its id from GATEKEY_PEPPER_ID (default "v1").
`,
			flags: flagKinds{format: true, typeEnv: true, hashAlgo: true},
			run:   runGenerate,
		},
		{
			name:       "check",
			synopsis:   "check [-service NAME] [-omit-live-label] [-type secret|publishable] [-env live|test] < key.txt",
			readsStdin: true,
			about: `Check reads one line from stdin and reports whether it is a well-formed key
of the given format: its redacted form and parts (service, type, environment,
id), or which part is wrong. It never prints a secret character. -type and -env,
if set, must match too. Exit status 0 if well-formed, 1 if not.
`,
			flags: flagKinds{format: true, typeEnv: true, expect: true},
			run:   runCheck,
		},
		{
			name:       "hash",
			synopsis:   "hash [-service NAME] [-omit-live-label] [-type secret|publishable] [-env live|test] [-hash sha256|hmac|argon2id] < key.txt",
			readsStdin: true,
			about: `Hash reads an existing key from stdin (never from the command line), checks
that it is a well-formed key of the given format, and prints its id and the
hash a service stores. -type and -env, if set, must match too. The pepper for
-hash hmac comes from GATEKEY_PEPPER and GATEKEY_PEPPER_ID, as for generate.
`,
			flags: flagKinds{format: true, typeEnv: true, expect: true, hashAlgo: true},
			run:   runHash,
		},
		{
			name:       "redact",
			synopsis:   "redact < key.txt",
			readsStdin: true,
			about: `Redact reads one line from stdin and prints the form of it that is safe to
log: for a well-formed key of any format "sk_live_<id>…" (service, type,
environment and id), for anything else "[redacted]".
`,
			run: runRedact,
		},
		rulesCommand,
		webhookCommand,
	}
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// options holds the parsed flags of a command.
type options struct {
	service  string
	omitLive bool
	typ, env string
	hash     string
	out      string
	addr     string

	// Set by validate.
	format  apikey.Format
	keyType apikey.Type        // zero: any (check, hash)
	keyEnv  apikey.Environment // zero: any (check, hash)
}

func (c *command) flagSet() (*flag.FlagSet, *options) {
	o := new(options)
	fs := flag.NewFlagSet("keygen "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints errors and usage itself
	fs.Usage = func() {}
	k := c.flags
	if k.typeEnv {
		defType, defEnv := "secret", "test"
		typeHelp, envHelp := "key `type`: secret (sk, server-side) or publishable (pk, may ship in apps)",
			"key `environment`: live or test"
		if k.expect {
			defType, defEnv = "", ""
			typeHelp, envHelp = "require this key `type`: secret or publishable (default any)",
				"require this `environment`: live or test (default any)"
		}
		fs.StringVar(&o.typ, "type", defType, typeHelp)
		fs.StringVar(&o.env, "env", defEnv, envHelp)
	}
	if k.format {
		fs.StringVar(&o.service, "service", "", "service `tag` in front of keys, [a-z][a-z0-9]{0,19} (acme: acme_sk_live_…)")
		fs.BoolVar(&o.omitLive, "omit-live-label", false, "production keys have no live label (sk_… beside sk_test_…)")
	}
	if k.hashAlgo {
		fs.StringVar(&o.hash, "hash", "sha256", "hash `algorithm`: sha256, hmac (pepper from GATEKEY_PEPPER) or argon2id")
	}
	if k.out {
		fs.StringVar(&o.out, "out", "", "`directory` to write the rule files to (created if need be; required)")
	}
	if k.addr {
		fs.StringVar(&o.addr, "addr", "127.0.0.1:8787", "`address` to listen on; keep it on loopback")
	}
	return fs, o
}

// validate checks the flag values. Its errors never echo a value, which
// might be a secret typed in the wrong place.
func (o *options) validate(c *command) error {
	o.format = apikey.Format{Service: o.service, OmitLiveLabel: o.omitLive}
	if err := o.format.Validate(); err != nil {
		return errors.New("invalid -service: want 1 to 20 characters matching [a-z][a-z0-9]*")
	}
	switch o.typ {
	case "":
		if c.flags.typeEnv && !c.flags.expect {
			return errors.New("-type must be secret or publishable")
		}
	case "secret", "sk":
		o.keyType = apikey.SecretKey
	case "publishable", "pk":
		o.keyType = apikey.PublishableKey
	default:
		return errors.New("-type must be secret or publishable")
	}
	switch o.env {
	case "":
		if c.flags.typeEnv && !c.flags.expect {
			return errors.New("-env must be live or test")
		}
	case "live":
		o.keyEnv = apikey.Live
	case "test":
		o.keyEnv = apikey.Test
	default:
		return errors.New("-env must be live or test")
	}
	if c.flags.out && o.out == "" {
		return errors.New("-out is required")
	}
	if c.flags.hashAlgo {
		switch o.hash {
		case "sha256", "hmac", "hmac-sha256", "argon2id":
		default:
			return errors.New("-hash must be sha256, hmac or argon2id")
		}
	}
	return nil
}

// invocation is one run of a command.
type invocation struct {
	cmd            string
	opts           *options
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	rand           io.Reader
}

// fail prints an error on stderr and returns exitFail.
func (inv *invocation) fail(format string, args ...any) int {
	fmt.Fprintf(inv.stderr, "keygen %s: %s\n", inv.cmd, fmt.Sprintf(format, args...))
	return exitFail
}

// field prints one labelled line of output.
func field(w io.Writer, label, value string) {
	fmt.Fprintf(w, "%-12s %s\n", label+":", value)
}

func runGenerate(inv *invocation) int {
	o := inv.opts
	h, err := newHasher(o.hash, inv.getenv, inv.rand)
	if err != nil {
		return inv.fail("%v", err)
	}
	tok, err := o.format.Generate(inv.rand, o.keyType, o.keyEnv)
	if err != nil {
		return inv.fail("generating the key: %v", err)
	}
	stored, err := h.Hash(tok.Reveal())
	if err != nil {
		return inv.fail("hashing the key: %v", err)
	}
	w := inv.stdout
	field(w, "key", tok.Reveal())
	field(w, "id", tok.ID())
	field(w, "type", tok.Type().String())
	field(w, "environment", tok.Environment().String())
	field(w, "hash", stored)
	fmt.Fprintln(inv.stderr, "Show the key to its owner once; store only the id and hash.")
	return exitOK
}

// parseInput reads the key from stdin and parses it with the command's
// format and expectations. The error is safe to print: it never holds a
// character of the input beyond what a redacted key shows.
func (inv *invocation) parseInput() (apikey.Token, error) {
	s, err := readLine(inv.stdin, inv.stderr)
	if err != nil {
		return apikey.Token{}, err
	}
	return inv.opts.parse(s)
}

// reasonError is a key that is not acceptable, with the part to blame.
type reasonError struct {
	field string // "checksum", "type", …
	err   error  // message safe to print
	hint  string // optional advice
}

func (e *reasonError) Error() string { return e.err.Error() }
func (e *reasonError) Unwrap() error { return e.err }

func (o *options) parse(s string) (apikey.Token, error) {
	tok, err := o.format.Parse(s)
	if err != nil {
		re := &reasonError{field: "unknown", err: err}
		var fe *apikey.FormatError
		if errors.As(err, &fe) {
			re.field = fe.Field.String()
		}
		if r := apikey.Redact(s); r != "[redacted]" {
			// Well-formed in some other Format: say so with the redacted
			// form only, which names the service tag and labels it has.
			re.hint = fmt.Sprintf("%s is a well-formed key of another format; check -service and -omit-live-label", r)
		}
		return apikey.Token{}, re
	}
	if o.keyType != 0 && tok.Type() != o.keyType {
		return apikey.Token{}, &reasonError{field: "type",
			err: fmt.Errorf("%s is a %s key; -type requires %s", tok, tok.Type(), o.keyType)}
	}
	if o.keyEnv != 0 && tok.Environment() != o.keyEnv {
		return apikey.Token{}, &reasonError{field: "env",
			err: fmt.Errorf("%s is a %s key; -env requires %s", tok, tok.Environment(), o.keyEnv)}
	}
	return tok, nil
}

func runCheck(inv *invocation) int {
	s, err := readLine(inv.stdin, inv.stderr)
	if err != nil {
		return inv.fail("%v", err)
	}
	w := inv.stdout
	tok, err := inv.opts.parse(s)
	if err != nil {
		var re *reasonError
		errors.As(err, &re)
		field(w, "well-formed", "no")
		field(w, "field", re.field)
		field(w, "reason", re.err.Error())
		if re.hint != "" {
			field(w, "hint", re.hint)
		}
		return exitFail
	}
	service := tok.Service()
	if service == "" {
		service = "(none)"
	}
	field(w, "well-formed", "yes")
	field(w, "redacted", tok.String())
	field(w, "service", service)
	field(w, "type", tok.Type().String())
	field(w, "environment", tok.Environment().String())
	field(w, "id", tok.ID())
	return exitOK
}

func runHash(inv *invocation) int {
	o := inv.opts
	// Set up the hasher first so that a missing pepper is reported before
	// the user pastes a key.
	h, err := newHasher(o.hash, inv.getenv, inv.rand)
	if err != nil {
		return inv.fail("%v", err)
	}
	tok, err := inv.parseInput()
	if err != nil {
		var re *reasonError
		if errors.As(err, &re) {
			msg := fmt.Sprintf("not a well-formed key (%s): %v", re.field, re.err)
			if re.hint != "" {
				msg += "\n  hint: " + re.hint
			}
			return inv.fail("%s", msg)
		}
		return inv.fail("%v", err)
	}
	stored, err := h.Hash(tok.Reveal())
	if err != nil {
		return inv.fail("hashing the key: %v", err)
	}
	w := inv.stdout
	field(w, "redacted", tok.String())
	field(w, "id", tok.ID())
	field(w, "hash", stored)
	return exitOK
}

func runRedact(inv *invocation) int {
	s, err := readLine(inv.stdin, inv.stderr)
	if err != nil {
		return inv.fail("%v", err)
	}
	fmt.Fprintln(inv.stdout, apikey.Redact(s))
	return exitOK
}
