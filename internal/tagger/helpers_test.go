package tagger_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/tagger"
	"github.com/fleetpush/fleetpush/internal/tagger/tagtest"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// epoch is the fake clock's start: any fixed time will do.
var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// commit is one build: a commit of the repository, the ref it is published
// for, and the content of its artifact.
type commit struct {
	sha     string
	created time.Time
	content string
	ref     tags.Ref
}

// sha is a full commit id made from a name.
func sha(name string) string {
	sum := sha256.Sum256([]byte(name))
	return fmt.Sprintf("%x", sum[:20])
}

// onMain is commit n (by name) on main, n seconds after a fixed time.
func onMain(name string, n int) commit {
	return commit{sha: sha(name), created: epoch.Add(-time.Hour + time.Duration(n)*time.Second), content: "content of " + name, ref: tags.Ref{Kind: tags.Branch, Name: "main"}}
}

// release is commit name released as frontend/<version>.
func release(name string, n int, version string) commit {
	c := onMain(name, n)
	c.ref = tags.Ref{Kind: tags.Tag, Name: "frontend/" + version}
	return c
}

func (c commit) layer() *artifact.Layer {
	data := []byte(c.content)
	d, _, _ := v1.SHA256(strings.NewReader(c.content))
	return &artifact.Layer{Compressed: data, Digest: d, DiffID: d, Size: int64(len(data))}
}

// image is the commit's artifact. It may run in a scheduled run's
// goroutine, where a test must not stop: a failure here is a bug of the test.
func (c commit) image() v1.Image {
	img, err := artifact.Image(c.layer(), artifact.Meta{
		Source:   "https://github.com/acme/apps",
		Revision: tags.Revision(c.ref.Name, c.sha),
		Created:  c.created,
	})
	if err != nil {
		panic(err)
	}
	return img
}

