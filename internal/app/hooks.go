package app

import (
	"context"
	"encoding/json"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// validateLayer validates the files the artifact carries; it returns the findings as lines.
func (r *runner) validateLayer(ctx context.Context, c component.Component, layer *artifact.Layer) []string {
	return nil
}

// signDigest signs m before any tag moves.
func (r *runner) signDigest(ctx context.Context, store registry.Store, m *registry.Manifest, res *report.Result, logf func(string, ...any)) error {
	return nil
}

// actionsReport writes the outputs and the step summary when running in Actions.
func (r *runner) actionsReport(results []report.Result, title string) error {
	return nil
}
