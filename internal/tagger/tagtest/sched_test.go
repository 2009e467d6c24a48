package tagtest_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/fleetpush/fleetpush/internal/tagger/tagtest"
)

// interleave runs two runs of three reads each under pick and returns the
// order in which their steps reached the store.
func interleave(pick tagtest.Picker) []string {
	st := tagtest.NewStore("test")
	s := tagtest.NewSched(pick)
	s.Run(2, func(id int) {
		v := s.Store(id, st)
		for k := range 3 {
			_, _ = v.Get(context.Background(), fmt.Sprintf("run%d-step%d", id, k))
		}
	})
	var out []string
	for _, op := range st.Log() {
		out = append(out, op.Tag)
	}
	return out
}

func TestSchedReplays(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for seed := range uint64(20) {
		a, b := interleave(tagtest.Random(seed)), interleave(tagtest.Random(seed))
		if !slices.Equal(a, b) {
			t.Fatalf("seed %d gave %q, then %q", seed, a, b)
		}
		seen[fmt.Sprint(a)] = true
	}
	if len(seen) < 5 {
		t.Errorf("20 seeds gave %d interleavings, want more variety", len(seen))
	}
}

func TestSchedScript(t *testing.T) {
	t.Parallel()
	got := interleave(tagtest.Script(1, 0, 0, 1))
	want := []string{"run1-step0", "run0-step0", "run0-step1", "run1-step1", "run0-step2", "run1-step2"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
