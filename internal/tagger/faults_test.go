package tagger_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/tagger/tagtest"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// flow is one publish to kill: a repository prepared by setup, then c.
type flow struct {
	name  string
	setup func(t *testing.T, st *tagtest.Store, clock *tagtest.Clock)
	c     commit
}

var (
	older, newer                 = onMain("older", 1), onMain("newer", 2)
	r100, r110, r124, r130, r131 = release("r100", 3, "v1.0.0"), release("r110", 4, "v1.1.0"), release("r124", 5, "v1.2.4"), release("r130", 6, "v1.3.0"), release("r131", 7, "v1.3.1")
)

func published(cs ...commit) func(*testing.T, *tagtest.Store, *tagtest.Clock) {
	return func(t *testing.T, st *tagtest.Store, clock *tagtest.Clock) {
		publishAll(t, st, clock, linear(older, newer), cs...)
	}
}

var flows = []flow{
	{name: "first build of main", setup: published(), c: older},
	{name: "newer build of main", setup: published(older), c: newer},
	{name: "older build of main", setup: published(newer), c: older},
	{name: "first release", setup: published(), c: r100},
	{name: "higher release", setup: published(r100), c: r110},
	{name: "lower release", setup: published(r110), c: r100},
	{name: "release after a promotion", setup: func(t *testing.T, st *tagtest.Store, clock *tagtest.Clock) {
		published(r124, r130)(t, st, clock)
		if _, err := promote(t, st, clock, "latest-stable", "v1.2.4"); err != nil {
			t.Fatal(err)
		}
	}, c: r131},
	{name: "release after a run of it was killed holding its claim", setup: func(t *testing.T, st *tagtest.Store, clock *tagtest.Clock) {
		st.Inject(&tagtest.Fault{Kind: tagtest.Tag, Tag: "v1.1.0", Kill: true})
		(&job{c: r110, store: st, clock: clock, seed: 98}).run()
		st.Clear()
	}, c: r110},
}

// reference publishes f without faults and returns the artifact tags it
// leaves and the number of writes the publish itself made.
func (f flow) reference(t *testing.T) (map[string]v1.Hash, int) {
	t.Helper()
	st, clock := newWorld()
	f.setup(t, st, clock)
	before := st.Writes()
	if j := (&job{c: f.c, store: st, clock: clock, ancestry: linear(older, newer), seed: 99}).run(); j.err != nil {
		t.Fatalf("%s: %v", f.name, j.err)
	}
	return artifactTags(st), st.Writes() - before
}

// converge re-runs f on st (a new job, nothing killed) and checks that it
// ends where an uninterrupted run ends.
func (f flow) converge(t *testing.T, st *tagtest.Store, clock *tagtest.Clock, want map[string]v1.Hash) {
	t.Helper()
	st.Clear()
	j := (&job{c: f.c, store: st, clock: clock, ancestry: linear(older, newer), seed: 100}).run()
	if j.err != nil {
		t.Fatalf("the re-run failed: %v", j.err)
	}
	checkStore(t, st)
	if diff := cmp.Diff(want, artifactTags(st)); diff != "" {
		t.Errorf("tags after the re-run differ from an uninterrupted run's (-want +got):\n%s", diff)
	}
	for _, c := range liveClaims(t, st) {
		m, _ := st.Get(t.Context(), c)
		if d := m.Annotation("com.github.fleetpush.digest"); d != j.digest.String() {
			t.Errorf("claim %s for %s is live after the re-run", c, d)
		}
	}
}

