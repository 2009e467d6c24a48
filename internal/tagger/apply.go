package tagger

import (
	"context"
	"fmt"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// Outcome is what Apply did.
type Outcome struct {
	// Tags point at the artifact now: the immutable tag and the moving tags
	// that moved (or already pointed at it).
	Tags []string
	// Skipped are the moving tags left elsewhere, each as one sentence that
	// says why (report.Result.Skipped).
	Skipped []string
	// Moves are every tag's action as taken, with its reason.
	Moves []Move
	// Digest is set when the tags point at another digest than the one
	// given to Apply: a release version found holding the same content
	// under another digest, which the moving tags then follow.
	Digest string
}

func (o *Outcome) record(mv Move) {
	o.Moves = append(o.Moves, mv)
	switch mv.Action {
	case ActionWrite, ActionPresent, ActionMove:
		o.Tags = append(o.Tags, mv.Tag)
	default:
		o.Skipped = append(o.Skipped, mv.Skipped)
	}
}

// Apply sets the tags of p on m, the manifest the run pushed (or
// p.Existing), once it is signed: no tag ever points at an unsigned digest.
// Each decision of the plan is taken again on a fresh read, unless the plan
// found every tag already pointing at m (then nothing is read). A release's
// version tag is written through the claim protocol (see the package
// documentation); latest and the stable tag converge with overlapping runs.
// On error the Outcome holds what was done before it.
func (t *Tagger) Apply(ctx context.Context, p Plan, m *registry.Manifest) (Outcome, error) {
	return t.ApplyBegun(ctx, p, m, nil)
}

// Begun holds the first reads of an Apply, made ahead by Begin.
type Begun struct {
	latest, immutable func() (*registry.Manifest, error)
	abandon           func()
}

// Drop abandons reads nobody took, and releases those taken (a nil Begun is
// fine; Drop may be called more than once).
func (b *Begun) Drop() {
	if b != nil {
		b.abandon()
	}
}

// Begin makes the first reads Apply of p will make (a branch build that moves
// latest: latest and the build's own tag) now, with WithParallelReads (or,
// for the interleaving tests, WithSideReadsFirst), so
// that they overlap what the caller still does before Apply (the last check
// of its signatures); pass the result to ApplyBegun. Those reads need only
// come after the plan's list of the tags (see Apply), which Begin does. It
// returns nil when there is nothing to read ahead.
func (t *Tagger) Begin(ctx context.Context, p Plan) *Begun {
	in := p.Input
	if (!t.o.parallel && !t.o.sideFirst) || tags.IsRelease(in.Plan.Immutable) || !in.Plan.Latest {
		return nil
	}
	latestTag := in.Policy.WithDefaults().LatestTag
	bctx, cancel := context.WithCancel(ctx)
	var lm, im *registry.Manifest
	var lerr, ierr error
	waitL, dropL := t.beside(func() { lm, lerr = t.store.Get(bctx, latestTag) })
	waitI, dropI := t.beside(func() { im, ierr = t.store.Get(bctx, in.Plan.Immutable) })
	return &Begun{
		latest:    func() (*registry.Manifest, error) { waitL(); return lm, lerr },
		immutable: func() (*registry.Manifest, error) { waitI(); return im, ierr },
		// Reads nobody will take are cancelled, not waited out.
		abandon: func() { cancel(); dropL(); dropI() },
	}
}

// ApplyBegun is Apply, taking its first reads from b (from Begin of the same
// plan, or nil).
func (t *Tagger) ApplyBegun(ctx context.Context, p Plan, m *registry.Manifest, b *Begun) (Outcome, error) {
	defer b.Drop()
	var out Outcome
	in := p.Input
	in.Policy = in.Policy.WithDefaults()
	if m == nil {
		return out, fmt.Errorf("tagging: no manifest given")
	}
	if p.inPlace(m) {
		// Every tag already pointed at m when the plan read it: this run
		// writes nothing, so it is complete as of that read, and a fresh
		// read could only see what a later writer did (and converges on
		// itself). A warm publish costs the plan's reads alone.
		for _, mv := range p.Moves {
			out.record(mv)
		}
		return out, nil
	}
	var mv Move
	var err error
	// A branch build that moves latest writes its immutable tag right after
	// its first write of latest, not before (see moveLatest): the check of
	// the tag comes first, the write waits.
	deferred := !tags.IsRelease(in.Plan.Immutable) && in.Plan.Latest
	// moveLatest's first read of latest goes out beside writeBuild's read of
	// the immutable tag (WithParallelReads): both come after the plan's list
	// of the tags, which is all moveLatest's argument asks of that read.
	var firstLatest func() (*registry.Manifest, error)
	getImmutable := func() (*registry.Manifest, error) { return t.store.Get(ctx, in.Plan.Immutable) }
	if deferred && b != nil {
		firstLatest, getImmutable = b.latest, b.immutable
	} else if deferred {
		var lm *registry.Manifest
		var lerr error
		read, drop := t.beside(func() { lm, lerr = t.store.Get(ctx, in.Policy.LatestTag) })
		defer drop()
		firstLatest = func() (*registry.Manifest, error) { read(); return lm, lerr }
	}
	if tags.IsRelease(in.Plan.Immutable) {
		mv, err = t.writeRelease(ctx, in, m)
	} else {
		mv, err = t.writeBuild(ctx, in, m, !deferred, getImmutable)
	}
	if err != nil {
		return out, err
	}
	if deferred {
		imm, immDone := mv, mv.Action != ActionWrite
		writeImm := func() error {
			if immDone {
				return nil
			}
			if err := t.store.Tag(ctx, m, imm.Tag); err != nil {
				return err
			}
			immDone = true
			return nil
		}
		lm, err := t.moveLatest(ctx, p, m, firstLatest, writeImm)
		if err == nil {
			err = writeImm() // latest did not move: the build's own tag still goes on
		}
		if immDone {
			out.record(imm)
		}
		if err != nil {
			return out, err
		}
		out.record(lm)
		return out, nil
	}
	out.record(mv)
	if mv.Action == ActionPresent && mv.From != m.Digest.String() && tags.IsRelease(in.Plan.Immutable) {
		// The version landed meanwhile with this content under another
		// digest (another run, or a killed one whose write landed after
		// all): the release is that digest, and the stable tag follows it
		// as for any existing version, once it carries the signatures this
		// run requires.
		if held, err := t.releaseHeld(ctx, in, mv.From); err != nil {
			return out, err
		} else if held != nil {
			m, out.Digest = held, held.Digest.String()
		}
	}
	if in.Plan.Stable {
		mv, err := t.moveStable(ctx, in, m)
		if err != nil {
			return out, err
		}
		out.record(mv)
	}
	return out, nil
}

// releaseHeld returns the manifest the release version holds when it is the
// digest from (the same content as this run's, under another digest) and it
// may be handed the moving tags; nil to keep this run's digest.
func (t *Tagger) releaseHeld(ctx context.Context, in Input, from string) (*registry.Manifest, error) {
	held, err := t.store.Get(ctx, in.Plan.Immutable)
	if err != nil || held == nil || held.Digest.String() != from || !sameContent(held, in.Layer) {
		return nil, err
	}
	if ok, err := t.handOverOK(ctx, in.Plan.Immutable, held); err != nil || !ok {
		return nil, err
	}
	return held, nil
}

// inPlace reports whether the plan found every tag already pointing at m.
func (p Plan) inPlace(m *registry.Manifest) bool {
	if !p.Tagged || p.Existing == nil || p.Existing.Digest != m.Digest || len(p.Moves) == 0 {
		return false
	}
	for _, mv := range p.Moves {
		if mv.Action != ActionPresent {
			return false
		}
	}
	return true
}

// writeBuild sets the immutable tag of a branch build. It names one commit,
// whose content is the same in every run, so concurrent runs write the same
// digest (the build is deterministic) and need no claim; the fresh read only
// catches content that changed without a commit since the plan.
//
// With write false it only checks: the move is "write" when the tag is
// absent, and the caller writes it. get reads the tag.
func (t *Tagger) writeBuild(ctx context.Context, in Input, m *registry.Manifest, write bool, get func() (*registry.Manifest, error)) (Move, error) {
	tag := in.Plan.Immutable
	cur, err := get()
	if err != nil {
		return Move{}, err
	}
	mv := Move{Tag: tag}
	if cur != nil {
		mv.From = cur.Digest.String()
		if cur.Digest == m.Digest {
			mv.Action, mv.Reason = ActionPresent, "it already holds this content"
			return mv, nil
		}
		if !sameContent(cur, in.Layer) {
			return Move{}, t.conflict(in, cur)
		}
	}
	mv.Action = ActionWrite
	if !write {
		return mv, nil
	}
	if err := t.store.Tag(ctx, m, tag); err != nil {
		return Move{}, err
	}
	return mv, nil
}

// ensureTag points tag at m unless it already does, and reports the digest
// it pointed at before ("" if absent).
func (t *Tagger) ensureTag(ctx context.Context, m *registry.Manifest, tag string) (string, error) {
	cur, err := t.store.Get(ctx, tag)
	if err != nil {
		return "", err
	}
	if cur != nil && cur.Digest == m.Digest {
		return cur.Digest.String(), nil
	}
	from := ""
	if cur != nil {
		from = cur.Digest.String()
	}
	return from, t.store.Tag(ctx, m, tag)
}

// moveLatest moves latest to m unless that would go backwards. After moving
// it re-reads the tag: if an overlapping run moved it in between, the
// decision is taken again, so that whichever run finishes last, latest ends
// at the newest commit.
//
// Re-reading latest cannot see everything: registries have no conditional
// tag write, so a newer run may move latest between this run's read and its
// write, check it, finish, and then lose to this run's write. Whenever latest
// holds m after this run wrote it, this run therefore also reads the builds
// of the branch tagged since its plan and hands latest to the newest of them
// if that is newer than its own.
//
// That a newer run N overwritten so is among the builds tagged since the
// plan rests on an order: a run writes its immutable tag right after its
// first write of latest (afterWrite), and checks latest only after that. For
// this run O to overwrite N's move, O's read of latest came before N's first
// write, so O's list of "before" (taken earlier still) cannot hold N's
// immutable tag, which follows that write; and O's write came after N's
// last check, which follows N's immutable tag, so the list O takes after its
// write holds it. (Writing the immutable tag first, as this package once
// did, left a window: N's tag could be in O's "before" list while N's move
// of latest came after O's read, and O then never looked at N.) A hand-over
// is a write too, checked the same way; and a run that finds latest moved on
// to a build newer than its own after it wrote still looks for a newer one
// tagged since its plan (with three runs, a middle one may have overwritten
// O's overwrite of N without ever seeing N). The plan
// lists the tags when it may move latest; one that found latest in place
// did not, and the list is taken here, before this run's first write of
// latest.
//
// first, when not nil, makes the first read of latest (see Apply).
func (t *Tagger) moveLatest(ctx context.Context, p Plan, m *registry.Manifest, first func() (*registry.Manifest, error), afterWrite func() error) (Move, error) {
	in := p.Input
	tag := in.Policy.LatestTag
	wrote := false // only a write of this run can have overwritten a newer run's move
	mv := Move{Tag: tag}
	rec := p.latestRec
	// mine is what this run last pointed latest at: m, or a newer build it
	// handed latest to. A hand-over is a write like any other: it too may
	// overwrite a still newer run's move, and is checked the same way.
	mine, mineHead := m, in.Head
	// The listing of the pass before, abandoned (cancelled) once a pass ends
	// without using it, at the latest when moveLatest returns.
	abandonListing := func() {}
	defer func() { abandonListing() }()
	for i := range moveAttempts {
		abandonListing()
		abandonListing = func() {}
		read := func() (*registry.Manifest, error) { return t.store.Get(ctx, tag) }
		if i == 0 && first != nil {
			read = first
		}
		// After a write of this run, the check needs latest and the tags both read after
		// that write, in no order between them (see newerBuild): with WithParallelReads the
		// listing goes out beside the read of latest instead of after it.
		var listed func() ([]string, error)
		if wrote {
			lctx, cancel := context.WithCancel(ctx)
			var all []string
			var lerr error
			wait, abandon := t.beside(func() { all, lerr = t.store.Tags(lctx) })
			abandonListing = func() { cancel(); abandon() }
			listed = func() ([]string, error) { wait(); return all, lerr }
		}
		cur, err := read()
		if err != nil {
			return Move{}, err
		}
		if i == 0 && cur != nil {
			mv.From = cur.Digest.String()
		}
		if !wrote {
			if cur != nil && cur.Digest == m.Digest {
				mv.Action = ActionPresent
				return mv, nil
			}
			if !p.listed {
				// The plan found latest here and did not list: list now, before
				// this run's write of latest, for newerBuild, and read the
				// promotion record of latest if it names one.
				if err := t.list(ctx, &p); err != nil {
					return Move{}, err
				}
				if rec, err = t.promotionIn(ctx, p.before, tag); err != nil {
					return Move{}, err
				}
			}
			if d := t.decideLatest(ctx, in, cur, m.Digest, rec); d.Action == ActionLeave || d.Action == ActionHold {
				d.From = mv.From
				return d, nil
			}
			if err := t.write(ctx, m, tag, afterWrite); err != nil {
				return Move{}, err
			}
			wrote = true
			continue
		}

		// This run wrote latest (or handed it on): it may have overwritten a
		// newer run's move, which that run may never see. base is what
		// latest holds now if that is not older than what this run wrote;
		// a newer build tagged since the plan than base gets latest.
		base, baseHead := mine, mineHead
		var left Move // latest holds another build, newer than this run's
		if cur == nil || cur.Digest != mine.Digest {
			d := t.decideLatest(ctx, in, cur, m.Digest, rec)
			if d.Action == ActionMove {
				// An older build's run overwrote this run's move: again.
				if err := t.write(ctx, m, tag, afterWrite); err != nil {
					return Move{}, err
				}
				mine, mineHead = m, in.Head
				continue
			}
			if d.Action == ActionHold {
				d.From = mv.From
				return d, nil
			}
			d.From = mv.From
			left, base, baseHead = d, cur, headOf(cur)
		}
		newer, after, err := t.newerBuild(ctx, p, base, baseHead, listed)
		if err != nil {
			return Move{}, err
		}
		// A promotion of latest that this run's write may have undone: a
		// promote writes its record before it moves latest, so the list
		// taken after this run's write names it.
		if rec, err = t.promotionIn(ctx, after, tag); err != nil {
			return Move{}, err
		}
		if left.Action == "" && rec.HoldsCommit(mineHead, t.ancestor(ctx)) {
			d := Move{Tag: tag, Action: ActionHold, From: mv.From, Reason: rec.commitHoldReason(tag, mineHead.SHA)}
			d.Skipped = fmt.Sprintf("%s handed back to %s: %s", tag, rec.Version, d.Reason)
			return d, t.handBack(ctx, tag, mine, rec)
		}
		if newer != nil && rec.HoldsCommit(headOf(newer), t.ancestor(ctx)) {
			newer = nil // a promotion holds it too
		}
		if newer == nil {
			switch {
			case left.Action != "":
				return left, nil
			case mine == m:
				mv.Action = ActionMove
				return mv, nil
			}
			d := Move{Tag: tag, Action: ActionLeave, From: mv.From,
				Reason: fmt.Sprintf("a newer commit (%s) was published while this run moved it", shortSHA(mineHead.SHA))}
			d.Skipped = fmt.Sprintf("%s handed to %s: %s", tag, mine.Digest, d.Reason)
			return d, nil
		}
		t.o.logf("%s: a newer commit (%s) was published while this run moved it: pointing it at %s", tag, shortSHA(headOf(newer).SHA), newer.Digest)
		if err := t.store.Tag(ctx, newer, tag); err != nil {
			return Move{}, err
		}
		mine, mineHead = newer, headOf(newer)
	}
	return Move{}, fmt.Errorf("moving %s: it kept changing under this run (%d attempts); re-run to converge", tag, moveAttempts)
}

// write points tag at m, then calls afterWrite (the build's own tag goes on
// right after its first move of latest).
func (t *Tagger) write(ctx context.Context, m *registry.Manifest, tag string, afterWrite func() error) error {
	if err := t.store.Tag(ctx, m, tag); err != nil {
		return err
	}
	return afterWrite()
}

// newerBuild returns the newest build of this branch tagged since the plan
// was made (tags not listed then) when it is newer than mine, the build this
// run last pointed latest at (its own, or one it handed latest to) at commit
// mineHead, else nil; and every tag of the repository as listed by listed, a
// listing taken after this run's last write of latest. Only those few
// manifests are read.
func (t *Tagger) newerBuild(ctx context.Context, p Plan, mine *registry.Manifest, mineHead tags.Head, listed func() ([]string, error)) (*registry.Manifest, []string, error) {
	in := p.Input
	pol := in.Policy
	after, err := listed()
	if err != nil {
		return nil, nil, err
	}
	seen := make(map[string]bool, len(p.before))
	for _, tg := range p.before {
		seen[tg] = true
	}
	var best *registry.Manifest
	bestHead := mineHead
	for _, tg := range after {
		if seen[tg] || tg == in.Plan.Immutable || !isBuildOf(pol, in.Branch, tg) {
			continue
		}
		cand, err := t.store.Get(ctx, tg)
		if err != nil || cand == nil || cand.Digest == mine.Digest {
			continue // gone or unreadable: not a build to hand latest to
		}
		name, sha, err := tags.ParseRevision(annotations(cand)[artifact.RevisionAnnotation])
		if err != nil || name != in.Branch || sha == bestHead.SHA {
			continue
		}
		if want, err := pol.BranchTag(in.Branch, sha); err != nil || want != tg {
			continue // not this branch's immutable tag of that commit
		}
		if h := headOf(cand); tags.MoveLatest(bestHead, h, t.ancestor(ctx)) {
			ok, err := t.handOverOK(ctx, pol.LatestTag, cand)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				best, bestHead = cand, h
			}
		}
	}
	return best, after, nil
}

