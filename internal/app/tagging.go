package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// This file is the tag algorithm publish used before it moved into its own package; it keeps the
// shape of that package's API (plan, then apply) so that the switch is a swap of calls.

// moveAttempts bounds how often a run re-moves a moving tag that an overlapping run moved under
// it: each round re-reads the tag and decides again, so overlapping runs converge on the newest.
const moveAttempts = 5

// tagInput is what one run publishes to one repository.
type tagInput struct {
	policy tags.Policy
	plan   tags.Plan
	head   tags.Head // this run's commit
	branch string
	digest v1.Hash // the built artifact's manifest digest
	layer  *artifact.Layer
	dryRun bool
}

// tagPlan is what a run will do to one repository's tags, read before it pushes anything.
type tagPlan struct {
	in          tagInput
	existing    *registry.Manifest // a manifest with this content: reuse its digest
	existingTag string             // the tag that holds existing, "" for an untagged leftover
	tagged      bool               // the immutable tag already points at existing
	moves       []report.TagPlan
	notes       []string
	before      []string
}

// tagOutcome is what apply did.
type tagOutcome struct {
	tags, skipped []string
}

// tagEngine decides and sets the tags of one repository.
type tagEngine struct {
	store    registry.Store
	ancestor func(ctx context.Context, a, b string) (bool, bool)
	logf     func(string, ...any)
}

func (e *tagEngine) plan(ctx context.Context, in tagInput) (tagPlan, error) {
	p := tagPlan{in: in}
	store := e.store
	m, err := store.Get(ctx, in.plan.Immutable)
	switch {
	case err != nil && in.dryRun:
		p.notes = append(p.notes, fmt.Sprintf("cannot read %s:%s (%v); planning as if it did not exist", store, in.plan.Immutable, err))
		p.moves = e.planned(p)
		return p, nil
	case err != nil:
		return p, err
	case m != nil:
		same, err := in.layer.SameContent(m.Parsed)
		if err != nil || !same {
			have, _ := m.LayerDigest()
			return p, immutableConflict(in.plan.Immutable, have.String(), in.layer.Digest.String())
		}
		p.existing, p.existingTag, p.tagged = m, in.plan.Immutable, true
	case in.plan.Latest:
		m, err := store.Get(ctx, in.policy.LatestTag)
		if err != nil && !in.dryRun {
			return p, err
		}
		if m != nil {
			if same, err := in.layer.SameContent(m.Parsed); err == nil && same {
				p.existing, p.existingTag = m, in.policy.LatestTag
			}
		}
	}
	if p.existing == nil {
		// A digest no tag names but the registry holds: an earlier run pushed it and died
		// before signing or tagging. Reuse it, so signing can heal it.
		m, err := store.GetDigest(ctx, in.digest)
		if err != nil && !in.dryRun {
			return p, err
		}
		p.existing = m
	}
	if in.plan.Latest && !in.dryRun {
		// The tags before this run writes anything: apply reads the builds that appear after
		// this point, to find a newer run whose move of latest it may have overwritten.
		if p.before, err = store.Tags(ctx); err != nil {
			return p, err
		}
	}
	p.moves = e.planned(p)
	return p, nil
}

// planned lists the moves as the run will try them.
func (e *tagEngine) planned(p tagPlan) []report.TagPlan {
	imm := report.TagPlan{Tag: p.in.plan.Immutable, Action: "write"}
	if p.tagged {
		imm.Action = "present"
	}
	out := []report.TagPlan{imm}
	if p.in.plan.Latest {
		out = append(out, report.TagPlan{Tag: p.in.policy.LatestTag, Action: "move", Reason: "unless it holds a newer commit"})
	}
	if p.in.plan.Stable {
		out = append(out, report.TagPlan{Tag: p.in.policy.StableTag, Action: "move", Reason: "if this is the highest stable release"})
	}
	return out
}

// tags are the tags the plan points at the artifact.
func (p tagPlan) tags() []string {
	var out []string
	for _, m := range p.moves {
		switch m.Action {
		case "write", "present", "move":
			out = append(out, m.Tag)
		}
	}
	return out
}

// apply sets the immutable tag, then moves latest or latest-stable if the policy says so, each
// decided on a fresh read of the registry and checked after the move.
//
// The immutable tag was read as absent (or already at m) a moment ago: it is written without
// another read. A concurrent run of the same commit writes the same digest, since the build is
// deterministic.
func (e *tagEngine) apply(ctx context.Context, p tagPlan, m *registry.Manifest) (tagOutcome, error) {
	var out tagOutcome
	if !p.tagged {
		if err := e.writeImmutable(ctx, p, m); err != nil {
			return out, err
		}
	}
	out.tags = append(out.tags, p.in.plan.Immutable)
	// record notes a moving tag's outcome: in tags when it now points at m, else in skipped
	// with the reason.
	record := func(tag string, moved bool, why string, err error) error {
		switch {
		case err != nil:
			return err
		case moved:
			out.tags = append(out.tags, tag)
		default:
			out.skipped = append(out.skipped, why)
			e.logf("%s", why)
		}
		return nil
	}
	if p.in.plan.Latest {
		moved, why, err := e.moveLatest(ctx, p, m)
		if err := record(p.in.policy.LatestTag, moved, why, err); err != nil {
			return out, err
		}
	}
	if p.in.plan.Stable {
		moved, why, err := e.moveStable(ctx, p, m)
		if err := record(p.in.policy.StableTag, moved, why, err); err != nil {
			return out, err
		}
	}
	return out, nil
}

