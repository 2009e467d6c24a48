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
	preview    *previewer // nil when diff-against is none
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
		var col collector
		var rendered func(string, [][]byte)
		if m.preview != nil {
			rendered = col.add
		}
		errs, err := m.build.findingsRendered(ctx, c, layer, g.logf, rendered)
		switch {
		case err != nil:
			res.Status, res.Error = report.Failed, err.Error()
		case len(errs) > 0:
			res.Status, res.Findings = report.Invalid, errs
			res.Error = fmt.Sprintf("%d problem(s)", len(errs))
		default:
			res.Status = report.Valid
		}
		if m.preview != nil && err == nil {
			res.Preview = m.preview.compare(ctx, c, layer, col.side)
			if w := res.Preview.Warning; w != "" {
				name := c.Name
				if name == "" {
					name = "the artifact"
				}
				m.out.log.Warning("preview of %s: %s", name, w)
			}
		}
		return res
	})
	return m.out.finish(results, "fleetpush validate", "")
}
