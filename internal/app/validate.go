package app

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/kustomize"
	"github.com/fleetpush/fleetpush/internal/report"
)

// validators holds the run's one Validator: it caches parsed types and schemas across
// components, and is safe for the concurrent workers.
type validators struct {
	once sync.Once
	v    *kustomize.Validator
	err  error
}

func (r *runner) validator() (*kustomize.Validator, error) {
	r.validators.once.Do(func() {
		// Components are already validated concurrently; one build at a time inside each keeps
		// the machine from oversubscribing.
		r.validators.v, r.validators.err = kustomize.New(kustomize.WithConcurrency(1), kustomize.WithMaxFileSize(r.cfg.MaxFileSize))
	})
	return r.validators.v, r.validators.err
}

// build builds a component's artifact with the run's ignore patterns and limits.
func (r *runner) build(c component.Component) (*artifact.Layer, error) {
	cfg := r.cfg
	layout, _ := cfg.Layout() // "" when pushing to a registry: a dist/ of the user's is content
	layer, err := artifact.Build(filepath.Join(r.src.dir, filepath.FromSlash(c.Dir)),
		artifact.WithIgnore(cfg.IgnorePaths...),
		artifact.WithLimits(artifact.Limits{MaxFiles: cfg.MaxFiles, MaxBytes: cfg.MaxBytes}),
		artifact.WithWorkspace(r.src.dir),
		artifact.WithLayoutDir(layout))
	if err != nil { // a limit's error names the input that raises it
		return nil, fmt.Errorf("building %s: %w", displayDir(c.Dir), err)
	}
	return layer, nil
}

// findings validates the files the artifact carries and reports them: errors as annotations on
// the file and line (in Actions) or path:line lines, notices as log lines. It returns the error
// findings as text.
func (r *runner) findings(ctx context.Context, c component.Component, layer *artifact.Layer, logf func(string, ...any)) ([]string, error) {
	v, err := r.validator()
	if err != nil {
		return nil, err
	}
	fs, err := v.Validate(ctx, layer.FS(), kustomize.Options{Prefix: r.repoPrefix(c), SchemaLocations: r.schemaLocations()})
	if err != nil {
		return nil, fmt.Errorf("validating %s: %w", displayDir(c.Dir), err)
	}
	var errs []string
	for _, f := range fs {
		if f.Severity == kustomize.Error {
			r.log.Error(f.File, f.Line, f.Message)
			errs = append(errs, f.String())
			continue
		}
		logf("notice: %s", f)
	}
	return errs, nil
}

// repoPrefix is the component folder relative to the repository root (not just --source), so
// annotations land on the right file in the pull request.
func (r *runner) repoPrefix(c component.Component) string {
	p := prefix(c.Dir)
	if r.src.git != nil && r.src.git.Prefix() != "" {
		p = r.src.git.Prefix() + "/" + p
	}
	return p
}

// validateCmd builds and validates every component without a registry: the pull-request check.
func (r *runner) validateCmd(ctx context.Context) (int, error) {
	results := r.forEach(ctx, r.src.components, func(ctx context.Context, c component.Component) report.Result {
		res := report.Result{Component: c.Name}
		var lines []string
		logf := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
		defer func() { r.log.Group(groupTitle(c, res), lines) }()
		layer, err := r.build(c)
		if err != nil {
			res.Status, res.Error = report.Failed, err.Error()
			return res
		}
		res.Digest, res.Size = layer.Digest.String(), layer.Size
		errs, err := r.findings(ctx, c, layer, logf)
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
	return r.finish(results, "fleetpush validate")
}

// schemaLocations are the schema-locations input, relative to the checkout unless absolute.
func (r *runner) schemaLocations() []string {
	var out []string
	for _, l := range r.cfg.SchemaLocations {
		if !filepath.IsAbs(l) {
			l = filepath.Join(r.src.dir, l)
		}
		out = append(out, l)
	}
	return out
}
