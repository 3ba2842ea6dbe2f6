package ratelimittest_test

import "log/slog"

// discard is a logger for the store failures the tests cause on purpose.
var discard = slog.New(slog.DiscardHandler)
