package tagger_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetpush/fleetpush/internal/tagger"
	"github.com/fleetpush/fleetpush/internal/tagger/tagtest"
	"github.com/fleetpush/fleetpush/internal/tags"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	older, newer := onMain("older", 1), onMain("newer", 2)
	anc := linear(older, newer)
	v120, v130 := release("r120", 3, "v1.2.0"), release("r130", 4, "v1.3.0")
	// sameAsOlder is a later commit whose artifact holds the older content.
	sameAsOlder := onMain("revert", 3)
	sameAsOlder.content = older.content
	for _, tt := range []struct {
		name    string
		before  []commit // published first, in order
		promote string   // then promoted to latest-stable
		c       commit
		dryRun  bool
		faults  []*tagtest.Fault
		want    []tagger.Move
		// existing is the tag the plan reuses; "-" for none, "" for an
		// untagged leftover digest.
		existing string
		wantErr  string // in the error, which then wraps tags.ErrImmutable
		notErr   string // not in the error
		notes    int
	}{
		{
			name: "first build of main", c: older, existing: "-",
			want: []tagger.Move{{Tag: "main-" + older.sha[:8], Action: tagger.ActionWrite}, {Tag: "latest", Action: tagger.ActionMove}},
		},
		{
			name: "newer commit moves latest", before: []commit{older}, c: newer, existing: "-",
			want: []tagger.Move{{Tag: "main-" + newer.sha[:8], Action: tagger.ActionWrite}, {Tag: "latest", Action: tagger.ActionMove, From: "older"}},
		},
		{
			name: "older commit leaves latest, naming the newer", before: []commit{newer}, c: older, existing: "-",
			want: []tagger.Move{
				{Tag: "main-" + older.sha[:8], Action: tagger.ActionWrite},
				{Tag: "latest", Action: tagger.ActionLeave, From: "newer", Reason: "it holds a newer commit (" + newer.sha[:8] + ") than this run's (" + older.sha[:8] + ")"},
			},
		},
		{
			name: "re-run of the same commit reuses its digest", before: []commit{older}, c: older, existing: "main-" + older.sha[:8],
			want: []tagger.Move{
				{Tag: "main-" + older.sha[:8], Action: tagger.ActionPresent, From: "older", Reason: "it already holds this content"},
				{Tag: "latest", Action: tagger.ActionPresent, From: "older"},
			},
		},
		{
			name: "a new commit with the content of latest reuses latest's digest", before: []commit{older}, c: sameAsOlder, existing: "latest",
			want: []tagger.Move{{Tag: "main-" + sameAsOlder.sha[:8], Action: tagger.ActionWrite}, {Tag: "latest", Action: tagger.ActionPresent, From: "older"}},
		},
		{
			name: "branch build whose content changed without a commit", before: []commit{older}, c: func() commit { c := older; c.content = "edited"; return c }(),
			wantErr: "this build of the same commit gives", notErr: "release",
		},
		{
			name: "release over a different release of the same version", before: []commit{v120}, c: func() commit { c := v120; c.content = "other"; return c }(),
			wantErr: "release the change as a new version, such as v1.2.1",
		},
		{
			name: "first release moves latest-stable", c: v120, existing: "-",
			want: []tagger.Move{{Tag: "v1.2.0", Action: tagger.ActionWrite}, {Tag: "latest-stable", Action: tagger.ActionMove}},
		},
		{
			name: "lower release leaves latest-stable", before: []commit{v130}, c: v120, existing: "-",
			want: []tagger.Move{{Tag: "v1.2.0", Action: tagger.ActionWrite}, {Tag: "latest-stable", Action: tagger.ActionLeave, From: "r130", Reason: "v1.3.0 is higher than v1.2.0"}},
		},
		{
			name: "re-run of a release rolled back over is held", before: []commit{v120, v130}, promote: "v1.2.0", c: v130, existing: "v1.3.0",
			want: []tagger.Move{
				{Tag: "v1.3.0", Action: tagger.ActionPresent, From: "r130", Reason: "it already holds this content"},
				{Tag: "latest-stable", Action: tagger.ActionHold, From: "r120", Reason: "a promotion on 2025-03-01 moved latest-stable back to v1.2.0 over v1.3.0; release a new version to move it, or promote v1.3.0"},
			},
		},
		{
			name: "dry run plans around what it cannot read", before: []commit{older}, c: newer, dryRun: true, existing: "-",
			faults: []*tagtest.Fault{{Kind: tagtest.Get, Times: -1}},
			want:   []tagger.Move{{Tag: "main-" + newer.sha[:8], Action: tagger.ActionWrite}, {Tag: "latest", Action: tagger.ActionMove}},
			notes:  2,
		},
	} {
		// Plan's reads one after another (as the interleaving tests run them) and side by
		// side (as the app makes them) must plan the same.
		for _, mode := range []string{"", "/parallel reads"} {
			t.Run(tt.name+mode, func(t *testing.T) {
				t.Parallel()
				var opts []tagger.Option
				if mode != "" {
					opts = append(opts, tagger.WithParallelReads())
				}
				st, clock := newWorld()
				publishAll(t, st, clock, anc, tt.before...)
				if tt.promote != "" {
					if _, err := promote(t, st, clock, "latest-stable", tt.promote); err != nil {
						t.Fatal(err)
					}
				}
				// A copy of each fault per subtest: a store counts its hits in the fault, and
				// the two modes run in parallel.
				for _, f := range tt.faults {
					f := *f
					st.Inject(&f)
				}
				writes := st.Writes()
				j := (&job{c: tt.c, store: st, clock: clock, ancestry: anc, dryRun: true, opts: opts}).run()
				if st.Writes() != writes {
					t.Errorf("Plan wrote %d times to the store, want none", st.Writes()-writes)
				}
				if tt.wantErr != "" {
					if j.err == nil || !strings.Contains(j.err.Error(), tt.wantErr) || !errors.Is(j.err, tags.ErrImmutable) {
						t.Fatalf("error %v, want one wrapping tags.ErrImmutable with %q", j.err, tt.wantErr)
					}
					if tt.notErr != "" && strings.Contains(j.err.Error(), tt.notErr) {
						t.Errorf("error %q speaks of %q", j.err, tt.notErr)
					}
					return
				}
				if j.err != nil {
					t.Fatal(j.err)
				}
				p := j.plan
				// From names the commit whose build the tag held.
				names := map[string]string{}
				for _, c := range append(tt.before, tt.c) {
					names[c.digest(t).String()] = strings.TrimPrefix(c.content, "content of ")
				}
				for i := range p.Moves {
					mv := &p.Moves[i]
					switch leaves := mv.Action == tagger.ActionLeave || mv.Action == tagger.ActionHold; {
					case leaves && (!strings.HasPrefix(mv.Skipped, mv.Tag+" ") || !strings.HasSuffix(mv.Skipped, ": "+mv.Reason)):
						t.Errorf("%s: Skipped %q, want the tag and the reason", mv.Tag, mv.Skipped)
					case !leaves && mv.Skipped != "":
						t.Errorf("%s: %s, but Skipped says %q", mv.Tag, mv.Action, mv.Skipped)
					}
					mv.Skipped = ""
					if n, ok := names[p.Moves[i].From]; ok {
						p.Moves[i].From = n
					}
				}
				if diff := cmp.Diff(tt.want, p.Moves); diff != "" {
					t.Errorf("moves (-want +got):\n%s", diff)
				}
				switch {
				case tt.existing == "-" && p.Existing != nil:
					t.Errorf("plan reuses %s (%q), want a push", p.Existing.Digest, p.ExistingTag)
				case tt.existing != "-" && (p.Existing == nil || p.ExistingTag != tt.existing):
					t.Errorf("plan reuses %v from %q, want the manifest of %q", p.Existing, p.ExistingTag, tt.existing)
				}
				if len(p.Notes) != tt.notes {
					t.Errorf("notes %q, want %d", p.Notes, tt.notes)
				}
			})
		}
	}
}

