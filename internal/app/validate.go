package app

import (
	"context"
	"fmt"

	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/report"
)

// validateMode builds and validates every component without a registry: the pull-request check.
type validateMode struct {
	out        *reporter
	build      *builder
	components []component.Component
}

func (m *validateMode) run(ctx context.Context) (int, error) {
	results := m.out.forEach(ctx, m.components, func(ctx context.Context, c component.Component) report.Result {
		res := report.Result{Component: c.Name}
		var g group
		defer func() { m.out.log.Group(groupTitle(c, res), g.lines) }()
		layer, err := m.build.build(c, g.logf)
		if err != nil {
			res.Status, res.Error = report.Failed, err.Error()
			return res
		}
		res.Digest, res.Size = layer.Digest.String(), layer.Size
		errs, err := m.build.findings(ctx, c, layer, g.logf)
		switch {
		case err != nil:
			res.Status, res.Error = report.Failed, err.Error()
		case len(errs) > 0:
			res.Status, res.Findings = report.Invalid, errs
			res.Error = fmt.Sprintf("%d problem(s)", len(errs))
		default:
			res.Status = report.Valid
		}
		return res
	})
	return m.out.finish(results, "fleetpush validate", "")
}
