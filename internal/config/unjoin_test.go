package config_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/fleetpush/fleetpush/internal/config"
)

func TestUnjoin(t *testing.T) {
	t.Parallel()
	a, b, c := errors.New("a"), errors.New("b"), errors.New("c")
	tree := errors.Join(a, fmt.Errorf("wrapped: %w", errors.Join(b, c)), nil)
	got := config.Unjoin(tree)
	if len(got) != 2 || got[0] != a || got[1].Error() != "wrapped: b\nc" {
		t.Errorf("Unjoin = %q, want [a, wrapped: b c]: a wrapped join is one problem", got)
	}
	if got := config.Unjoin(errors.Join(a, errors.Join(b, c))); len(got) != 3 {
		t.Errorf("Unjoin of nested joins = %q, want 3 leaves", got)
	}
	if got := config.Unjoin(nil); got != nil {
		t.Errorf("Unjoin(nil) = %q, want none", got)
	}
}
