package tagger

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// Input is what one run publishes to one repository.
type Input struct {
	Policy tags.Policy // unset fields take their defaults
	Plan   tags.Plan   // from Policy.Plan for this run's ref
	// Head is this run's commit (its full id and commit time): what latest
	// would point at. For a reused manifest the content is older, but the
	// commit that asks for it is this one.
	Head tags.Head
	// Branch is the branch name of a branch build (tags.Ref.Name), which the
	// revision annotation of its builds carries; "" for a release.
	Branch string
	// Digest is the manifest digest of the artifact this run built, before
	// any push; Layer is the digest of its content layer, which decides
	// whether a tag already holds the same content.
	Digest v1.Hash
	Layer  v1.Hash
	// DryRun turns read errors into notes of the plan instead of failures,
	// so a dry run against an unreachable registry still prints a plan.
	DryRun bool
}

// Action is what happens to one tag.
type Action string

// Actions of a Move.
const (
	ActionWrite   Action = "write"   // the immutable tag is written
	ActionPresent Action = "present" // the tag already points at this artifact
	ActionMove    Action = "move"    // a moving tag moves to this artifact
	ActionLeave   Action = "leave"   // a moving tag stays: a newer commit or a higher release holds it
	ActionHold    Action = "hold"    // a moving tag stays: a promotion rolled this release or commit back
)

// Move is one tag's action and, for a tag that does not move to this
// artifact, why.
type Move struct {
	Tag    string `json:"tag"`
	Action Action `json:"action"`
	Reason string `json:"reason,omitempty"`
	// From is the digest the tag pointed at when it was read; "" if absent.
	From string `json:"from,omitempty"`
	// Skipped is the one-sentence account of a moving tag left elsewhere
	// (leave, hold), as report.Result.Skipped lists it, the same in a plan
	// and after Apply: "latest left at sha256:…: it holds a newer commit
	// (1a2b3c4d) than this run's (5e6f7a8b)". "" when the tag points at the
	// artifact. (Added after the first API commit; additive.)
	Skipped string `json:"skipped,omitempty"`
}

// String is the move as one log line: "latest: leave (it holds a newer …)".
func (m Move) String() string {
	if m.Reason == "" {
		return fmt.Sprintf("%s: %s", m.Tag, m.Action)
	}
	return fmt.Sprintf("%s: %s (%s)", m.Tag, m.Action, m.Reason)
}

// Plan is what a run will do to one repository's tags, as read before it
// pushes anything. It is a plain value: print it for a dry run, report its
// Moves, hand it to Apply.
type Plan struct {
	// Input is what the plan was made for.
	Input Input `json:"-"`
	// Existing is a manifest the repository already holds with this content:
	// the run reuses its digest instead of pushing (nothing new for Flux to
	// pull). nil: push the built artifact.
	Existing *registry.Manifest `json:"-"`
	// ExistingTag is the tag that holds Existing (the immutable tag, or
	// latest); "" when Existing is the built digest itself, left untagged by
	// an earlier run that stopped before tagging (the run signs and tags it).
	ExistingTag string `json:"existingTag,omitempty"`
	// Tagged reports that the immutable tag already points at Existing.
	Tagged bool `json:"tagged,omitempty"`
	// Moves are the tags the run sets: the immutable tag, then latest or
	// the stable tag when the ref moves one. (Apply writes a branch build's
	// immutable tag right after its first write of latest.)
	Moves []Move `json:"moves"`
	// Notes are what a dry run could not read, and planned around.
	Notes []string `json:"notes,omitempty"`

	// before are the tags listed before the run writes anything: Apply
	// looks for builds of the branch tagged since, to hand latest to.
	before []string
	// listed reports that before was read.
	listed bool
	// latestRec is the promotion record of latest as the plan read it; nil
	// if none (or latest does not move).
	latestRec *Promotion
}