// TestKillAtEveryWrite kills a publish right after each of its writes (each
// blob, manifest, signature, claim, tag), checks that the repository is
// consistent at that point (every tag on a complete, signed manifest), and
// that a re-run converges on exactly what an uninterrupted run publishes.
func TestKillAtEveryWrite(t *testing.T) {
	t.Parallel()
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			want, writes := f.reference(t)
			for k := 1; k <= writes; k++ {
				st, clock := newWorld()
				f.setup(t, st, clock)
				st.CrashAfter(k)
				j := (&job{c: f.c, store: st, clock: clock, ancestry: linear(older, newer), seed: uint64(k)}).run()
				if k < writes && !errors.Is(j.err, tagtest.ErrKilled) {
					t.Errorf("killed after write %d of %d: error %v, want the kill", k, writes, j.err)
				}
				checkStore(t, st)
				f.converge(t, st, clock, want)
				if t.Failed() {
					t.Fatalf("killed after write %d of %d", k, writes)
				}
			}
			t.Logf("%s: killed after each of its %d writes; every re-run converged", f.name, writes)
		})
	}
}

// TestPersistentFaults: a fault that does not heal fails the publish with
// an error that names it and leaves the repository consistent; a re-run
// without it converges.
func TestPersistentFaults(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		flow  flow
		fault tagtest.Fault
	}{
		{"artifact blob upload", flows[0], tagtest.Fault{Kind: tagtest.PushBlob}},
		{"artifact manifest push", flows[0], tagtest.Fault{Kind: tagtest.PushManifest}},
		{"signature tag", flows[0], tagtest.Fault{Kind: tagtest.Tag, Tag: "*.sig"}},
		{"immutable tag", flows[1], tagtest.Fault{Kind: tagtest.Tag, Tag: "main-*"}},
		{"latest", flows[1], tagtest.Fault{Kind: tagtest.Tag, Tag: "latest"}},
		{"tag list", flows[1], tagtest.Fault{Kind: tagtest.List}},
		{"reading latest", flows[1], tagtest.Fault{Kind: tagtest.Get, Tag: "latest"}},
		{"reading a digest", flows[1], tagtest.Fault{Kind: tagtest.GetDigest}},
		{"claim", flows[4], tagtest.Fault{Kind: tagtest.Tag, Tag: tags.ClaimPrefix + "*"}},
		{"claim record", flows[4], tagtest.Fault{Kind: tagtest.PushManifest, Nth: 3}},
		{"reading claims", flows[7], tagtest.Fault{Kind: tagtest.Get, Tag: tags.ClaimPrefix + "*"}},
		{"version tag", flows[4], tagtest.Fault{Kind: tagtest.Tag, Tag: "v1.1.0"}},
		{"latest-stable", flows[4], tagtest.Fault{Kind: tagtest.Tag, Tag: "latest-stable"}},
		{"reading the promotion record", flows[6], tagtest.Fault{Kind: tagtest.Get, Tag: tags.PromotionPrefix + "*"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want, _ := tt.flow.reference(t)
			st, clock := newWorld()
			tt.flow.setup(t, st, clock)
			fault := tt.fault
			fault.Times = -1
			st.Inject(&fault)
			j := (&job{c: tt.flow.c, store: st, clock: clock, ancestry: linear(older, newer), seed: 5}).run()
			if !errors.Is(j.err, tagtest.ErrInjected) {
				t.Fatalf("error %v, want the injected fault", j.err)
			}
			if fault.Hits == 0 {
				t.Fatal("the fault was never hit")
			}
			checkStore(t, st)
			// A version write that failed keeps its claim (the write may still
			// land); the re-run is the same content, so the claim does not
			// stand in its way.
			tt.flow.converge(t, st, clock, want)
		})
	}
}

