package apikey

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"time"
)

// match reports, as nil, whether the presented key is the genuine key of
// the entry's record, whatever the record's state: its hash matches (in
// constant time, slow hashes through the gate) and its type and
// environment agree.
func (v *Verifier) match(ctx context.Context, e *entry, p *parsed, now time.Time) error {
	presented := p.key
	sum := sumKey(presented)
	ok, known := e.matchesFast(&sum)
	switch {
	case known:
	case e.slow != nil:
		if !checksumOK(presented) { // never genuine: not worth a slow hash
			return errChecksum
		}
		var err error
		ok, err = v.slow.check(ctx, e, presented, &sum)
		if errors.Is(err, ErrUnavailable) {
			return err
		}
		if err != nil {
			// Anyone who knows the (public) id can reach this: log rarely.
			v.logRarely(&v.hashErrLogged, now, slog.LevelError, "apikey: cannot check stored hash", "id", e.key.ID, "err", err)
			return ErrInvalidKey
		}
	default:
		subtle.ConstantTimeCompare(sum[:], unknownDigest[:])
		v.logRarely(&v.algoLogged, now, slog.LevelError, "apikey: stored hash uses an algorithm this Verifier does not accept",
			"id", e.key.ID, "algorithm", HashAlgorithm(e.key.Hash))
		return ErrInvalidKey
	}
	if !ok {
		if !checksumOK(presented) {
			return errChecksum
		}
		return ErrInvalidKey
	}
	if k := e.key; k.Type != p.typ || k.Environment != p.env {
		v.log.Error("apikey: record type or environment disagrees with its key", "id", k.ID)
		return ErrInvalidKey
	}
	return nil
}

// genuine returns the record of the presented key if the key is genuine,
// in any state (revoked, expired and disabled keys included), with the
// same look-up, bounds and constant-time comparison as Verify, but
// without recording a use or sending events. The record is shared: do
// not modify it.
func (v *Verifier) genuine(ctx context.Context, presented string) (*Key, error) {
	var p parsed
	if err := v.format.parseShape(presented, &p); err != nil {
		return nil, err
	}
	if !checksumOK(presented) {
		return nil, errChecksum
	}
	now := v.now()
	e := v.records.get(p.id(), now)
	if e == nil {
		var err error
		if e, err = v.records.lookup(ctx, p.id(), now); e == nil {
			if errors.Is(err, ErrNotFound) {
				v.burn(presented)
				return nil, ErrInvalidKey
			}
			return nil, err
		}
	}
	if err := v.match(ctx, e, &p, now); err != nil {
		return nil, err
	}
	return e.key, nil
}
