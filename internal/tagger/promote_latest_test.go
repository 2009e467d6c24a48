package tagger_test

import (
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/tagger"
	"github.com/fleetpush/fleetpush/internal/tagger/tagtest"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// TestLatestPromotionIsRespected: promote points latest (or a custom
// latest-tag) at a release, a rollback from the newest main build. Then each
// step publishes or promotes and says where latest must be. The decision: a
// rollback of latest holds until a commit newer than every commit it rolled
// back over is published (by ancestry, else commit time): re-runs of the
// commit rolled back from, of older commits and of the promoted commit leave
// latest alone; the next push moves it on as usual.
func TestLatestPromotionIsRespected(t *testing.T) {
	t.Parallel()
	// a ← b ← c ← d ← e on main; v1.0.0 is released from a, v0.9.0 from z
	// (before a), v2.0.0 from e before e is pushed to main. Every commit is
	// older than the promotions (the fake clock runs an hour ahead of them).
	z, a, b, c, d, e := onMain("z", 0), onMain("a", 1), onMain("b", 2), onMain("c", 3), onMain("d", 4), onMain("e", 5)
	rel := func(m commit, version string) commit {
		m.ref = tags.Ref{Kind: tags.Tag, Name: "frontend/" + version}
		return m
	}
	v090, v100, v200 := rel(z, "v0.9.0"), rel(a, "v1.0.0"), rel(e, "v2.0.0")
	type step struct {
		name    string
		publish commit // or
		promote string
		kill    string // kill the publish before writing this tag, then re-run it
		latest  string // the tag whose digest latest must hold after the step
		action  tagger.Action
	}
	for _, tt := range []struct {
		name    string
		latest  string // the latest-tag input; "" for latest
		unknown bool   // ancestry unknown (a shallow clone): commit times decide
		steps   []step
	}{
		{name: "re-run of the commit rolled back from holds", steps: []step{
			{name: "re-run c", publish: c, latest: "v1.0.0", action: tagger.ActionHold},
			{name: "and again", publish: c, latest: "v1.0.0", action: tagger.ActionHold},
		}},
		{name: "re-runs of older commits hold", steps: []step{
			{name: "re-run b", publish: b, latest: "v1.0.0", action: tagger.ActionHold},
			{name: "re-run a, the promoted commit", publish: a, latest: "v1.0.0", action: tagger.ActionHold},
		}},
		{name: "a newer commit moves it on, then the rolled-back one is older", steps: []step{
			{name: "push d", publish: d, latest: "main-" + d.sha[:8], action: tagger.ActionMove},
			{name: "re-run c", publish: c, latest: "main-" + d.sha[:8], action: tagger.ActionLeave},
		}},
		{name: "a newer commit that died before latest heals", steps: []step{
			{name: "d dies before latest", publish: d, kill: "latest", latest: "main-" + d.sha[:8], action: tagger.ActionMove},
		}},
		{name: "a second rollback holds what the first held", steps: []step{
			{name: "release v0.9.0", publish: v090, latest: "v1.0.0"},
			{name: "promote v0.9.0", promote: "v0.9.0", latest: "v0.9.0"},
			{name: "re-run c", publish: c, latest: "v0.9.0", action: tagger.ActionHold},
			{name: "re-run a", publish: a, latest: "v0.9.0", action: tagger.ActionHold},
			{name: "push d", publish: d, latest: "main-" + d.sha[:8], action: tagger.ActionMove},
		}},
		{name: "a promotion forward holds the commits below it", steps: []step{
			{name: "release v2.0.0 from e", publish: v200, latest: "v1.0.0"},
			{name: "promote v2.0.0", promote: "v2.0.0", latest: "v2.0.0"},
			{name: "push d", publish: d, latest: "v2.0.0", action: tagger.ActionLeave},
			{name: "push e, the promoted commit: same content, its digest reused", publish: e, latest: "v2.0.0", action: tagger.ActionPresent},
		}},
		{name: "promoting back to the newest build lifts the hold", steps: []step{
			{name: "push d", publish: d, latest: "main-" + d.sha[:8], action: tagger.ActionMove},
			{name: "promote v1.0.0 again", promote: "v1.0.0", latest: "v1.0.0"},
			{name: "re-run d, rolled back over now", publish: d, latest: "v1.0.0", action: tagger.ActionHold},
			{name: "push e", publish: e, latest: "main-" + e.sha[:8], action: tagger.ActionMove},
		}},
		{name: "commit times decide without ancestry", unknown: true, steps: []step{
			{name: "re-run c", publish: c, latest: "v1.0.0", action: tagger.ActionHold},
			{name: "re-run b", publish: b, latest: "v1.0.0", action: tagger.ActionHold},
			{name: "push d", publish: d, latest: "main-" + d.sha[:8], action: tagger.ActionMove},
		}},
		{name: "a custom latest-tag", latest: "edge", steps: []step{
			{name: "re-run c", publish: c, latest: "v1.0.0", action: tagger.ActionHold},
			{name: "push d", publish: d, latest: "main-" + d.sha[:8], action: tagger.ActionMove},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			channel := tt.latest
			if channel == "" {
				channel = "latest"
			}
			pol := tags.Policy{LatestTag: tt.latest}
			anc := linear(z, a, b, c, d, e)
			if tt.unknown {
				anc = nil
			}
			st, clock := newWorld()
			seed := uint64(0)
			run := func(cm commit) *job {
				seed++
				return (&job{c: cm, store: st, clock: clock, seed: seed, ancestry: anc, policy: pol}).run()
			}
			for _, cm := range []commit{a, b, c, v100} {
				if j := run(cm); j.err != nil {
					t.Fatalf("publishing %s: %v", cm.ref.Name, j.err)
				}
			}
			if got := st.Digest(channel); got != st.Digest("main-"+c.sha[:8]) {
				t.Fatalf("%s before the promotion = %s, want c's build", channel, got)
			}
			if _, err := promote(t, st, clock, channel, "v1.0.0"); err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.steps {
				switch {
				case s.promote != "":
					if _, err := promote(t, st, clock, channel, s.promote); err != nil {
						t.Fatalf("%s: %v", s.name, err)
					}
				case s.kill != "":
					kill := s.kill
					if kill == "latest" {
						kill = channel
					}
					st.Inject(&tagtest.Fault{Kind: tagtest.Tag, Tag: kill, Kill: true})
					if j := run(s.publish); !errors.Is(j.err, tagtest.ErrKilled) {
						t.Fatalf("%s: %v, want it killed", s.name, j.err)
					}
					st.Clear()
					fallthrough
				default:
					j := run(s.publish)
					if j.err != nil {
						t.Fatalf("%s: %v", s.name, j.err)
					}
					if s.action != "" {
						got := j.out.Moves[len(j.out.Moves)-1]
						if got.Tag != channel || got.Action != s.action {
							t.Errorf("%s: %v, want %s: %s", s.name, got, channel, s.action)
						}
						// The plan said the same before anything was written.
						if pm := j.plan.Moves[len(j.plan.Moves)-1]; pm.Action != s.action {
							t.Errorf("%s: planned %v, want %s", s.name, pm, s.action)
						}
					}
					if s.action == tagger.ActionHold && (len(j.out.Skipped) != 1 || !strings.Contains(j.out.Skipped[0], "promotion")) {
						t.Errorf("%s: skipped %q, want the promotion named", s.name, j.out.Skipped)
					}
				}
				if got, want := st.Digest(channel), st.Digest(s.latest); got != want {
					t.Fatalf("%s: %s = %s, want %s (%s)", s.name, channel, got, s.latest, want)
				}
			}
			checkStore(t, st)
		})
	}
}

// TestRacePromoteLatestAndRerun: a promote of latest back to v1.0.0 at the
// same time as a re-run of the main build it rolls back from: latest ends at
// v1.0.0 in every interleaving. The promote may fail and ask for a re-run
// (the re-run moved the tag under it, then handed it back).
func TestRacePromoteLatestAndRerun(t *testing.T) {
	t.Parallel()
	a, c := onMain("a", 1), onMain("c", 3)
	v100 := a
	v100.ref = tags.Ref{Kind: tags.Tag, Name: "frontend/v1.0.0"}
	eachInterleaving(t, func(t *testing.T, pick tagtest.Picker, ord order) {
		st, clock := newWorld()
		publishAll(t, st, clock, linear(a, c), a, c, v100)
		want := st.Digest("v1.0.0")
		rerun := &job{c: c, seed: 7, ancestry: linear(a, c)}
		ord.apply(rerun)
		var perr error
		s := tagtest.NewSched(pick)
		rid, pid := 0, 1
		if ord.swap {
			rid, pid = 1, 0
		}
		rerun.store, rerun.clock = s.Store(rid, st), s.Clock(rid, clock)
		s.Run(2, func(id int) {
			if id == pid {
				_, perr = promoteErr(s.Store(id, st), s.Clock(id, clock), "latest", "v1.0.0")
				return
			}
			rerun.run()
		})
		if rerun.err != nil {
			t.Fatalf("re-run: %v", rerun.err)
		}
		if perr != nil && !strings.Contains(perr.Error(), "re-run promote") {
			t.Fatalf("promote: %v", perr)
		}
		if got := st.Digest("latest"); got != want {
			t.Errorf("latest = %s, want v1.0.0 %s (promote: %v; re-run: %q)", got, want, perr, rerun.out.Moves)
		}
		checkStore(t, st)
	})
}

// TestCustomStableTagPromotionIsRespected: the stable tag's promotion is
// respected under any stable-tag name, as latest's is under any latest-tag.
func TestCustomStableTagPromotionIsRespected(t *testing.T) {
	t.Parallel()
	st, clock := newWorld()
	pol := tags.Policy{StableTag: "production"}
	run := func(c commit, seed uint64) *job {
		return (&job{c: c, store: st, clock: clock, seed: seed, policy: pol}).run()
	}
	for i, c := range []commit{r124, r130} {
		if j := run(c, uint64(i)); j.err != nil {
			t.Fatal(j.err)
		}
	}
	if _, err := promote(t, st, clock, "production", "v1.2.4"); err != nil {
		t.Fatal(err)
	}
	j := run(r130, 9)
	if j.err != nil {
		t.Fatal(j.err)
	}
	if got := j.out.Moves[len(j.out.Moves)-1]; got.Tag != "production" || got.Action != tagger.ActionHold {
		t.Errorf("re-run of v1.3.0: %v, want production: hold", got)
	}
	if got, want := st.Digest("production"), st.Digest("v1.2.4"); got != want {
		t.Errorf("production = %s, want v1.2.4 %s", got, want)
	}
	if st.Digest("latest-stable") != (v1.Hash{}) {
		t.Error("latest-stable was written though stable-tag is production")
	}
	checkStore(t, st)
}
