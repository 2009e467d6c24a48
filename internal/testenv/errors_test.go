package testenv

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrors(t *testing.T) {
	t.Parallel()
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	tree := errors.Join(a, fmt.Errorf("wrapped: %w", errors.Join(b, c)), nil)
	got := Errors(tree)
	if len(got) != 2 || got[0] != a || got[1].Error() != "wrapped: b\nc" {
		t.Errorf("Errors = %q, want [a, wrapped: b c]: a wrapped join is one problem", got)
	}
	if got := Errors(errors.Join(a, errors.Join(b, c))); len(got) != 3 {
		t.Errorf("Errors of nested joins = %q, want 3 leaves", got)
	}
	if got := Errors(nil); got != nil {
		t.Errorf("Errors(nil) = %q, want none", got)
	}
}