// TestPlanFindsLeftover: a digest an earlier run pushed but never tagged is
// reused, so that signing and tagging finish it.
func TestPlanFindsLeftover(t *testing.T) {
	t.Parallel()
	st, clock := newWorld()
	c := onMain("a", 1)
	if _, err := st.Push(context.Background(), c.image()); err != nil {
		t.Fatal(err)
	}
	j := (&job{c: c, store: st, clock: clock, dryRun: true}).run()
	if j.err != nil {
		t.Fatal(j.err)
	}
	if j.plan.Existing == nil || j.plan.ExistingTag != "" || j.plan.Existing.Digest != c.digest(t) {
		t.Errorf("plan: existing %v tag %q, want the untagged %s", j.plan.Existing, j.plan.ExistingTag, c.digest(t))
	}
	if got, want := j.plan.Tags(), []string{"main-" + c.sha[:8], "latest"}; !cmp.Equal(got, want) {
		t.Errorf("Tags() = %q, want %q", got, want)
	}
}

// TestSkippedSameInPlanAndApply: a dry run and a real run report a tag left
// elsewhere in the same words.
func TestSkippedSameInPlanAndApply(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		before []commit
		c      commit
	}{
		{"latest", []commit{onMain("newer", 2)}, onMain("older", 1)},
		{"latest-stable", []commit{release("b", 2, "v1.3.0")}, release("a", 1, "v1.2.0")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, clock := newWorld()
			publishAll(t, st, clock, nil, tt.before...)
			dry := (&job{c: tt.c, store: st, clock: clock, dryRun: true}).run()
			real := (&job{c: tt.c, store: st, clock: clock}).run()
			if dry.err != nil || real.err != nil {
				t.Fatal(dry.err, real.err)
			}
			var planned []string
			for _, mv := range dry.plan.Moves {
				if mv.Skipped != "" {
					planned = append(planned, mv.Skipped)
				}
			}
			if len(planned) != 1 || !cmp.Equal(planned, real.out.Skipped) {
				t.Errorf("plan says %q, apply %q", planned, real.out.Skipped)
			}
		})
	}
}