func (c commit) digest(t testing.TB) v1.Hash {
	t.Helper()
	d, err := c.image().Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// job is one publish of a commit, as the app runs it: plan, push (or reuse),
// sign, apply.
type job struct {
	c        commit
	store    registry.Store
	clock    tagger.Clock
	seed     uint64
	ancestry tagger.Ancestry
	policy   tags.Policy
	dryRun   bool
	opts     []tagger.Option // added to the job's tagger options

	plan   tagger.Plan
	out    tagger.Outcome
	digest v1.Hash // what it published
	err    error
	logs   []string
}

func (j *job) tagger() *tagger.Tagger {
	return tagger.New(j.store, j.ancestry, append([]tagger.Option{
		tagger.WithClock(j.clock),
		tagger.WithRand(rand.New(rand.NewPCG(j.seed, j.seed+1))),
		tagger.WithLogf(func(f string, a ...any) { j.logs = append(j.logs, fmt.Sprintf(f, a...)) })}, j.opts...)...)
}

// run publishes j.c; the result is in j. It may run in a scheduled run's
// goroutine: it reports through j, never through a testing.T.
func (j *job) run() *job {
	ctx := context.Background()
	j.err = func() error {
		pol := j.policy.WithDefaults()
		tp, err := pol.Plan(j.c.ref, j.c.sha, []string{"frontend"})
		if err != nil {
			return err
		}
		img := j.c.image()
		d, err := img.Digest()
		if err != nil {
			return err
		}
		tg := j.tagger()
		in := tagger.Input{Policy: pol, Plan: tp, Head: tags.Head{SHA: j.c.sha, Created: j.c.created}, Digest: d, Layer: j.c.layer().Digest, DryRun: j.dryRun}
		if j.c.ref.Kind == tags.Branch {
			in.Branch = j.c.ref.Name
		}
		if j.plan, err = tg.Plan(ctx, in); err != nil {
			return err
		}
		if j.dryRun {
			return nil
		}
		m := j.plan.Existing
		var begun *tagger.Begun // Apply's first reads made while signing, as a push's are
		if m == nil {
			if m, err = j.store.Push(ctx, img); err != nil {
				return err
			}
			begun = tg.Begin(ctx, j.plan)
		}
		j.digest = m.Digest
		if err := sign(ctx, j.store, m); err != nil {
			begun.Drop()
			return err
		}
		j.out, err = tg.ApplyBegun(ctx, j.plan, m, begun)
		return err
	}()
	return j
}

// sigTag is the legacy cosign signature tag of a digest.
func sigTag(d v1.Hash) string { return d.Algorithm + "-" + d.Hex + ".sig" }

// sign stands for signing: a small signature manifest under the cosign tag
// of m, written unless it is there (a re-run heals a missing one).
func sign(ctx context.Context, st registry.Store, m *registry.Manifest) error {
	if cur, err := st.Get(ctx, sigTag(m.Digest)); err != nil || cur != nil {
		return err
	}
	img, ok := mutate.Annotations(empty.Image, map[string]string{"signature-of": m.Digest.String()}).(v1.Image)
	if !ok {
		return errors.New("annotating the signature")
	}
	sig, err := st.Push(ctx, img)
	if err != nil {
		return err
	}
	return st.Tag(ctx, sig, sigTag(m.Digest))
}

// checkStore fails the test unless every tag names a complete manifest and
// every artifact tag a signed one: what a killed run must never break.
func checkStore(t testing.TB, st *tagtest.Store) {
	t.Helper()
	if err := st.Check(); err != nil {
		t.Error(err)
	}
	all := st.TagMap()
	for tag, d := range all {
		if strings.HasSuffix(tag, ".sig") || tags.IsRecord(tag) {
			continue
		}
		if _, ok := all[sigTag(d)]; !ok {
			t.Errorf("%s → %s is not signed", tag, d)
		}
	}
}

// artifactTags are the store's tags without records and signatures.
func artifactTags(st *tagtest.Store) map[string]v1.Hash {
	out := st.TagMap()
	for tag := range out {
		if strings.HasSuffix(tag, ".sig") || tags.IsRecord(tag) {
			delete(out, tag)
		}
	}
	return out
}

// liveClaims are the claim tags of the store not withdrawn.
func liveClaims(t testing.TB, st *tagtest.Store) []string {
	t.Helper()
	var out []string
	for tag := range st.TagMap() {
		if !strings.HasPrefix(tag, tags.ClaimPrefix) {
			continue
		}
		m, err := st.Get(context.Background(), tag)
		if err != nil {
			t.Fatal(err)
		}
		if m.Annotation("com.github.fleetpush.record") != "withdrawn" {
			out = append(out, tag)
		}
	}
	return out
}

// linear is the ancestry of commits made one after the other, in the
// order given.
func linear(commits ...commit) tagger.Ancestry {
	pos := map[string]int{}
	for i, c := range commits {
		pos[c.sha] = i
	}
	return func(_ context.Context, a, b string) (bool, bool) {
		i, ok1 := pos[a]
		j, ok2 := pos[b]
		if !ok1 || !ok2 {
			return false, false
		}
		return i <= j, true
	}
}

// newWorld is an empty repository and a clock.
func newWorld() (*tagtest.Store, *tagtest.Clock) {
	return tagtest.NewStore("registry.test/acme/apps/frontend"), tagtest.NewClock(epoch)
}

// publishAll publishes the commits one after the other, failing the test on
// any error.
func publishAll(t testing.TB, st *tagtest.Store, clock *tagtest.Clock, anc tagger.Ancestry, cs ...commit) {
	t.Helper()
	for i, c := range cs {
		j := (&job{c: c, store: st, clock: clock, seed: uint64(i), ancestry: anc}).run()
		if j.err != nil {
			t.Fatalf("publishing %s of %s: %v", c.ref.Name, c.content, j.err)
		}
	}
}

// promote runs a promote of version to channel.
func promote(t testing.TB, st registry.Store, clock tagger.Clock, channel, version string) (tagger.Outcome, error) {
	t.Helper()
	return promoteErr(st, clock, channel, version)
}

// promoteErr runs a promote of version to channel, as the app does: read the
// release, plan, promote.
func promoteErr(st registry.Store, clock tagger.Clock, channel, version string) (tagger.Outcome, error) {
	ctx := context.Background()
	m, err := st.Get(ctx, version)
	if err != nil {
		return tagger.Outcome{}, err
	}
	if m == nil {
		return tagger.Outcome{}, fmt.Errorf("%s does not exist", version)
	}
	tg := tagger.New(st, nil, tagger.WithClock(clock))
	p, err := tg.PlanPromote(ctx, channel, version, m)
	if err != nil {
		return tagger.Outcome{}, err
	}
	return tg.Promote(ctx, p)
}

// recordImage is a manifest like the engine's records, with annotations a.
func recordImage(t testing.TB, a map[string]string) v1.Image {
	t.Helper()
	img, ok := mutate.Annotations(empty.Image, a).(v1.Image)
	if !ok {
		t.Fatal("annotating a record")
	}
	return img
}