// writeImmutable creates the immutable tag. A release version is read again right before the
// write (signing may have taken seconds since the first read) and after it: a version that
// another run gave other content in between is reported, never silently overwritten twice.
// Registries have no conditional tag write, so this narrows the window to two round trips.
// A branch build tag names one commit, whose content is the same in every run: no re-read.
func (e *tagEngine) writeImmutable(ctx context.Context, p tagPlan, m *registry.Manifest) error {
	store, tag := e.store, p.in.plan.Immutable
	if !tags.IsRelease(tag) {
		return store.Tag(ctx, m, tag)
	}
	cur, err := store.Get(ctx, tag)
	if err != nil {
		return err
	}
	if cur != nil && cur.Digest != m.Digest {
		return conflict(tag, cur, m)
	}
	if cur == nil {
		if err := store.Tag(ctx, m, tag); err != nil {
			return err
		}
	}
	after, err := store.Get(ctx, tag)
	if err != nil {
		return err
	}
	if after == nil || after.Digest != m.Digest {
		return conflict(tag, after, m)
	}
	return nil
}

// conflict is the error for an immutable tag that holds other content than m.
func conflict(tag string, have, want *registry.Manifest) error {
	var h string
	if d, ok := have.LayerDigest(); ok {
		h = d.String()
	}
	w, _ := want.LayerDigest()
	return immutableConflict(tag, h, w.String())
}

// immutableConflict says why an immutable tag cannot take this content, and what to do.
func immutableConflict(tag, have, want string) error {
	if tags.IsRelease(tag) {
		return tags.ImmutableConflict(tag, have, want)
	}
	return fmt.Errorf("%w: %s already holds layer %s, but this build of the same commit gives %s: the ignore-paths input or the files changed without a commit; commit the change (or restore the input) and publish again", tags.ErrImmutable, tag, have, want)
}

// ensureTag points tag at m unless it already does.
func ensureTag(ctx context.Context, store registry.Store, m *registry.Manifest, tag string) error {
	cur, err := store.Get(ctx, tag)
	if err != nil {
		return err
	}
	if cur != nil && cur.Digest == m.Digest {
		return nil
	}
	return store.Tag(ctx, m, tag)
}

func head(m *registry.Manifest) tags.Head {
	if m == nil {
		return tags.Head{}
	}
	h := tags.Head{}
	if _, sha, err := tags.ParseRevision(m.Annotation(artifact.RevisionAnnotation)); err == nil {
		h.SHA = sha
	}
	if t, err := time.Parse(time.RFC3339, m.Annotation(artifact.CreatedAnnotation)); err == nil {
		h.Created = t
	}
	return h
}

func (e *tagEngine) ancestorFunc(ctx context.Context) func(a, b string) (bool, bool) {
	if e.ancestor == nil {
		return nil
	}
	return func(a, b string) (bool, bool) { return e.ancestor(ctx, a, b) }
}

// moveLatest moves latest to m unless that would go backwards. After moving it re-reads the tag:
// if an overlapping run moved it in between, the decision is taken again, so that whichever run
// finishes last, latest ends at the newest commit.
//
// Re-reading latest cannot see everything: registries have no conditional tag write, so a newer
// run may move latest between this run's read and its write, check it, finish, and then lose to
// this run's write. Whenever latest holds m, this run therefore also reads the builds of the
// branch tagged since it started (before: the tags then; a newer run writes its immutable tag
// before it moves latest) and hands latest to the newest of them if that is newer than ours.
func (e *tagEngine) moveLatest(ctx context.Context, p tagPlan, m *registry.Manifest) (bool, string, error) {
	store, tag := e.store, p.in.policy.LatestTag
	ours := p.in.head
	wrote := false // only a write of this run can have overwritten a newer run's move
	for range moveAttempts {
		cur, err := store.Get(ctx, tag)
		if err != nil {
			return false, "", err
		}
		if cur != nil && cur.Digest == m.Digest {
			if !wrote {
				return true, "", nil
			}
			newer, err := e.newerBuild(ctx, p)
			if err != nil {
				return false, "", err
			}
			if newer == nil {
				return true, "", nil
			}
			e.logf("%s: a newer commit (%s) was published while this run moved it: pointing it at %s", tag, shortSHA(head(newer).SHA), newer.Digest)
			if err := store.Tag(ctx, newer, tag); err != nil {
				return false, "", err
			}
			continue
		}
		curHead := head(cur)
		if cur != nil && curHead.SHA == "" && curHead.Created.IsZero() {
			curHead.SHA = "unknown" // a manifest without annotations is not ours to keep
		}
		if cur != nil && !tags.MoveLatest(curHead, ours, e.ancestorFunc(ctx)) {
			return false, fmt.Sprintf("%s left at %s: it holds a newer commit (%s) than this run's (%s)", tag, cur.Digest, shortSHA(curHead.SHA), shortSHA(ours.SHA)), nil
		}
		if err := store.Tag(ctx, m, tag); err != nil {
			return false, "", err
		}
		wrote = true
	}
	return false, "", fmt.Errorf("moving %s: it kept changing under this run (%d attempts); re-run to converge", tag, moveAttempts)
}

