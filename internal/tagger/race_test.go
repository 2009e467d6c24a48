package tagger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/tagger"
	"github.com/fleetpush/fleetpush/internal/tagger/tagtest"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// raceIterations is how often each race runs, each time with another
// interleaving and in both orders of the runs.
const raceIterations = 50

// pickers are the kinds of interleavings a race is run with: one step of
// each run at random, and long stretches of one run (one job far ahead).
var pickers = []struct {
	name string
	new  func(seed uint64) tagtest.Picker
}{
	{"random", tagtest.Random},
	{"sticky", func(seed uint64) tagtest.Picker { return tagtest.Sticky(seed, 0.85) }},
}

// race runs the jobs at once against st under a scheduler that picks with
// pick: each job gets its own view of the store and of the shared clock.
func race(st *tagtest.Store, clock *tagtest.Clock, pick tagtest.Picker, jobs ...*job) {
	s := tagtest.NewSched(pick)
	for i, j := range jobs {
		j.store, j.clock = s.Store(i, st), s.Clock(i, clock)
	}
	s.Run(len(jobs), func(id int) { jobs[id].run() })
}

// order is how an interleaving orders the runs: swap says whether run 0 or
// run 1 is the first job; side says, for the first and the second job, whether
// its side reads (those WithParallelReads makes beside another, and Begin's
// reads ahead of Apply) come before the other read instead of after it: the
// second order parallel reads may land in.
type order struct {
	swap bool
	side [2]bool
}

// apply gives the jobs, in the order given, their read orders.
func (o order) apply(jobs ...*job) {
	for i, j := range jobs {
		if i < len(o.side) && o.side[i] {
			j.opts = append(j.opts, tagger.WithSideReadsFirst())
		}
	}
}

// orders are the orders each interleaving is run in: both orders of the
// runs, with each job's reads in either order (both, neither, or one).
var orders = []order{
	{}, {swap: true},
	{side: [2]bool{true, true}}, {swap: true, side: [2]bool{true, true}},
	{side: [2]bool{true, false}}, {swap: true, side: [2]bool{true, false}},
}

// eachInterleaving calls fn for raceIterations seeds of every picker, in
// every order, each in a subtest.
func eachInterleaving(t *testing.T, fn func(t *testing.T, pick tagtest.Picker, ord order)) {
	for _, p := range pickers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			for i := range raceIterations {
				for _, o := range orders {
					fn(t, p.new(uint64(i)), o)
					if t.Failed() {
						t.Fatalf("iteration %d (%+v)", i, o)
					}
				}
			}
		})
	}
}

// sideFirstBits gives job i the side-reads-first order when bit i of bits is
// set: for the races of more than two runs, each iteration its own mix.
func sideFirstBits(bits uint64, jobs ...*job) {
	for i, j := range jobs {
		if bits>>i&1 == 1 {
			j.opts = append(j.opts, tagger.WithSideReadsFirst())
		}
	}
}

func ordered(o order, a, b *job) []*job {
	o.apply(a, b)
	if o.swap {
		return []*job{b, a}
	}
	return []*job{a, b}
}

// tagWrites are the digests every write of tag carried, in order.
func tagWrites(st *tagtest.Store, tag string) []v1.Hash {
	var out []v1.Hash
	for _, op := range st.Log() {
		if op.Kind == tagtest.Tag && op.Tag == tag {
			out = append(out, op.Digest)
		}
	}
	return out
}

// TestRaceSameVersion is the release race of two commits with different
// content under one version: exactly one wins, the loser fails with the
// immutable-version error, and the winner's tag is never written with other
// content, not even for a moment.
func TestRaceSameVersion(t *testing.T) {
	t.Parallel()
	eachInterleaving(t, func(t *testing.T, pick tagtest.Picker, ord order) {
		st, clock := newWorld()
		a := &job{c: release("a", 1, "v2.0.0"), seed: 1}
		b := &job{c: release("b", 2, "v2.0.0"), seed: 2}
		race(st, clock, pick, ordered(ord, a, b)...)
		var won, lost []*job
		for _, j := range []*job{a, b} {
			switch {
			case j.err == nil:
				won = append(won, j)
			case errors.Is(j.err, tags.ErrImmutable) && strings.Contains(j.err.Error(), "release the change as a new version"):
				lost = append(lost, j)
			default:
				t.Errorf("%s: %v, want a win or the immutable-version error", j.c.content, j.err)
			}
		}
		if len(won) != 1 || len(lost) != 1 {
			t.Fatalf("%d won and %d lost, want exactly one each (a: %v, b: %v)", len(won), len(lost), a.err, b.err)
		}
		w := won[0]
		if got := st.Digest("v2.0.0"); got != w.digest {
			t.Errorf("v2.0.0 = %s, want the winner's %s", got, w.digest)
		}
		for _, d := range tagWrites(st, "v2.0.0") {
			if d != w.digest {
				t.Errorf("v2.0.0 was written with %s, the loser's, besides the winner's %s", d, w.digest)
			}
		}
		if got := st.Digest("latest-stable"); got != w.digest {
			t.Errorf("latest-stable = %s, want the winner's %s", got, w.digest)
		}
		if live := liveClaims(t, st); len(live) > 0 {
			t.Errorf("claims left live: %q", live)
		}
		checkStore(t, st)
	})
}

