package tagger

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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
	ActionHold    Action = "hold"    // the stable tag stays: a promotion rolled this release back
)

// Move is one tag's action and, for a tag that does not move to this
// artifact, why.
type Move struct {
	Tag    string `json:"tag"`
	Action Action `json:"action"`
	Reason string `json:"reason,omitempty"`
	// From is the digest the tag pointed at when it was read; "" if absent.
	From string `json:"from,omitempty"`
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
	// Moves are the tags in the order Apply sets them: the immutable tag,
	// then latest or the stable tag when the ref moves one.
	Moves []Move `json:"moves"`
	// Notes are what a dry run could not read, and planned around.
	Notes []string `json:"notes,omitempty"`

	// before are the tags listed before the run writes anything: Apply
	// looks for builds of the branch tagged since, to hand latest to.
	before []string
	// listed reports that before was read.
	listed bool
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
	return Plan{}, errors.New("tagger: Plan is not implemented yet")
}
