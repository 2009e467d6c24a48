package app

import (
	"context"
	"testing"
)

// TestStageGateTryEnter: tryEnter takes a free slot at once and says so, and never waits for a
// taken one, so that a component whose early tag reads would go stale while it waits for the
// registry stage can tell, drop them and read afresh once it is in (apply).
func TestStageGateTryEnter(t *testing.T) {
	t.Parallel()
	g := newStageGate(1)
	rel, ok := g.tryEnter()
	if !ok {
		t.Fatal("tryEnter on a free gate: not entered")
	}
	if _, ok := g.tryEnter(); ok {
		t.Fatal("tryEnter on a full gate: entered")
	}
	rel()
	rel() // a release may be called more than once
	rel2, ok := g.tryEnter()
	if !ok {
		t.Fatal("tryEnter after the release: not entered")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.enter(ctx); err == nil {
		t.Fatal("enter on a full gate with a cancelled context: entered")
	}
	rel2()
	if _, ok := (*stageGate)(nil).tryEnter(); !ok {
		t.Fatal("tryEnter on no gate: not entered")
	}
}