// newerBuild returns the newest build of this branch tagged since the run started (tags not in
// before) when it is newer than ours, else nil. Only those few manifests are read.
func (e *tagEngine) newerBuild(ctx context.Context, p tagPlan) (*registry.Manifest, error) {
	store, before := e.store, p.before
	after, err := store.Tags(ctx)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(before))
	for _, t := range before {
		seen[t] = true
	}
	branch := p.in.branch
	var best *registry.Manifest
	bestHead := p.in.head
	for _, t := range after {
		if seen[t] || t == p.in.plan.Immutable || t == p.in.policy.LatestTag || t == p.in.policy.StableTag || strings.HasSuffix(t, ".sig") {
			continue
		}
		cand, err := store.Get(ctx, t)
		if err != nil || cand == nil {
			continue // gone or unreadable: not a build to hand latest to
		}
		name, sha, err := tags.ParseRevision(cand.Annotation(artifact.RevisionAnnotation))
		if err != nil || name != branch || sha == bestHead.SHA {
			continue
		}
		if want, err := p.in.policy.BranchTag(branch, sha); err != nil || want != t {
			continue // not this branch's immutable tag of that commit
		}
		h := head(cand)
		if tags.MoveLatest(bestHead, h, e.ancestorFunc(ctx)) {
			best, bestHead = cand, h
		}
	}
	return best, nil
}

// moveStable moves the stable tag to m when this release is the highest stable version. After
// moving it re-reads the tags: if a higher release landed in between, the stable tag is pointed
// at that release instead, so overlapping releases never leave it on an older one.
func (e *tagEngine) moveStable(ctx context.Context, p tagPlan, m *registry.Manifest) (bool, string, error) {
	store, tag, version := e.store, p.in.policy.StableTag, p.in.plan.Immutable
	moved := false
	for range moveAttempts {
		all, err := store.Tags(ctx)
		if err != nil {
			return false, "", err
		}
		if !containsTag(all, version) {
			// A registry whose tag list lags its writes: ours must count.
			all = append(all, version)
		}
		if !tags.MoveStable(version, all) {
			best := tags.HighestStable(all)
			if moved {
				return false, fmt.Sprintf("%s handed to %s: it was released while this run moved %s to %s", tag, best, tag, version), e.repairStable(ctx, tag, m, best)
			}
			return false, fmt.Sprintf("%s not moved: %s is higher than %s", tag, best, version), nil
		}
		if err := ensureTag(ctx, store, m, tag); err != nil {
			return false, "", err
		}
		moved = true
		after, err := store.Tags(ctx)
		if err != nil {
			return false, "", err
		}
		if best := tags.HighestStable(append(after, version)); best == version {
			return true, "", nil
		}
	}
	return false, "", fmt.Errorf("moving %s: releases kept landing under this run (%d attempts); re-run to converge", tag, moveAttempts)
}

// repairStable hands the stable tag, which this run moved to m, to the higher release best that
// landed meanwhile: that release's run may have moved the tag and checked it before this run's
// write overwrote it. It is called only when this run moved the tag, so a deliberate rollback
// (promote) is never undone, and it leaves the tag alone once anyone else has moved it since.
// Each hand-over is checked against a fresh tag list, as a still higher release may land too.
func (e *tagEngine) repairStable(ctx context.Context, tag string, m *registry.Manifest, best string) error {
	store := e.store
	for range moveAttempts {
		cur, err := store.Get(ctx, tag)
		if err != nil {
			return err
		}
		if cur == nil || cur.Digest != m.Digest {
			return nil
		}
		bm, err := store.Get(ctx, best)
		if err != nil || bm == nil {
			return err
		}
		if err := store.Tag(ctx, bm, tag); err != nil {
			return err
		}
		after, err := store.Tags(ctx)
		if err != nil {
			return err
		}
		next := tags.HighestStable(after)
		if next == best || next == "" {
			return nil
		}
		m, best = bm, next
	}
	return fmt.Errorf("moving %s: releases kept landing under this run (%d attempts); re-run to converge", tag, moveAttempts)
}

func containsTag(all []string, t string) bool {
	for _, a := range all {
		if a == t {
			return true
		}
	}
	return false
}
