package tagger_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetpush/fleetpush/internal/tagger"
	"github.com/fleetpush/fleetpush/internal/tagger/tagtest"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// tagOps are the operations of st's log from index from on, leaving out the
// signature tags (the stand-in signer's, not the tagger's).
func tagOps(st *tagtest.Store, from int) []string {
	var out []string
	for _, op := range st.Log()[from:] {
		if !strings.HasSuffix(op.Tag, ".sig") {
			out = append(out, op.String())
		}
	}
	return out
}

// TestWarmRunReadsTwoTags: re-running a build whose tags are all in place
// reads the immutable tag and latest once each and nothing else: no tag
// list (only a run that may write latest needs one), no re-read in Apply
// (a run that writes nothing is complete as of its plan).
func TestWarmRunReadsTwoTags(t *testing.T) {
	t.Parallel()
	st, clock := newWorld()
	c := onMain("a", 1)
	publishAll(t, st, clock, nil, c)
	from := len(st.Log())
	j := (&job{c: c, store: st, clock: clock}).run()
	if j.err != nil {
		t.Fatal(j.err)
	}
	imm := "main-" + c.sha[:8]
	if diff := cmp.Diff([]string{"get " + imm, "get latest"}, tagOps(st, from)); diff != "" {
		t.Errorf("a warm run's operations differ (-want +got):\n%s", diff)
	}
	if got, want := j.out.Tags, []string{imm, "latest"}; !cmp.Equal(got, want) {
		t.Errorf("outcome tags %q, want %q", got, want)
	}
	for _, mv := range j.out.Moves {
		if mv.Action != tagger.ActionPresent {
			t.Errorf("%s: %s, want present", mv.Tag, mv.Action)
		}
	}
}

// TestLatestMovedAfterAPlanThatFoundItInPlace: a new commit whose content
// latest already holds plans latest as present and lists nothing; an older
// build takes latest before Apply. Apply moves it back, and lists the tags
// before its write, as newerBuild needs.
func TestLatestMovedAfterAPlanThatFoundItInPlace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, clock := newWorld()
	x, older := onMain("x", 1), onMain("older", 2)
	revert := onMain("revert", 3)
	revert.content = older.content
	publishAll(t, st, clock, nil, x, older)

	pol := tags.Policy{}.WithDefaults()
	tp, err := pol.Plan(revert.ref, revert.sha, []string{"frontend"})
	if err != nil {
		t.Fatal(err)
	}
	j := &job{c: revert, store: st, clock: clock}
	tg := j.tagger()
	from := len(st.Log())
	p, err := tg.Plan(ctx, tagger.Input{Policy: pol, Plan: tp, Head: tags.Head{SHA: revert.sha, Created: revert.created},
		Digest: revert.digest(t), Layer: revert.layer().Digest, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if ops := tagOps(st, from); slices.Contains(ops, "list") {
		t.Errorf("the plan listed the tags with latest in place: %q", ops)
	}
	if p.Existing == nil || p.ExistingTag != "latest" {
		t.Fatalf("plan reuses %v from %q, want latest's manifest", p.Existing, p.ExistingTag)
	}

	xm, err := st.Get(ctx, "main-"+x.sha[:8])
	if err != nil || xm == nil {
		t.Fatal(xm, err)
	}
	if err := st.Tag(ctx, xm, "latest"); err != nil {
		t.Fatal(err)
	}
	from = len(st.Log())
	out, err := tg.Apply(ctx, p, p.Existing)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Digest("latest"), older.digest(t); got != want {
		t.Errorf("latest = %s, want %s (the content of this run's commit)", got, want)
	}
	if got, want := out.Tags, []string{"main-" + revert.sha[:8], "latest"}; !cmp.Equal(got, want) {
		t.Errorf("outcome tags %q, want %q", got, want)
	}
	ops := tagOps(st, from)
	list, write := slices.Index(ops, "list"), slices.Index(ops, "tag latest")
	if list < 0 || write < 0 || list > write {
		t.Errorf("apply's operations %q: want a list before the write of latest", ops)
	}
}
