package reqctx

import (
	"context"
	"testing"
)

type other struct{}

func TestStateIsPositional(t *testing.T) {
	outer := context.WithValue(context.Background(), KeyKey{}, "outer")
	outer = context.WithValue(outer, RequestIDKey{}, "outer-id")
	outer = context.WithValue(outer, other{}, "other")
	st := &State{Context: outer}

	// Unset fields: the parent answers.
	if got := st.Value(KeyKey{}); got != "outer" {
		t.Errorf("unset Key: Value = %v, want the parent's", got)
	}
	if got := st.Value(RequestIDKey{}); got != "outer-id" {
		t.Errorf("unset RequestID: Value = %v, want the parent's", got)
	}
	if got := st.Value(WriterKey{}); got != nil {
		t.Errorf("unset Writer: Value = %v, want nil", got)
	}

	// Set fields win over values outside the Gate.
	st.Key, st.RequestID, st.Writer = "gate", "gate-id", "writer"
	if got := st.Value(KeyKey{}); got != "gate" {
		t.Errorf("set Key: Value = %v, want the State's", got)
	}
	if got := st.Value(RequestIDKey{}); got != st {
		t.Errorf("set RequestID: Value = %v, want the State", got)
	}
	if got := st.Value(WriterKey{}); got != "writer" {
		t.Errorf("set Writer: Value = %v, want the State's", got)
	}
	if got := st.Value(other{}); got != "other" {
		t.Errorf("other key: Value = %v, want the parent's", got)
	}

	// A value added inside the Gate wins over the State's.
	inner := context.WithValue(st, KeyKey{}, "inner")
	if got := inner.Value(KeyKey{}); got != "inner" {
		t.Errorf("inner Key: Value = %v, want the inner value", got)
	}
	if From(inner) != st {
		t.Error("From(inner) is not the State")
	}
	if From(outer) != nil {
		t.Error("From(outer) is not nil")
	}
}

// TestStateCancellation: contexts derived from a State are cancelled with
// its parent, as for any context.
func TestStateCancellation(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	child, stop := context.WithCancel(&State{Context: parent})
	defer stop()
	cancel()
	<-child.Done()
	if child.Err() != context.Canceled {
		t.Errorf("child.Err() = %v, want context.Canceled", child.Err())
	}
}
