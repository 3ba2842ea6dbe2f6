package apikey

import (
	"context"
	"log/slog"
	"time"
)

// An Event is a change in a key's life worth telling its owner about. A
// Manager sends its events to ManagerConfig.OnEvent.
type Event struct {
	Kind EventKind
	// Key is a copy of the record after the change, without its Hash.
	Key *Key
	// Successor is the new key, for EventRolled.
	Successor *Key
	// Reason says why, for EventRevoked.
	Reason RevokeReason
	// Time is when it happened, by the Manager's clock.
	Time time.Time
}

// LogValue implements slog.LogValuer: the kind, the reason if any and the
// keys by their identifying attributes (see Key.LogValue).
func (e Event) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("kind", e.Kind.String())}
	if e.Reason != 0 {
		attrs = append(attrs, slog.String("reason", e.Reason.String()))
	}
	if e.Key != nil {
		attrs = append(attrs, slog.Any("key", e.Key))
		if e.Kind == EventExpiringSoon {
			attrs = append(attrs, slog.Time("expires_at", e.Key.ExpiresAt))
		}
	}
	if e.Successor != nil {
		attrs = append(attrs, slog.Any("successor", e.Successor))
	}
	return slog.GroupValue(attrs...)
}

// An EventKind says what happened to a key.
type EventKind uint8

// Event kinds.
const (
	// EventCreated: Manager.Create made the key.
	EventCreated EventKind = iota + 1
	// EventRolled: Manager.Roll replaced Key with Successor; Key works
	// until its ExpiresAt, the end of the grace period.
	EventRolled
	// EventRevoked: the key stopped working for good; Reason says why.
	EventRevoked
	// EventDisabled: Manager.Disable suspended the key.
	EventDisabled
	// EventEnabled: Manager.Enable lifted the suspension.
	EventEnabled
	// EventExpiringSoon: a key that expires within
	// ManagerConfig.ExpiryWarning was used. Its owner should roll it or
	// move to its successor before Key.ExpiresAt.
	EventExpiringSoon
)

// String returns "created", "rolled", "revoked", "disabled", "enabled" or
// "expiring_soon".
func (k EventKind) String() string {
	switch k {
	case EventCreated:
		return "created"
	case EventRolled:
		return "rolled"
	case EventRevoked:
		return "revoked"
	case EventDisabled:
		return "disabled"
	case EventEnabled:
		return "enabled"
	case EventExpiringSoon:
		return "expiring_soon"
	}
	return "unknown"
}

// MarshalText returns the String form, so that events encode to JSON
// (for a webhook) by name.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// A RevokeReason says why a key stopped working for good.
type RevokeReason uint8

// Revocation reasons.
const (
	// RevokedByUser: Manager.Revoke was called, as when the key's owner
	// revokes it.
	RevokedByUser RevokeReason = iota + 1
	// RevokedLeaked: Manager.RevokeLeaked was called, as when a secret
	// scanner found the key in public.
	RevokedLeaked
	// RevokedExpired: the key was used after its expiry, the end of a
	// roll's grace period or an expiry it was created with. Its record is
	// unchanged (its status is StatusExpired); the event is sent once a
	// Verifier sees the key refused for it, at most once per key per
	// Manager, so a key nobody uses again sends none.
	RevokedExpired
)

// String returns "user", "leaked" or "expired".
func (r RevokeReason) String() string {
	switch r {
	case RevokedByUser:
		return "user"
	case RevokedLeaked:
		return "leaked"
	case RevokedExpired:
		return "expired"
	}
	return "unknown"
}

// MarshalText returns the String form.
func (r RevokeReason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// eventKey returns a copy of k fit for an Event: without its Hash.
func eventKey(k *Key) *Key {
	c := k.Clone()
	if c != nil {
		c.Hash = ""
	}
	return c
}

// notifier sends events to a hook; the zero notifier sends none.
type notifier struct {
	hook func(context.Context, Event)
	now  func() time.Time
}

func (n *notifier) send(ctx context.Context, kind EventKind, reason RevokeReason, k, successor *Key) {
	if n.hook == nil {
		return
	}
	n.hook(ctx, Event{Kind: kind, Key: eventKey(k), Successor: eventKey(successor), Reason: reason, Time: n.now()})
}
