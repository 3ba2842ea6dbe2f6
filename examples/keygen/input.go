package main

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gatekey/gatekey/apikey"
)

const (
	// maxLine bounds the line read from stdin; a key is under 100 bytes.
	maxLine = 1024
	// maxTrailing bounds what is read after that line to make sure it is
	// the only one.
	maxTrailing = 64 << 10
)

// readLine reads the one line a command expects on stdin, without its line
// ending and surrounding white space. From a terminal it prompts on stderr
// and stops at the end of the line; from a pipe or file it insists that
// nothing but white space follows, so that a file of several keys is not
// silently judged by its first. Its errors never contain input characters.
func readLine(r io.Reader, stderr io.Writer) (string, error) {
	interactive := isTerminal(r)
	if interactive {
		fmt.Fprint(stderr, "Paste the key and press Enter: ")
	}
	br := bufio.NewReader(r)
	var line []byte
	eof := false
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			eof = true
			break
		}
		if err != nil {
			return "", fmt.Errorf("reading stdin: %w", err)
		}
		if c == '\n' {
			break
		}
		if len(line) == maxLine {
			return "", fmt.Errorf("the line on stdin is longer than %d bytes, far too long for a key", maxLine)
		}
		line = append(line, c)
	}
	if interactive && eof {
		fmt.Fprintln(stderr) // end the prompt's line
	}
	if !interactive && !eof {
		rest, err := io.ReadAll(io.LimitReader(br, maxTrailing))
		if err != nil {
			return "", fmt.Errorf("reading stdin: %w", err)
		}
		if len(strings.TrimSpace(string(rest))) > 0 {
			return "", errors.New("stdin holds more than one line: pass one key at a time")
		}
	}
	s := strings.TrimSpace(string(line))
	if s == "" {
		return "", errors.New("no key on stdin: pass it there, e.g.  keygen check < key.txt  or  pbpaste | keygen check")
	}
	return s, nil
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Environment variables for -hash hmac.
const (
	envPepper       = "GATEKEY_PEPPER"
	envPepperID     = "GATEKEY_PEPPER_ID"
	defaultPepperID = "v1"
)

// newHasher returns the Hasher named by -hash. The HMAC pepper comes from
// the environment; error messages never contain any of it.
func newHasher(name string, getenv func(string) string, rand io.Reader) (apikey.Hasher, error) {
	switch name {
	case "sha256":
		return apikey.SHA256{}, nil
	case "argon2id":
		return apikey.Argon2id{Rand: rand}, nil
	case "hmac", "hmac-sha256":
	default:
		return nil, errors.New("-hash must be sha256, hmac or argon2id")
	}
	raw := strings.TrimSpace(getenv(envPepper))
	if raw == "" {
		return nil, fmt.Errorf("-hash hmac needs the pepper in $%s: at least %d bytes, hex or base64 encoded,\n"+
			"  from your secret manager (for a trial: export %s=$(openssl rand -hex 32)); it is never taken from the command line",
			envPepper, apikey.MinPepperLen, envPepper)
	}
	secret, err := decodePepper(raw)
	if err != nil {
		return nil, fmt.Errorf("$%s %v", envPepper, err)
	}
	if len(secret) < apikey.MinPepperLen {
		return nil, fmt.Errorf("$%s decodes to %d bytes; -hash hmac needs at least %d (e.g. openssl rand -hex 32)",
			envPepper, len(secret), apikey.MinPepperLen)
	}
	id := getenv(envPepperID)
	if id == "" {
		id = defaultPepperID
	}
	h, err := apikey.NewHMAC(apikey.Pepper{ID: id, Secret: secret})
	if err != nil {
		return nil, fmt.Errorf("$%s must be 1 to 32 characters of [A-Za-z0-9._-]", envPepperID)
	}
	return h, nil
}

// decodePepper decodes a pepper written in hex or base64 (standard or URL
// alphabet, padded or not). Hex is tried first; a "hex:" or "base64:" prefix
// settles it for a value that would be valid in both.
func decodePepper(s string) ([]byte, error) {
	switch {
	case strings.HasPrefix(s, "hex:"):
		b, err := hex.DecodeString(s[len("hex:"):])
		if err != nil {
			return nil, errors.New(`is not valid hex after "hex:"`)
		}
		return b, nil
	case strings.HasPrefix(s, "base64:"):
		b, ok := decodeBase64(s[len("base64:"):])
		if !ok {
			return nil, errors.New(`is not valid base64 after "base64:"`)
		}
		return b, nil
	}
	if b, err := hex.DecodeString(s); err == nil {
		return b, nil
	}
	if b, ok := decodeBase64(s); ok {
		return b, nil
	}
	return nil, errors.New("is neither hex nor base64")
}

func decodeBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}
