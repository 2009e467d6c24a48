package app

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/retention"
	"github.com/fleetpush/fleetpush/internal/tagger/tagtest"
)

var pruneNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

var prunePolicy = retention.Policy{Keep: 2, KeepDays: 0, Grace: time.Hour}

// pruneFixture is an in-memory repository of main builds, each with a legacy signature tag, a
// bundle referrer and a fallback index listing it, plus latest, a release and its signature.
type pruneFixture struct {
	store  *tagtest.Store
	builds []*registry.Manifest // oldest first
}

// image is a small manifest with these annotations, and a subject when given.
func pruneImage(t testing.TB, ann map[string]string, subject *registry.Manifest) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img = mutate.Annotations(img, ann).(v1.Image)
	if subject != nil {
		img = mutate.Subject(img, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: subject.Digest, Size: int64(len(subject.Raw))}).(v1.Image)
	}
	return img
}

func pushImage(t testing.TB, st registry.Store, img v1.Image) *registry.Manifest {
	t.Helper()
	m, err := st.Push(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tagIt(t testing.TB, st registry.Store, m *registry.Manifest, tag string) {
	t.Helper()
	if err := st.Tag(context.Background(), m, tag); err != nil {
		t.Fatal(err)
	}
}

// attach gives m what publish attaches: a .sig, a bundle referrer, and the fallback index.
func attach(t testing.TB, st registry.Store, m *registry.Manifest) {
	t.Helper()
	sig := pushImage(t, st, pruneImage(t, map[string]string{"sig": m.Digest.String()}, nil))
	tagIt(t, st, sig, strings.Replace(m.Digest.String(), ":", "-", 1)+".sig")
	ref := pushImage(t, st, pruneImage(t, map[string]string{"bundle": m.Digest.String()}, m))
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex,
		Manifests: []v1.Descriptor{{MediaType: types.OCIManifestSchema1, Digest: ref.Digest, Size: int64(len(ref.Raw))}}}
	raw, _ := json.Marshal(idx)
	d, _, _ := v1.SHA256(strings.NewReader(string(raw)))
	tagIt(t, st, &registry.Manifest{Digest: d, MediaType: string(types.OCIImageIndex), Raw: raw}, strings.Replace(m.Digest.String(), ":", "-", 1))
}

func newPruneFixture(t testing.TB, n int) *pruneFixture {
	t.Helper()
	f := &pruneFixture{store: tagtest.NewStore("acme/apps/frontend")}
	for i := range n {
		created := pruneNow.Add(-time.Duration(n-i) * 24 * time.Hour).Format(time.RFC3339)
		m := pushImage(t, f.store, pruneImage(t, map[string]string{artifact.CreatedAnnotation: created, "n": fmt.Sprint(i)}, nil))
		tagIt(t, f.store, m, fmt.Sprintf("main-%08x", 0xabc00000+i))
		attach(t, f.store, m)
		f.builds = append(f.builds, m)
	}
	tagIt(t, f.store, f.builds[n-1], "latest")
	rel := pushImage(t, f.store, pruneImage(t, map[string]string{artifact.CreatedAnnotation: pruneNow.Add(-400 * 24 * time.Hour).Format(time.RFC3339), "release": "v1"}, nil))
	tagIt(t, f.store, rel, "v1.0.0")
	attach(t, f.store, rel)
	return f
}

// prune plans and applies against p.
func runPrune(t testing.TB, p registry.Pruner) *prunePlan {
	t.Helper()
	pl, err := planPrune(context.Background(), p, prunePolicy, pruneNow)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	applyPrune(context.Background(), p, pl, t.Logf)
	return pl
}

// checkNoBrokenTag asserts what prune must never leave, at any point: a tag that is not an
// attachment names a manifest the store holds, and a digest a tag names has the signature and
// fallback index it had before (wantAttached: digest → its attachment tags).
func checkNoBrokenTag(t testing.TB, st *tagtest.Store, wantAttached map[v1.Hash][]string) {
	t.Helper()
	tm := st.TagMap()
	for tag, d := range tm {
		if registry.IsAttachmentTag(tag) {
			continue
		}
		if m, _ := st.GetDigest(context.Background(), d); m == nil {
			t.Errorf("%s names %s, which is gone", tag, d)
		}
		for _, a := range wantAttached[d] {
			if _, ok := tm[a]; !ok {
				t.Errorf("%s names %s, whose %s is gone", tag, d, a)
			}
		}
	}
}

func attachedOf(st *tagtest.Store) map[v1.Hash][]string {
	tags := slices.Sorted(maps.Keys(st.TagMap()))
	out := map[v1.Hash][]string{}
	for _, d := range st.TagMap() {
		out[d] = registry.AttachmentTags(tags, d)
	}
	return out
}

// TestPruneInMemory: the builds past keep go with their signatures, referrers and fallback
// index; latest, the release and the newest builds stay whole; a second prune plans nothing.
func TestPruneInMemory(t *testing.T) {
	t.Parallel()
	f := newPruneFixture(t, 6)
	attached := attachedOf(f.store)
	pl := runPrune(t, f.store)
	if pl.report.Deleted != 4 || len(pl.report.Failures) > 0 {
		t.Fatalf("deleted %d, failures %v; want 4 and none", pl.report.Deleted, pl.report.Failures)
	}
	// Each deleted build had 3 attachments: the referrer, the .sig, the fallback index.
	if pl.report.Attachments != 12 {
		t.Errorf("attachments deleted: %d, want 12", pl.report.Attachments)
	}
	checkNoBrokenTag(t, f.store, attached)
	for _, m := range f.builds[:4] {
		if ok, _ := f.store.Exists(context.Background(), m.Digest); ok {
			t.Errorf("%s still exists", m.Digest)
		}
		if a := registry.AttachmentTags(slices.Collect(maps.Keys(f.store.TagMap())), m.Digest); len(a) > 0 {
			t.Errorf("%s left %v behind", m.Digest, a)
		}
	}
	again, err := planPrune(context.Background(), f.store, prunePolicy, pruneNow)
	if err != nil {
		t.Fatal(err)
	}
	if again.report.Deleted != 0 || len(again.report.Orphans) != 0 || again.report.TagsDeleted != 0 {
		t.Errorf("second plan: %+v, want nothing", again.report)
	}
}

// TestPruneCrash kills prune after each of its writes in turn: at no point is a tag left on a
// deleted digest or without its signatures, and the next prune ends where an uninterrupted one
// does.
func TestPruneCrash(t *testing.T) {
	t.Parallel()
	clean := newPruneFixture(t, 5)
	start := clean.store.Writes()
	runPrune(t, clean.store)
	writes := clean.store.Writes() - start
	want := clean.store.TagMap()
	if writes < 5 {
		t.Fatalf("a clean prune made %d writes", writes)
	}
	for k := 1; k <= writes; k++ {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			t.Parallel()
			f := newPruneFixture(t, 5)
			attached := attachedOf(f.store)
			pl, err := planPrune(context.Background(), f.store, prunePolicy, pruneNow)
			if err != nil {
				t.Fatal(err)
			}
			f.store.CrashAfter(k)
			applyPrune(context.Background(), f.store, pl, func(string, ...any) {})
			f.store.Clear()
			checkNoBrokenTag(t, f.store, attached)
			runPrune(t, f.store)
			if got := f.store.TagMap(); !maps.Equal(got, want) {
				t.Errorf("after a crash at write %d and a second prune:\n got %v\nwant %v", k, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
			}
		})
	}
}

