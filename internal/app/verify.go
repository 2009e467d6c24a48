package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/tagger"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// verifyMode checks what is published: each tag (the version given, else latest and
// latest-stable) must resolve to a digest whose signature verifies for the identity Flux is told
// to expect. latest must be signed by a push to the main branch, releases by a release tag of the
// component, and a channel that promote pointed at a release (its promotion record names that
// digest) by that release's tag.
type verifyMode struct {
	out        *reporter
	components []component.Component
	policy     tags.Policy
	stores     *stores
	signers    *signers
	version    string // the version input: check only it
}

func (m *verifyMode) run(ctx context.Context) (int, error) {
	if m.signers.off() {
		return ExitUsage, fmt.Errorf("sign: verify checks signatures: set sign to keyless (with the identity inputs) or key (with cosign-key)")
	}
	results := m.out.forEach(ctx, m.components, m.one)
	return m.out.finish(results, "fleetpush verify", "")
}

func (m *verifyMode) one(ctx context.Context, c component.Component) report.Result {
	res := report.Result{Component: c.Name, Repository: m.stores.target(c)}
	store, err := m.stores.open(res.Repository)
	if err != nil {
		res.Status, res.Error = report.Failed, err.Error()
		return res
	}
	type check struct{ tag, ref string }
	var checks []check
	if m.version != "" {
		checks = append(checks, check{m.version, releaseRef(c.Name, m.version)})
	} else {
		checks = append(checks,
			check{m.policy.LatestTag, "refs/heads/" + m.policy.MainBranch},
			check{m.policy.StableTag, releaseRef(c.Name, "v0.0.0")})
	}
	var problems []string
	for _, ch := range checks {
		man, err := store.Get(ctx, ch.tag)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if man == nil {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: no such tag", ch.tag))
			continue
		}
		ref, err := store.Reference(man.Digest)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if m.version == "" {
			// A channel that promote pointed at a release holds that release, signed by the
			// release workflow: check it for that identity (a rollback of latest is not a build
			// of the main branch).
			rec, err := tagger.New(store, nil).ReadPromotion(ctx, ch.tag)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			if rec != nil && rec.Digest == man.Digest.String() {
				ch.ref = releaseRef(c.Name, rec.Version)
			}
		}
		v, err := m.signers.verifier(ctx, ch.ref, c.Name)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if err := v.Verify(ctx, ref); err != nil {
			problems = append(problems, fmt.Sprintf("%s → %s: %v", ch.tag, man.Digest, err))
			continue
		}
		res.Tags = append(res.Tags, ch.tag)
		if res.Digest == "" {
			res.Digest, res.Size = man.Digest.String(), man.Size()
		}
	}
	switch {
	case len(problems) > 0:
		res.Status, res.Error = report.Failed, strings.Join(problems, "; ")
	case len(res.Tags) == 0:
		res.Status, res.Error = report.Failed, "none of the tags exist: nothing to verify"
	default:
		res.Status, res.Verified = report.Verified, true
	}
	return res
}