// moveStable moves the stable tag to m when this release is the highest
// stable version that no promotion rolled back over. After moving it re-reads
// the tags and the promotion record: if a higher release landed in between,
// the stable tag is handed to it; if a promotion that holds this release
// landed, the tag is handed back to the promoted release. So overlapping
// releases never leave it on an older one, and a promotion is never undone.
func (t *Tagger) moveStable(ctx context.Context, in Input, m *registry.Manifest) (Move, error) {
	tag, version := in.Policy.StableTag, in.Plan.Immutable
	moved := false
	var from string
	for range moveAttempts {
		all, rec, err := t.stableView(ctx, tag)
		if err != nil {
			return Move{}, err
		}
		d := decideStable(tag, version, all, rec)
		switch d.Action {
		case ActionHold:
			if moved {
				d.Skipped = fmt.Sprintf("%s handed back to %s: %s", tag, rec.Version, d.Reason)
				return d, t.handBack(ctx, tag, m, rec)
			}
			return d, nil
		case ActionLeave:
			best := tags.HighestStable(effective(all, version, rec))
			if moved {
				handed, err := t.repairStable(ctx, tag, m, best)
				if err == nil && !handed {
					// The higher release does not carry the signatures this run requires:
					// this run's move stands.
					return Move{Tag: tag, Action: ActionMove, From: from,
						Reason: fmt.Sprintf("%s, released meanwhile, does not carry the signatures this run requires", best)}, nil
				}
				d.Reason = fmt.Sprintf("%s was released while this run moved %s to %s", best, tag, version)
				d.Skipped = fmt.Sprintf("%s handed to %s: %s", tag, best, d.Reason)
				return d, err
			}
			return d, nil
		}
		f, err := t.ensureTag(ctx, m, tag)
		if err != nil {
			return Move{}, err
		}
		if !moved {
			from = f
		}
		moved = true
		after, rec2, err := t.stableView(ctx, tag)
		if err != nil {
			return Move{}, err
		}
		if rec.same(rec2) && tags.HighestStable(effective(after, version, rec2)) == version {
			act := ActionMove
			if from == m.Digest.String() {
				act = ActionPresent
			}
			return Move{Tag: tag, Action: act, From: from}, nil
		}
	}
	return Move{}, fmt.Errorf("moving %s: releases kept landing under this run (%d attempts); re-run to converge", tag, moveAttempts)
}

