package tagger

import (
	"context"
	"errors"

	"github.com/fleetpush/fleetpush/internal/registry"
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
}

// Apply sets the tags of p on m, the manifest the run pushed (or
// p.Existing), once it is signed: no tag ever points at an unsigned digest.
// Each decision of the plan is taken again on a fresh read. A release's
// version tag is written through the claim protocol (see the package
// documentation); latest and the stable tag converge with overlapping runs.
// On error the Outcome holds what was done before it.
func (t *Tagger) Apply(ctx context.Context, p Plan, m *registry.Manifest) (Outcome, error) {
	return Outcome{}, errors.New("tagger: Apply is not implemented yet")
}
