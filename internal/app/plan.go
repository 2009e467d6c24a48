package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/preview"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/retry"
	"github.com/fleetpush/fleetpush/internal/sign"
	"github.com/fleetpush/fleetpush/internal/tagger"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// plan is what publish will do for one component, decided from the checkout, git and the
// registry before anything is written: build, validate, push or reuse, the digest, the
// signatures to add and every tag move with its reason. A dry run reports it and stops; a real
// run reports the same plan and carries it out (apply).
type plan struct {
	c        component.Component
	store    repository
	layer    *artifact.Layer
	img      v1.Image     // the artifact as built; pushed when nothing in the registry holds it
	digest   v1.Hash      // img's digest
	size     int64        // img's manifest, config and layer
	findings []string     // validation errors, when there are any (the plan then fails)
	rendered preview.Side // what each kustomization folder rendered, for a dry run's preview

	tagger     *tagger.Tagger
	tags       tagger.Plan
	signatures []string // by format, as the run's signer writes them

	// dropVerify abandons the speculative verification of digest (see verifyEarly) unless the
	// signer took it; never nil once plan returns.
	dropVerify func()
}

// drop abandons what the plan started and apply did not take.
func (p *plan) drop() {
	if p != nil && p.dropVerify != nil {
		p.dropVerify()
	}
}

// plan builds and validates the component and reads the registry; it writes nothing.
func (m *publishMode) plan(ctx context.Context, c component.Component, tp tags.Plan, an *ancestry, g *group) (_ *plan, err error) {
	p := &plan{c: c}
	// The tags the plan reads first are read while the component builds and validates: the
	// registry's first answers (its ping and token included) leave the critical path.
	early := m.readEarly(ctx, c, tp)
	defer early.stop()
	layer, err := m.build.build(c, g.logf)
	if err != nil {
		return nil, err
	}
	p.layer = layer
	g.logf("built %d entries, layer %s (%d bytes)", len(layer.Files), layer.Digest, layer.Size)

	src := m.src
	if p.img, err = artifact.Image(layer, artifact.Meta{
		Source:      src.url,
		Revision:    tags.Revision(src.ref.Name, src.sha),
		Created:     src.created,
		Annotations: m.annotations,
	}); err != nil {
		return nil, err
	}
	if p.digest, err = p.img.Digest(); err != nil {
		return nil, err
	}
	man, err := p.img.Manifest()
	if err != nil {
		return nil, err
	}
	raw, err := p.img.RawManifest()
	if err != nil {
		return nil, err
	}
	// The same sum a pushed manifest reports: manifest, config and layer.
	p.size = int64(len(raw)) + man.Config.Size + layer.Size
	p.dropVerify = m.verifyEarly(ctx, c, p.digest)
	defer func() {
		if err != nil {
			p.drop() // nothing of the plan is carried out
		}
	}()

	if m.validate {
		var col collector
		var rendered func(string, [][]byte)
		if m.preview != nil && m.dryRun {
			rendered = col.add
		}
		errs, err := m.build.findingsRendered(ctx, c, layer, g.logf, rendered)
		p.rendered = col.side
		if err != nil {
			return nil, err
		}
		if len(errs) > 0 {
			p.findings = errs
			return p, fmt.Errorf("validation found %d problem(s); nothing was published", len(errs))
		}
	}

	if p.store, err = m.stores.open(m.stores.target(c)); err != nil {
		return nil, err
	}

	// The plan's reads side by side: a one-component run waits for each round trip.
	topts := append([]tagger.Option{tagger.WithLogf(g.logf), tagger.WithParallelReads()}, m.tagOptions...)
	if m.signer != nil {
		// latest or the stable tag is handed to another run's digest only when it carries the
		// signatures this run requires: a tag that Flux follows never lands on a digest that
		// fails its verification.
		signer, store := m.signer, p.store
		topts = append(topts, tagger.WithHandOverCheck(func(ctx context.Context, man *registry.Manifest) error {
			ref, err := store.Reference(man.Digest)
			if err != nil {
				return err
			}
			err = signer.Verify(ctx, ref)
			if err != nil && unverified(ctx, err) {
				return fmt.Errorf("%w: %w", tagger.ErrRefused, err)
			}
			return err
		}))
	}
	p.tagger = tagger.New(early.over(p.store), an.ask, topts...)
	in := tagger.Input{
		Policy: m.policy,
		Plan:   tp,
		Head:   tags.Head{SHA: src.sha, Created: src.created},
		Digest: p.digest,
		Layer:  layer.Digest,
		DryRun: m.dryRun,
	}
	if src.ref.Kind == tags.Branch {
		in.Branch = src.ref.Name
	}
	p.tags, err = p.tagger.Plan(ctx, in)
	early.stop() // the reads after the plan's (Apply's) go to the registry
	if err != nil {
		return nil, err
	}
	for _, n := range p.tags.Notes {
		g.logf("dry run: %s", n)
	}
	p.signatures = m.signers.formats()
	if p.tags.Existing == nil || p.tags.Existing.Digest != p.digest {
		// The registry holds no digest or another one: what was read of the local digest
		// speaks of nothing this run signs or tags.
		p.drop()
	}
	return p, nil
}