// Tags are the tags the plan points at this artifact: the immutable one and
// every moving tag whose action is move or present.
func (p Plan) Tags() []string {
	var out []string
	for _, m := range p.Moves {
		switch m.Action {
		case ActionWrite, ActionPresent, ActionMove:
			out = append(out, m.Tag)
		}
	}
	return out
}

// Plan reads the repository and decides, without writing anything, what a
// run publishing in will do. An immutable tag that holds other content is an
// error wrapping tags.ErrImmutable that says what to do (for a branch build
// it speaks of the commit, not of releases).
func (t *Tagger) Plan(ctx context.Context, in Input) (Plan, error) {
	in.Policy = in.Policy.WithDefaults()
	p := Plan{Input: in}
	imm, pol := in.Plan.Immutable, in.Policy
	if imm == "" {
		return p, fmt.Errorf("planning tags: no immutable tag: make the plan with tags.Policy.Plan")
	}
	// unread turns a read error into a note in a dry run.
	unread := func(what string, err error) error {
		if !in.DryRun {
			return err
		}
		p.Notes = append(p.Notes, fmt.Sprintf("cannot read %s:%s (%v); planning as if it did not exist", t.store, what, err))
		return nil
	}

	// Content is the authority: a tag that already holds this layer keeps
	// its digest. The immutable tag decides first: if it holds other content
	// the run fails. latest is read beside it (each read is a round trip,
	// and the plan needs both).
	var latest *registry.Manifest
	var latestErr error
	readLatest, dropLatest := func() {}, func() {}
	if in.Plan.Latest {
		readLatest, dropLatest = t.beside(func() { latest, latestErr = t.store.Get(ctx, pol.LatestTag) })
	}
	cur, err := t.store.Get(ctx, imm)
	if err != nil {
		if err := unread(imm, err); err != nil {
			dropLatest()
			return p, err
		}
	}
	if cur != nil && !sameContent(cur, in.Layer) {
		dropLatest()
		return p, t.conflict(in, cur)
	}
	readLatest()
	if cur != nil {
		p.Existing, p.ExistingTag, p.Tagged = cur, imm, true
		p.Moves = append(p.Moves, Move{Tag: imm, Action: ActionPresent, Reason: "it already holds this content", From: cur.Digest.String()})
	} else {
		p.Moves = append(p.Moves, Move{Tag: imm, Action: ActionWrite})
	}

	if in.Plan.Latest {
		if err := latestErr; err != nil {
			if err := unread(pol.LatestTag, err); err != nil {
				return p, err
			}
		}
		if p.Existing == nil && latest != nil && sameContent(latest, in.Layer) {
			p.Existing, p.ExistingTag = latest, pol.LatestTag
		}
	}
	// The tags are listed (below) beside the read of the digest: whether
	// they are needed does not depend on its answer, since a digest found
	// is in.Digest.
	target := in.Digest
	if p.Existing != nil {
		target = p.Existing.Digest
	}
	listing := in.Plan.Latest && (latest == nil || latest.Digest != target)
	var all []string
	var listErr error
	list, dropList := func() {}, func() {}
	if listing {
		list, dropList = t.beside(func() { all, listErr = t.store.Tags(ctx) })
	}
	if p.Existing == nil && in.Digest != (v1.Hash{}) {
		// A digest no tag names but the registry holds: an earlier run pushed
		// it and died before signing or tagging. Reuse it, so signing heals it.
		m, err := t.store.GetDigest(ctx, in.Digest)
		if err != nil {
			if err := unread(in.Digest.String(), err); err != nil {
				dropList()
				return p, err
			}
		}
		p.Existing = m
	}
	list()
	if p.Existing != nil {
		target = p.Existing.Digest
	}

	if in.Plan.Latest {
		// The tags before this run writes anything, listed only when Apply
		// may write latest (a warm run, latest already here, lists nothing):
		// Apply reads the builds that appear after this point, to find a
		// newer run whose move of latest it may have overwritten. The list
		// also says whether latest has a promotion record: only then is it
		// read (a main push of a repository never promoted on latest pays
		// no request for it).
		if listing {
			if listErr == nil {
				p.before, p.listed = all, true
			}
			if err := listErr; err != nil {
				if err := unread("tags", err); err != nil {
					return p, err
				}
			}
			if p.latestRec, err = t.promotionIn(ctx, p.before, pol.LatestTag); err != nil {
				if err := unread(tags.PromotionTag(pol.LatestTag), err); err != nil {
					return p, err
				}
			}
		}
		p.Moves = append(p.Moves, t.decideLatest(ctx, in, latest, target, p.latestRec))
	}
	if in.Plan.Stable {
		mv, err := t.planStable(ctx, in, &p, target)
		if err != nil {
			if err := unread(pol.StableTag, err); err != nil {
				return p, err
			}
			mv = Move{Tag: pol.StableTag, Action: ActionMove, Reason: "if it is the highest stable release"}
		}
		p.Moves = append(p.Moves, mv)
	}
	return p, nil
}