// TestLostAnswerOfVersionWrite: the registry applies a version write but the
// answer is lost (possibly landing late). The writer fails and keeps its
// claim, so no other content can take the version until the claim lapses,
// by which time the write has landed or is lost for good.
func TestLostAnswerOfVersionWrite(t *testing.T) {
	t.Parallel()
	for _, lands := range []bool{true, false} {
		t.Run(fmt.Sprintf("lands %v", lands), func(t *testing.T) {
			t.Parallel()
			st, clock := newWorld()
			a, b := release("a", 1, "v2.0.0"), release("b", 2, "v2.0.0")
			st.Inject(&tagtest.Fault{Kind: tagtest.Tag, Tag: "v2.0.0", Landing: lands, Lands: 1 << 20})
			ja := (&job{c: a, store: st, clock: clock, seed: 1}).run()
			if !errors.Is(ja.err, tagtest.ErrInjected) || !strings.Contains(ja.err.Error(), "keeps other releases of v2.0.0 out until") {
				t.Fatalf("a: %v, want the injected fault and the claim kept", ja.err)
			}
			// b, with other content, runs while a's write is in flight: it
			// waits for a's claim and gives up, writing nothing.
			jb := (&job{c: b, store: st, clock: clock, seed: 2}).run()
			if jb.err == nil || !strings.Contains(jb.err.Error(), "re-run after") {
				t.Fatalf("b: %v, want it to give up waiting for a's claim", jb.err)
			}
			for _, d := range tagWrites(st, "v2.0.0") {
				if d == jb.digest || d == b.digest(t) {
					t.Fatal("b wrote v2.0.0 while a's write was in flight")
				}
			}
			st.Flush() // a's write lands now, or never
			clock.Advance(11 * 60e9)
			jb = (&job{c: b, store: st, clock: clock, seed: 3}).run()
			if lands {
				if !errors.Is(jb.err, tags.ErrImmutable) || st.Digest("v2.0.0") != a.digest(t) {
					t.Errorf("b after the lease: %v, v2.0.0 = %s; want the immutable-version error and a's %s", jb.err, st.Digest("v2.0.0"), a.digest(t))
				}
			} else if jb.err != nil || st.Digest("v2.0.0") != b.digest(t) {
				t.Errorf("b after the lease: %v, v2.0.0 = %s; want b to release it", jb.err, st.Digest("v2.0.0"))
			}
			checkStore(t, st)
		})
	}
}

// TestKilledClaimLapses: a run killed right after claiming a version keeps
// other content out until its claim lapses, never longer; a re-run of the
// same commit is not held up at all.
func TestKilledClaimLapses(t *testing.T) {
	t.Parallel()
	st, clock := newWorld()
	a, b := release("a", 1, "v2.0.0"), release("b", 2, "v2.0.0")
	st.Inject(&tagtest.Fault{Kind: tagtest.Tag, Tag: "v2.0.0", Kill: true})
	ja := (&job{c: a, store: st, clock: clock, seed: 1}).run()
	if ja.err == nil {
		t.Fatal("a did not die")
	}
	st.Clear()
	if live := liveClaims(t, st); len(live) != 1 {
		t.Fatalf("live claims %q, want a's", live)
	}
	start := clock.Now()
	jb := (&job{c: b, store: st, clock: clock, seed: 2}).run()
	if jb.err == nil || !strings.Contains(jb.err.Error(), "when the claim lapses") {
		t.Fatalf("b while a's claim is live: %v, want it to wait and give up", jb.err)
	}
	if waited := clock.Now().Sub(start); waited < 2*60e9 || waited > 3*60e9 {
		t.Errorf("b waited %s, want about the claim wait (2m)", waited)
	}
	// A re-run of a's commit is the same content: a's claim is no obstacle.
	ja2 := (&job{c: a, store: st, clock: clock, seed: 3}).run()
	if ja2.err != nil || st.Digest("v2.0.0") != a.digest(t) {
		t.Fatalf("a's re-run: %v, v2.0.0 = %s", ja2.err, st.Digest("v2.0.0"))
	}
	// And in a second repository, b gets the version once a's claim lapses.
	st2, clock2 := newWorld()
	st2.Inject(&tagtest.Fault{Kind: tagtest.Tag, Tag: "v2.0.0", Kill: true})
	(&job{c: a, store: st2, clock: clock2, seed: 1}).run()
	st2.Clear()
	clock2.Advance(10*60e9 + 1)
	if jb := (&job{c: b, store: st2, clock: clock2, seed: 2}).run(); jb.err != nil || st2.Digest("v2.0.0") != b.digest(t) {
		t.Fatalf("b after a's claim lapsed: %v", jb.err)
	}
}