// stableView is what decides the stable tag: every tag of the repository and the promotion
// record of tag.
func (t *Tagger) stableView(ctx context.Context, tag string) ([]string, *Promotion, error) {
	all, err := t.store.Tags(ctx)
	if err != nil {
		return nil, nil, err
	}
	rec, err := t.ReadPromotion(ctx, tag)
	if err != nil {
		return nil, nil, err
	}
	return all, rec, nil
}

// repairStable hands the stable tag, which this run moved to m, to the higher
// release best that landed meanwhile: that release's run may have moved the
// tag and checked it before this run's write overwrote it. It is called only
// when this run moved the tag, and it leaves the tag alone once anyone else
// has moved it since. Each hand-over is checked against a fresh tag list, as
// a still higher release may land too.
//
// handed is false when the first hand-over was refused by the hand-over check (see
// WithHandOverCheck): the tag stays at m.
func (t *Tagger) repairStable(ctx context.Context, tag string, m *registry.Manifest, best string) (handed bool, err error) {
	for i := range moveAttempts {
		cur, err := t.store.Get(ctx, tag)
		if err != nil {
			return true, err
		}
		if cur == nil || cur.Digest != m.Digest {
			return true, nil
		}
		bm, err := t.store.Get(ctx, best)
		if err != nil || bm == nil {
			return true, err
		}
		if ok, err := t.handOverOK(ctx, tag, bm); err != nil || !ok {
			return i > 0, err
		}
		if err := t.store.Tag(ctx, bm, tag); err != nil {
			return true, err
		}
		after, rec, err := t.stableView(ctx, tag)
		if err != nil {
			return true, err
		}
		next := tags.HighestStable(effective(after, "", rec))
		if next == best || next == "" {
			return true, nil
		}
		m, best = bm, next
	}
	return true, fmt.Errorf("moving %s: releases kept landing under this run (%d attempts); re-run to converge", tag, moveAttempts)
}

// handBack points a moving tag (the stable tag or latest), which this run
// moved to m, back at the release a promotion that landed meanwhile chose,
// unless someone else moved the tag since.
func (t *Tagger) handBack(ctx context.Context, tag string, m *registry.Manifest, rec *Promotion) error {
	cur, err := t.store.Get(ctx, tag)
	if err != nil {
		return err
	}
	if cur == nil || cur.Digest != m.Digest {
		return nil
	}
	pm, err := t.store.Get(ctx, rec.Version)
	if err != nil {
		return err
	}
	if pm == nil || pm.Digest.String() != rec.Digest {
		return fmt.Errorf("handing %s back to %s: the promoted release is gone or changed; promote it again", tag, rec.Version)
	}
	return t.store.Tag(ctx, pm, tag)
}