// decideLatest is the move of latest, now at cur, for this run's commit,
// given the promotion record of latest (nil if none). latest never moves
// backwards (tags.MoveLatest), and never past a promotion to a commit that is
// not newer than every commit the promotion rolled back over
// (tags.PastPromotion): a rollback of latest holds until a newer commit is
// published.
func (t *Tagger) decideLatest(ctx context.Context, in Input, cur *registry.Manifest, target v1.Hash, rec *Promotion) Move {
	tag := in.Policy.LatestTag
	mv := Move{Tag: tag}
	if cur != nil {
		mv.From = cur.Digest.String()
		if cur.Digest == target {
			mv.Action = ActionPresent
			return mv
		}
		h := headOf(cur)
		if h.IsZero() {
			h.SHA = "unknown" // a manifest without annotations is not ours to keep
		}
		if !tags.MoveLatest(h, in.Head, t.ancestor(ctx)) {
			mv.Action = ActionLeave
			mv.Reason = fmt.Sprintf("it holds a newer commit (%s) than this run's (%s)", shortSHA(h.SHA), shortSHA(in.Head.SHA))
			mv.Skipped = fmt.Sprintf("%s left at %s: %s", tag, cur.Digest, mv.Reason)
			return mv
		}
	}
	if rec.HoldsCommit(in.Head, t.ancestor(ctx)) {
		mv.Action, mv.Reason = ActionHold, rec.commitHoldReason(tag, in.Head.SHA)
		mv.Skipped = fmt.Sprintf("%s not moved: %s", tag, mv.Reason)
		return mv
	}
	mv.Action = ActionMove
	return mv
}

// list reads every tag of the repository into p.before, once.
func (t *Tagger) list(ctx context.Context, p *Plan) error {
	if p.listed {
		return nil
	}
	all, err := t.store.Tags(ctx)
	if err != nil {
		return err
	}
	p.before, p.listed = all, true
	return nil
}

// planStable is the move of the stable tag for a release, from every tag of
// the repository (listed into p.before unless it already was) and the
// promotion record.
func (t *Tagger) planStable(ctx context.Context, in Input, p *Plan, target v1.Hash) (Move, error) {
	tag, version := in.Policy.StableTag, in.Plan.Immutable
	if err := t.list(ctx, p); err != nil {
		return Move{}, err
	}
	all := p.before
	rec, err := t.ReadPromotion(ctx, tag)
	if err != nil {
		return Move{}, err
	}
	cur, err := t.store.Get(ctx, tag)
	if err != nil {
		return Move{}, err
	}
	mv := decideStable(tag, version, all, rec)
	if cur != nil {
		mv.From = cur.Digest.String()
		if mv.Action == ActionMove && cur.Digest == target {
			mv.Action = ActionPresent
		}
	}
	return mv, nil
}

