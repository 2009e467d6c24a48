package app

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/config"
	"github.com/fleetpush/fleetpush/internal/kustomize"
	"github.com/fleetpush/fleetpush/internal/report"
)

// builder builds a component's artifact and validates it: the steps publish and validate share.
type builder struct {
	dir             string // the checkout
	repoPrefix      string // the checkout's folder in the git repository, "" at its root
	ignore          []string
	limits          artifact.Limits
	layoutDir       string // the oci-layout folder, as given; "" for a registry
	maxFileSize     int64
	allowEmpty      bool
	schemaLocations []string // absolute
	log             *report.Log

	once      sync.Once
	validator *kustomize.Validator
	err       error
	// budget is the run's validation budget, shared by every component's validation, so
	// many components together cannot spend more than one run may.
	budget *kustomize.Budget
}

func newBuilder(cfg *config.Config, src *source, log *report.Log) *builder {
	b := &builder{
		dir:    src.dir,
		ignore: cfg.IgnorePaths,
		limits: artifact.Limits{MaxFiles: cfg.MaxFiles, MaxBytes: cfg.MaxBytes, MaxFileSize: cfg.MaxFileSize},
		log:    log,

		maxFileSize: cfg.MaxFileSize,
		allowEmpty:  cfg.AllowEmpty,
		budget: kustomize.NewBudget(kustomize.Limits{YAMLNodes: int64(cfg.MaxYAMLNodes), YAMLBytes: cfg.MaxYAMLBytes,
			Objects: int64(cfg.MaxObjects), RenderedBytes: cfg.MaxRenderedBytes}),
	}
	b.layoutDir, _ = cfg.Layout() // "" when pushing to a registry: a dist/ of the user's is content
	if src.git != nil {
		b.repoPrefix = src.git.Prefix()
	}
	for _, l := range cfg.SchemaLocations {
		if !filepath.IsAbs(l) {
			l = filepath.Join(src.dir, l)
		}
		b.schemaLocations = append(b.schemaLocations, l)
	}
	return b
}

// build builds a component's artifact with the run's ignore patterns and limits. The run's own
// OCI layout output is left out of it, and logf says so: never a user's file without a word.
func (b *builder) build(c component.Component, logf func(string, ...any)) (*artifact.Layer, error) {
	opts := []artifact.Option{
		artifact.WithIgnore(b.ignore...),
		artifact.WithLimits(b.limits),
		artifact.WithWorkspace(b.dir),
		artifact.WithLayoutDir(b.layoutDir),
	}
	if b.layoutDir != "" {
		opts = append(opts, artifact.WithLayoutTarget(layoutTarget(b.layoutDir, c)))
	}
	layer, err := artifact.Build(filepath.Join(b.dir, filepath.FromSlash(c.Dir)), opts...)
	if err != nil { // a limit's error names the input that raises it
		return nil, fmt.Errorf("building %s: %w", displayDir(c.Dir), err)
	}
	for _, p := range layer.LeftOut {
		logf("left out %q: it is the OCI layout this run writes to (repository oci-layout:%s); to publish a folder by that name, write the layout elsewhere with --repository oci-layout:DIR", p, b.layoutDir)
	}
	return layer, nil
}

// kustomizer is the run's one Validator: it caches parsed types and schemas across components,
// and is safe for the concurrent workers.
func (b *builder) kustomizer() (*kustomize.Validator, error) {
	b.once.Do(func() {
		// Components are already validated concurrently; one build at a time inside each keeps
		// the machine from oversubscribing.
		b.validator, b.err = kustomize.New(kustomize.WithConcurrency(1),
			kustomize.WithMaxFileSize(b.maxFileSize), kustomize.WithAllowEmpty(b.allowEmpty))
	})
	return b.validator, b.err
}

// findings validates the files the artifact carries and reports them: errors as annotations on
// the file and line (in Actions) or path:line lines, notices as log lines. It returns the error
// findings as text.
func (b *builder) findings(ctx context.Context, c component.Component, layer *artifact.Layer, logf func(string, ...any)) ([]string, error) {
	return b.findingsRendered(ctx, c, layer, logf, nil)
}

// findingsRendered is findings that also hands what each kustomization folder rendered to
// rendered (when not nil), for the preview.
func (b *builder) findingsRendered(ctx context.Context, c component.Component, layer *artifact.Layer, logf func(string, ...any), rendered func(string, [][]byte)) ([]string, error) {
	v, err := b.kustomizer()
	if err != nil {
		return nil, err
	}
	fs, err := v.Validate(ctx, layer.FS(), kustomize.Options{Prefix: b.prefix(c), SchemaLocations: b.schemaLocations,
		Budget: b.budget, Component: c.Name, Rendered: rendered})
	if err != nil {
		return nil, fmt.Errorf("validating %s: %w", displayDir(c.Dir), err)
	}
	var errs []string
	for _, f := range fs {
		if f.Severity == kustomize.Error {
			b.log.Error(f.File, f.Line, f.Message)
			errs = append(errs, f.String())
			continue
		}
		logf("notice: %s", f)
	}
	return errs, nil
}

// prefix is the component folder relative to the repository root (not just --source), so
// annotations land on the right file in the pull request.
func (b *builder) prefix(c component.Component) string {
	p := prefix(c.Dir)
	if b.repoPrefix != "" {
		p = b.repoPrefix + "/" + p
	}
	return p
}
