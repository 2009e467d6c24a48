package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/config"
	"github.com/fleetpush/fleetpush/internal/report"
)

// verify checks what is published: each tag (the version given, else latest and latest-stable)
// must resolve to a digest whose signature verifies for the identity Flux is told to expect.
// latest must be signed by a push to the main branch, releases by a release tag of the component.
func (r *runner) verify(ctx context.Context) (int, error) {
	cfg := r.cfg
	if cfg.Sign == config.SignNone {
		return ExitUsage, fmt.Errorf("sign: verify checks signatures: set sign to keyless (with the identity inputs) or key (with cosign-key)")
	}
	pol := r.policy()
	results := r.forEach(ctx, r.src.components, func(ctx context.Context, c component.Component) report.Result {
		res := report.Result{Component: c.Name, Repository: r.target(c)}
		store, err := r.registry.Open(res.Repository)
		if err != nil {
			res.Status, res.Error = report.Failed, err.Error()
			return res
		}
		type check struct{ tag, ref string }
		var checks []check
		if cfg.Version != "" {
			checks = append(checks, check{cfg.Version, r.releaseRef(c.Name, cfg.Version)})
		} else {
			checks = append(checks,
				check{pol.LatestTag, "refs/heads/" + pol.MainBranch},
				check{pol.StableTag, r.releaseRef(c.Name, "v0.0.0")})
		}
		var problems []string
		for _, ch := range checks {
			m, err := store.Get(ctx, ch.tag)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			if m == nil {
				res.Skipped = append(res.Skipped, fmt.Sprintf("%s: no such tag", ch.tag))
				continue
			}
			rs, ok := store.(referencer)
			if !ok {
				problems = append(problems, fmt.Sprintf("%s is not a registry", store))
				continue
			}
			v, err := r.signerFor(ctx, r.identityFor(ch.ref, c.Name, false))
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			if err := v.Verify(ctx, rs.Reference(m.Digest)); err != nil {
				problems = append(problems, fmt.Sprintf("%s → %s: %v", ch.tag, m.Digest, err))
				continue
			}
			res.Tags = append(res.Tags, ch.tag)
			if res.Digest == "" {
				res.Digest, res.Size = m.Digest.String(), m.Size()
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
	})
	return r.finish(results, "fleetpush verify")
}