// verifyEarly starts verifying the signatures the digest this run built (digest) may carry
// already, when the run's signer can (sign.Prefetcher): on a re-run the registry holds that
// digest, signed, and its verification's chain of reads runs beside the plan's reads of the
// tags instead of after them. It is speculation: the Sign of that digest in the same repository
// takes it, nothing else does, so when the registry turns out to hold another digest (or none)
// the reads were only wasted. The returned func abandons it.
func (m *publishMode) verifyEarly(ctx context.Context, c component.Component, digest v1.Hash) func() {
	pf, ok := m.signer.(sign.Prefetcher)
	if !ok || m.stores.isLayout {
		return func() {}
	}
	store, err := m.stores.open(m.stores.target(c))
	if err != nil {
		return func() {} // the plan reports it
	}
	ref, err := store.Reference(digest)
	if err != nil {
		return func() {}
	}
	return pf.Prefetch(ctx, ref)
}

// action is what the plan does with the artifact.
func (p *plan) action() report.Action {
	switch {
	case p.tags.Existing == nil:
		return report.ActionPush
	case p.tags.ExistingTag == "":
		return report.ActionFinish
	}
	return report.ActionReuse
}

// report is the plan as the results show it.
func (p *plan) report() *report.Plan {
	return &report.Plan{Action: p.action(), Signatures: p.signatures, Tags: tagPlans(p.tags.Moves)}
}

// tagPlans are the tag engine's moves as the results show them.
func tagPlans(moves []tagger.Move) []report.TagPlan {
	out := make([]report.TagPlan, 0, len(moves))
	for _, mv := range moves {
		out = append(out, report.TagPlan{Tag: mv.Tag, Action: string(mv.Action), From: mv.From, Reason: mv.Reason})
	}
	return out
}

// dryRun reports the plan as the result of a dry run: what would be pushed and tagged.
func (p *plan) dryRun(res *report.Result, g *group) {
	res.Status = report.Planned
	res.Digest, res.Size = p.digest.String(), p.size
	res.Tags = p.tags.Tags()
	for _, mv := range p.tags.Moves {
		if mv.Skipped != "" {
			res.Skipped = append(res.Skipped, mv.Skipped) // in the words a real run uses
			g.logf("%s", mv.Skipped)
		}
	}
	switch p.action() {
	case report.ActionReuse:
		res.Status = report.Unchanged
		res.Digest, res.Size = p.tags.Existing.Digest.String(), p.tags.Existing.Size()
		g.logf("unchanged: would make sure %s point at %s", strings.Join(res.Tags, ", "), res.Digest)
	case report.ActionFinish:
		g.logf("would finish %s (in %s without a tag) and tag it %s", res.Digest, p.store, strings.Join(res.Tags, ", "))
	default:
		g.logf("would push %s and tag it %s", res.Digest, strings.Join(res.Tags, ", "))
	}
}

// unverified tells a digest that does not verify from a check that could not be made: the run
// cancelled, or the registry or the log failing in a way that may heal (their errors are
// verification errors too when cosign met them while verifying).
func unverified(ctx context.Context, err error) bool {
	if ctx.Err() != nil || !errors.Is(err, sign.ErrVerify) || retry.Transient(err) != "" {
		return false
	}
	var te *transport.Error
	return !errors.As(err, &te) || !retry.Healable(te.StatusCode)
}

// earlyReads holds reads of a component's tags started before its plan needs them (readEarly):
// the plan's first Get of each such tag takes the early answer, every other Get (and every Get
// after stop) goes to the registry. An early read is still a read made before this run writes
// anything, as the plan's own are.
type earlyReads struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	reads  map[string]*earlyRead
}

type earlyRead struct {
	done chan struct{}
	m    *registry.Manifest
	err  error
}

// readEarly starts reading the immutable tag of tp and, when the run may move it, latest, in
// c's repository; nil (which reads nothing early) for an OCI layout folder or a repository that
// does not open (the plan reports that).
func (m *publishMode) readEarly(ctx context.Context, c component.Component, tp tags.Plan) *earlyReads {
	if m.stores.isLayout {
		return nil
	}
	store, err := m.stores.open(m.stores.target(c))
	if err != nil {
		return nil
	}
	names := []string{tp.Immutable}
	if tp.Latest {
		names = append(names, m.policy.WithDefaults().LatestTag)
	}
	ctx, cancel := context.WithCancel(ctx)
	e := &earlyReads{cancel: cancel, reads: map[string]*earlyRead{}}
	for _, tag := range names {
		r := &earlyRead{done: make(chan struct{})}
		e.reads[tag] = r
		go func() {
			defer close(r.done)
			r.m, r.err = store.Get(ctx, tag)
		}()
	}
	return e
}

// over is store with e's early answers.
func (e *earlyReads) over(store repository) registry.Store {
	if e == nil {
		return store
	}
	return earlyStore{repository: store, e: e}
}

// take hands out the early read of tag, once.
func (e *earlyReads) take(tag string) *earlyRead {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.reads[tag]
	delete(e.reads, tag)
	return r
}

// stop drops the early reads not taken, and waits for those still running.
func (e *earlyReads) stop() {
	if e == nil {
		return
	}
	e.mu.Lock()
	left := e.reads
	e.reads = map[string]*earlyRead{}
	e.mu.Unlock()
	e.cancel()
	for _, r := range left {
		<-r.done
	}
}

type earlyStore struct {
	repository
	e *earlyReads
}

func (s earlyStore) Get(ctx context.Context, tag string) (*registry.Manifest, error) {
	r := s.e.take(tag)
	if r == nil {
		return s.repository.Get(ctx, tag)
	}
	select {
	case <-r.done:
		return r.m, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