// TestRaceSameVersionThree: three writers, two of them the same commit (a
// re-run overlapping the first run): the two of one content both succeed or
// both fail, and the version holds one content.
func TestRaceSameVersionThree(t *testing.T) {
	t.Parallel()
	for i := range raceIterations {
		st, clock := newWorld()
		a1 := &job{c: release("a", 1, "v2.0.0"), seed: 1}
		a2 := &job{c: release("a", 1, "v2.0.0"), seed: 2}
		b := &job{c: release("b", 2, "v2.0.0"), seed: 3}
		sideFirstBits(uint64(i), a1, b, a2)
		race(st, clock, tagtest.Random(uint64(i)), a1, b, a2)
		if (a1.err == nil) != (a2.err == nil) {
			t.Fatalf("iteration %d: the two runs of one commit disagree: %v and %v", i, a1.err, a2.err)
		}
		if (a1.err == nil) == (b.err == nil) {
			t.Fatalf("iteration %d: a %v, b %v: want exactly one content to win", i, a1.err, b.err)
		}
		w := b
		if a1.err == nil {
			w = a1
		}
		for _, d := range tagWrites(st, "v2.0.0") {
			if d != w.digest {
				t.Fatalf("iteration %d: v2.0.0 was written with %s besides the winner's %s", i, d, w.digest)
			}
		}
		checkStore(t, st)
	}
}

// naiveRelease is the protocol the claims replace: read, write if absent,
// read back.
func naiveRelease(ctx context.Context, st registry.Store, version string, m *registry.Manifest) error {
	cur, err := st.Get(ctx, version)
	if err != nil {
		return err
	}
	if cur != nil && cur.Digest != m.Digest {
		return tags.ErrImmutable
	}
	if err := st.Tag(ctx, m, version); err != nil {
		return err
	}
	after, err := st.Get(ctx, version)
	if err != nil {
		return err
	}
	if after == nil || after.Digest != m.Digest {
		return tags.ErrImmutable
	}
	return nil
}

// TestNaiveReleaseLosesUnderTheScheduler shows that the interleavings above
// find the failure the claims prevent: with read-after-write alone, some
// interleaving lets both writers win (the second write lands after the
// first writer checked its own).
func TestNaiveReleaseLosesUnderTheScheduler(t *testing.T) {
	t.Parallel()
	both := 0
	for i := range raceIterations {
		st, _ := newWorld()
		var ms [2]*registry.Manifest
		for k, c := range []commit{release("a", 1, "v2.0.0"), release("b", 2, "v2.0.0")} {
			m, err := st.Push(context.Background(), c.image())
			if err != nil {
				t.Fatal(err)
			}
			ms[k] = m
		}
		var errs [2]error
		s := tagtest.NewSched(tagtest.Random(uint64(i)))
		s.Run(2, func(id int) { errs[id] = naiveRelease(context.Background(), s.Store(id, st), "v2.0.0", ms[id]) })
		if errs[0] == nil && errs[1] == nil {
			both++
		}
	}
	if both == 0 {
		t.Fatalf("in %d interleavings read-after-write never let both writers win: the scheduler does not find the race", raceIterations)
	}
	t.Logf("read-after-write let both writers win in %d of %d interleavings", both, raceIterations)
}

// TestRaceLatest publishes an older and a newer commit of main at once:
// latest ends at the newer commit, whether ancestry is known or only the
// commit times decide, and each build keeps its own immutable tag.
func TestRaceLatest(t *testing.T) {
	t.Parallel()
	older, newer := onMain("older", 1), onMain("newer", 2)
	for _, known := range []bool{true, false} {
		t.Run(fmt.Sprintf("ancestry known %v", known), func(t *testing.T) {
			t.Parallel()
			anc := linear(older, newer)
			if !known {
				anc = nil
			}
			eachInterleaving(t, func(t *testing.T, pick tagtest.Picker, ord order) {
				st, clock := newWorld()
				o := &job{c: older, seed: 1, ancestry: anc}
				n := &job{c: newer, seed: 2, ancestry: anc}
				race(st, clock, pick, ordered(ord, o, n)...)
				for _, j := range []*job{o, n} {
					if j.err != nil {
						t.Fatalf("%s: %v", j.c.content, j.err)
					}
					if got := st.Digest("main-" + j.c.sha[:8]); got != j.digest {
						t.Errorf("main-%s = %s, want %s", j.c.sha[:8], got, j.digest)
					}
				}
				if got := st.Digest("latest"); got != n.digest {
					t.Errorf("latest = %s, want the newer commit's %s (older %s)\nolder: %q %q\nnewer: %q %q", got, n.digest, o.digest, o.out.Skipped, o.logs, n.out.Skipped, n.logs)
				}
				checkStore(t, st)
			})
		})
	}
}