// decideStable decides the stable tag for version given every tag of the
// repository and the promotion record of the stable tag (nil if none): a
// release the promotion rolled back over is held; otherwise the releases it
// rolled back over do not count, and the tag moves if version is the highest
// of the others (tags.MoveStable) and not below the promoted version.
func decideStable(tag, version string, all []string, rec *Promotion) Move {
	if rec.Holds(version) {
		mv := Move{Tag: tag, Action: ActionHold, Reason: rec.holdReason(tag, version)}
		mv.Skipped = fmt.Sprintf("%s not moved: %s", tag, mv.Reason)
		return mv
	}
	eff := effective(all, version, rec)
	if !tags.MoveStable(version, eff) {
		mv := Move{Tag: tag, Action: ActionLeave, Reason: fmt.Sprintf("%s is higher than %s", tags.HighestStable(eff), version)}
		mv.Skipped = fmt.Sprintf("%s not moved: %s", tag, mv.Reason)
		return mv
	}
	if rec.Below(version) {
		mv := Move{Tag: tag, Action: ActionHold, Reason: rec.holdReason(tag, version)}
		mv.Skipped = fmt.Sprintf("%s not moved: %s", tag, mv.Reason)
		return mv
	}
	return Move{Tag: tag, Action: ActionMove}
}

// effective is every tag with version among them and without the releases
// the promotion rolled back over: where the stable tag may go.
func effective(all []string, version string, rec *Promotion) []string {
	out := make([]string, 0, len(all)+1)
	for _, t := range all {
		if !rec.Holds(t) {
			out = append(out, t)
		}
	}
	if version != "" && !slices.Contains(out, version) && !rec.Holds(version) {
		// A registry whose tag list lags its writes: ours must count.
		out = append(out, version)
	}
	return out
}

// sameContent reports whether m is a Flux artifact whose content layer is
// layer.
func sameContent(m *registry.Manifest, layer v1.Hash) bool {
	if m == nil || m.Parsed == nil {
		return false
	}
	d, err := artifact.LayerDigest(m.Parsed)
	return err == nil && d == layer
}

// layerOf is the content layer digest of m for messages, or "".
func layerOf(m *registry.Manifest) string {
	if d, ok := m.LayerDigest(); ok {
		return d.String()
	}
	return ""
}

// conflict is the error for an immutable tag that holds other content than
// this run built, and what to do.
func (t *Tagger) conflict(in Input, have *registry.Manifest) error {
	imm := in.Plan.Immutable
	h := "nothing"
	if have != nil {
		if h = layerOf(have); h == "" {
			h = "manifest " + have.Digest.String()
		}
	}
	if tags.IsRelease(imm) {
		return tags.ImmutableConflict(imm, h, in.Layer.String())
	}
	return tags.BuildConflict(imm, h, in.Layer.String())
}

// headOf is the commit a manifest names in its revision and created
// annotations; zero when it names neither.
func headOf(m *registry.Manifest) tags.Head {
	var h tags.Head
	if m == nil {
		return h
	}
	a := annotations(m)
	if _, sha, err := tags.ParseRevision(a[artifact.RevisionAnnotation]); err == nil {
		h.SHA = sha
	}
	if c, err := time.Parse(time.RFC3339, a[artifact.CreatedAnnotation]); err == nil {
		h.Created = c
	}
	return h
}

func (t *Tagger) ancestor(ctx context.Context) func(a, b string) (bool, bool) {
	if t.ancestry == nil {
		return nil
	}
	return func(a, b string) (bool, bool) { return t.ancestry(ctx, a, b) }
}

func shortSHA(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// isBuildOf reports whether tag could be a build of branch: the branch's
// sanitized prefix, "-" and hex digits. Only those are read when looking for
// newer builds.
func isBuildOf(pol tags.Policy, branch, tag string) bool {
	probe, err := pol.BranchTag(branch, strings.Repeat("0", 40))
	if err != nil {
		return false
	}
	prefix := probe[:len(probe)-pol.SHALength]
	return strings.HasPrefix(tag, prefix) && len(tag) == len(probe)
}
