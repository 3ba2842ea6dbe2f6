package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gatekey/gatekey/apikey"
)

// redacting wraps h so that every log line the service writes goes through
// one rule, apikey.RedactAll: a key a client put anywhere (the path, the
// query, a header, the method, the request id, a JSON field name) never
// reaches the log, whichever part of the service or of gatekey logs it.
func redacting(h slog.Handler) slog.Handler {
	if _, ok := h.(redactingHandler); ok {
		return h
	}
	return redactingHandler{h}
}

// redactingHandler applies apikey.RedactAll to the message, the keys and
// the values of every record: strings, errors, and anything else as it
// prints.
type redactingHandler struct{ h slog.Handler }

func (r redactingHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, apikey.RedactAll(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return redactingHandler{r.h.WithAttrs(red)}
}

func (r redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{r.h.WithGroup(apikey.RedactAll(name))}
}

func redactAttr(a slog.Attr) slog.Attr {
	a.Key = apikey.RedactAll(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(apikey.RedactAll(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		red := make([]slog.Attr, len(attrs))
		for i, g := range attrs {
			red[i] = redactAttr(g)
		}
		a.Value = slog.GroupValue(red...)
	case slog.KindAny:
		var s string
		if err, ok := v.Any().(error); ok {
			s = err.Error()
		} else {
			s = fmt.Sprint(v.Any())
		}
		a.Value = slog.StringValue(apikey.RedactAll(s))
	default:
		a.Value = v
	}
	return a
}