// TestRaceSameCommit: two jobs of the same commit at once (a re-run
// overlapping the first run) agree on one digest and leave both tags on it.
func TestRaceSameCommit(t *testing.T) {
	t.Parallel()
	c := onMain("a", 1)
	eachInterleaving(t, func(t *testing.T, pick tagtest.Picker, ord order) {
		st, clock := newWorld()
		j1, j2 := &job{c: c, seed: 1}, &job{c: c, seed: 2}
		race(st, clock, pick, ordered(ord, j1, j2)...)
		if j1.err != nil || j2.err != nil {
			t.Fatalf("errors: %v, %v", j1.err, j2.err)
		}
		if j1.digest != j2.digest {
			t.Errorf("the two jobs published %s and %s", j1.digest, j2.digest)
		}
		for _, tag := range []string{"latest", "main-" + c.sha[:8]} {
			if got := st.Digest(tag); got != j1.digest {
				t.Errorf("%s = %s, want %s", tag, got, j1.digest)
			}
		}
		checkStore(t, st)
	})
}

// TestRaceReleases releases v1.1.0 and v1.2.0 at once: latest-stable ends
// at v1.2.0, neither version is ever overwritten, also when both releases
// run again at once.
func TestRaceReleases(t *testing.T) {
	t.Parallel()
	r110, r120 := release("a", 1, "v1.1.0"), release("b", 2, "v1.2.0")
	eachInterleaving(t, func(t *testing.T, pick tagtest.Picker, ord order) {
		st, clock := newWorld()
		var v110, v120 v1.Hash
		for round := range 2 {
			o, n := &job{c: r110, seed: uint64(1 + 2*round)}, &job{c: r120, seed: uint64(2 + 2*round)}
			race(st, clock, pick, ordered(ord, o, n)...)
			if o.err != nil || n.err != nil {
				t.Fatalf("round %d: %v, %v", round, o.err, n.err)
			}
			if round == 0 {
				v110, v120 = o.digest, n.digest
			} else if o.digest != v110 || n.digest != v120 {
				t.Errorf("re-releases published %s and %s, want %s and %s", o.digest, n.digest, v110, v120)
			}
			if got := st.Digest("v1.1.0"); got != v110 {
				t.Errorf("round %d: v1.1.0 = %s, want %s", round, got, v110)
			}
			if got := st.Digest("v1.2.0"); got != v120 {
				t.Errorf("round %d: v1.2.0 = %s, want %s", round, got, v120)
			}
			if got := st.Digest("latest-stable"); got != v120 {
				t.Errorf("round %d: latest-stable = %s, want v1.2.0 %s\nv1.1.0: %q\nv1.2.0: %q", round, got, v120, o.out.Skipped, n.out.Skipped)
			}
		}
		checkStore(t, st)
	})
}

// TestRaceThreeReleases: three releases at once; latest-stable ends at the
// highest.
func TestRaceThreeReleases(t *testing.T) {
	t.Parallel()
	for i := range raceIterations {
		st, clock := newWorld()
		jobs := []*job{
			{c: release("a", 1, "v1.1.0"), seed: 1},
			{c: release("c", 3, "v1.3.0"), seed: 3},
			{c: release("b", 2, "v1.2.0"), seed: 2},
		}
		sideFirstBits(uint64(i), jobs...)
		race(st, clock, tagtest.Random(uint64(i)), jobs...)
		for _, j := range jobs {
			if j.err != nil {
				t.Fatalf("iteration %d: %s: %v", i, j.c.ref.Name, j.err)
			}
		}
		if got := st.Digest("latest-stable"); got != jobs[1].digest {
			t.Fatalf("iteration %d: latest-stable = %s, want v1.3.0 %s", i, got, jobs[1].digest)
		}
	}
}

// TestRacePromoteAndRerun: a promote back to v1.2.4 at the same time as a
// re-run of the v1.3.0 release it rolls back over: latest-stable ends at
// v1.2.4 in every interleaving. The promote may fail and ask for a re-run
// (the release moved the tag under it, then handed it back).
func TestRacePromoteAndRerun(t *testing.T) {
	t.Parallel()
	r124, r130 := release("a", 1, "v1.2.4"), release("b", 2, "v1.3.0")
	eachInterleaving(t, func(t *testing.T, pick tagtest.Picker, ord order) {
		st, clock := newWorld()
		publishAll(t, st, clock, nil, r124, r130)
		want := st.Digest("v1.2.4")
		rerun := &job{c: r130, seed: 7}
		ord.apply(rerun)
		var perr error
		s := tagtest.NewSched(pick)
		rerun.store, rerun.clock = s.Store(0, st), s.Clock(0, clock)
		pid := 1
		if ord.swap {
			rerun.store, rerun.clock = s.Store(1, st), s.Clock(1, clock)
			pid = 0
		}
		s.Run(2, func(id int) {
			if id == pid {
				_, perr = promoteErr(s.Store(id, st), s.Clock(id, clock), "latest-stable", "v1.2.4")
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
		if got := st.Digest("latest-stable"); got != want {
			t.Errorf("latest-stable = %s, want v1.2.4 %s (promote: %v; re-run: %q)", got, want, perr, rerun.out.Moves)
		}
	})
}