// TestPruneHostileAnswers: answers that change or lie never make prune delete what a tag
// still needs.
func TestPruneHostileAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("a tag lands on a planned digest between the plan and the delete", func(t *testing.T) {
		t.Parallel()
		f := newPruneFixture(t, 5)
		attached := attachedOf(f.store)
		pl, err := planPrune(ctx, f.store, prunePolicy, pruneNow)
		if err != nil {
			t.Fatal(err)
		}
		// A channel and a new build tag, each onto a digest the plan deletes.
		tagIt(t, f.store, f.builds[0], "hotfix")
		tagIt(t, f.store, f.builds[1], "main-ffffffff")
		applyPrune(ctx, f.store, pl, t.Logf)
		checkNoBrokenTag(t, f.store, attached)
		if pl.report.Deleted != 1 || len(pl.report.Left) != 2 {
			t.Errorf("deleted %d, left %v; want 1 and the two re-tagged digests", pl.report.Deleted, pl.report.Left)
		}
	})
	t.Run("the tag list changes between reads", func(t *testing.T) {
		t.Parallel()
		f := newPruneFixture(t, 5)
		attached := attachedOf(f.store)
		// The second list (the re-read before the first deletion) shows a new tag on it.
		lister := &changingLister{Store: f.store, on: 2, fn: func() { tagIt(t, f.store, f.builds[0], "staging") }}
		runPrune(t, lister)
		checkNoBrokenTag(t, f.store, attached)
		if ok, _ := f.store.Exists(ctx, f.builds[0].Digest); !ok {
			t.Error("the digest re-tagged during the run was deleted")
		}
	})
	t.Run("a referrers index names another digest", func(t *testing.T) {
		t.Parallel()
		f := newPruneFixture(t, 5)
		attached := attachedOf(f.store)
		kept := f.builds[4]
		refs, _ := f.store.Referrers(ctx, kept.Digest)
		// The pruned build's referrers list the kept build and the kept build's referrer.
		f.store.Lie(f.builds[0].Digest, v1.Descriptor{Digest: kept.Digest})
		f.store.Lie(f.builds[0].Digest, refs[0])
		pl := runPrune(t, f.store)
		checkNoBrokenTag(t, f.store, attached)
		for _, d := range []v1.Hash{kept.Digest, refs[0].Digest} {
			if ok, _ := f.store.Exists(ctx, d); !ok {
				t.Errorf("%s, named by a lying referrers index, was deleted", d)
			}
		}
		if len(pl.report.Left) < 2 {
			t.Errorf("left %v: want both lies reported", pl.report.Left)
		}
	})
	t.Run("a signature tag points at a kept artifact", func(t *testing.T) {
		t.Parallel()
		f := newPruneFixture(t, 5)
		kept := f.builds[4]
		tagIt(t, f.store, kept, strings.Replace(f.builds[0].Digest.String(), ":", "-", 1)+".sig")
		runPrune(t, f.store)
		if ok, _ := f.store.Exists(ctx, kept.Digest); !ok {
			t.Error("a kept artifact behind a hostile .sig tag was deleted")
		}
	})
	t.Run("an orphan's subject check fails: it stays", func(t *testing.T) {
		t.Parallel()
		f := newPruneFixture(t, 3)
		orphan := f.builds[2]
		if err := f.store.DeleteManifest(ctx, orphan.Digest); err != nil {
			t.Fatal(err)
		}
		f.store.Inject(&tagtest.Fault{Kind: tagtest.Head, Times: -1})
		pl, err := planPrune(ctx, f.store, prunePolicy, pruneNow)
		if err != nil {
			t.Fatal(err)
		}
		if len(pl.report.Orphans) != 0 {
			t.Errorf("orphans planned on a failing check: %v", pl.report.Orphans)
		}
		f.store.Clear()
		pl = runPrune(t, f.store)
		if len(pl.report.Orphans) != 1 {
			t.Errorf("orphans: %v, want the deleted build's", pl.report.Orphans)
		}
		if a := registry.AttachmentTags(slices.Collect(maps.Keys(f.store.TagMap())), orphan.Digest); len(a) > 0 {
			t.Errorf("orphan attachments left: %v", a)
		}
	})
}

// changingLister runs fn before its on-th tag list (1-based).
type changingLister struct {
	*tagtest.Store
	on, n int
	fn    func()
}

func (c *changingLister) Tags(ctx context.Context) ([]string, error) {
	if c.n++; c.n == c.on {
		c.fn()
	}
	return c.Store.Tags(ctx)
}

// TestPruneBesidePublish interleaves prune with a publish of a new build (push, sign, tag
// the build, move latest), one registry operation at a time in many orders: the publish
// always ends with its tags on its digest and its signatures in place.
func TestPruneBesidePublish(t *testing.T) {
	t.Parallel()
	for seed := range uint64(60) {
		f := newPruneFixture(t, 5)
		sched := tagtest.NewSched(tagtest.Random(seed))
		created := pruneNow.Add(-time.Minute).Format(time.RFC3339)
		img := pruneImage(t, map[string]string{artifact.CreatedAnnotation: created, "n": "new"}, nil)
		var fresh *registry.Manifest
		sched.Run(2, func(id int) {
			ctx := context.Background()
			p := sched.Pruner(id, f.store)
			if id == 0 {
				pl, err := planPrune(ctx, p, prunePolicy, pruneNow)
				if err == nil {
					applyPrune(ctx, p, pl, func(string, ...any) {})
				}
				return
			}
			m, err := p.Push(ctx, img)
			if err != nil {
				return
			}
			fresh = m
			attach(t, p, m)
			tagIt(t, p, m, "main-abcfffff")
			tagIt(t, p, m, "latest")
		})
		tm := f.store.TagMap()
		for _, tag := range []string{"main-abcfffff", "latest"} {
			if tm[tag] != fresh.Digest {
				t.Errorf("seed %d: %s = %s, want the new build %s", seed, tag, tm[tag], fresh.Digest)
			}
		}
		for _, a := range []string{"sig", ""} {
			tag := strings.Replace(fresh.Digest.String(), ":", "-", 1)
			if a != "" {
				tag += "." + a
			}
			if _, ok := tm[tag]; !ok {
				t.Errorf("seed %d: the new build lost %s", seed, tag)
			}
		}
		if ok, _ := f.store.Exists(context.Background(), fresh.Digest); !ok {
			t.Errorf("seed %d: the new build was deleted", seed)
		}
	}
}

// pushTimed is a store that says when each digest was pushed, as ghcr.io does.
type pushTimed struct {
	*tagtest.Store
	times map[v1.Hash]time.Time
}

func (p pushTimed) PushTimes(context.Context) (map[v1.Hash]time.Time, error) { return p.times, nil }

// TestPruneGraceByPushTime: an old commit's build pushed a moment ago (a re-run) is inside the
// grace period on a registry that says when it was pushed.
func TestPruneGraceByPushTime(t *testing.T) {
	t.Parallel()
	f := newPruneFixture(t, 4)
	p := pushTimed{f.store, map[v1.Hash]time.Time{f.builds[0].Digest: pruneNow.Add(-time.Minute)}}
	pl := runPrune(t, p)
	if pl.report.Deleted != 1 {
		t.Errorf("deleted %d, want 1 (build 1; build 0 was pushed a minute ago)", pl.report.Deleted)
	}
	if ok, _ := f.store.Exists(context.Background(), f.builds[0].Digest); !ok {
		t.Error("the build pushed a minute ago was deleted")
	}
}
