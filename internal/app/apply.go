package app

import (
	"context"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/sign"
	"github.com/fleetpush/fleetpush/internal/tagger"
)

// apply carries out a plan: push the artifact (or take the digest the registry holds), sign it,
// then set its tags. Nothing is tagged before it is signed, so no tag ever points at an unsigned
// digest. res receives what happened; on error it holds what was done before.
//
// It is called holding a slot of gate (release gives it back): the push and the tags happen
// inside a slot, the signing outside, so that other components use the registry while this one
// waits on the transparency log.
func (m *publishMode) apply(ctx context.Context, p *plan, signer sign.Signer, res *report.Result, g *group, gate *stageGate, release func()) (err error) {
	defer func() { release() }()
	defer p.drop() // the early verification, when signing did not take it
	var prov sign.Provenance
	if signer != nil {
		prov = m.signers.provenance(p.c, m.src.sha, m.src.ref.Full(), m.build.ignore, m.annotations)
	}
	man := p.tags.Existing
	var early *earlySigning // signing that started before the push ended
	switch p.action() {
	case report.ActionPush:
		if signer != nil {
			if early, err = m.signWhilePushing(ctx, p, signer, prov); err != nil {
				return err
			}
		}
		var err error
		man, err = p.store.Push(ctx, p.img)
		if err == nil && man.Digest != p.digest {
			// Never seen: the store pushes the image it is given. Signed was p.digest.
			err = fmt.Errorf("pushing %s: the registry stored %s, not the digest built and signed (%s)", p.store, man.Digest, p.digest)
		}
		if early != nil {
			early.pushed(err)
		}
		if err != nil {
			if early != nil {
				early.wait() // nothing is stored once the push failed: see signWhilePushing
			}
			return err
		}
		res.Status = report.Pushed
		g.logf("pushed %s", man.Digest)
	case report.ActionFinish:
		res.Status = report.Pushed
		g.logf("%s is already in %s without a tag (an earlier run stopped half-way): finishing it", man.Digest, p.store)
	default:
		res.Status = report.Unchanged
		g.logf("%s:%s already holds this content (%s): reusing its digest", p.store, p.tags.ExistingTag, man.Digest)
	}
	res.Digest, res.Size = man.Digest.String(), man.Size()

	var begun *tagger.Begun
	defer func() { begun.Drop() }()
	if signer != nil {
		release()
		var out sign.Result
		if early != nil {
			// Once the signatures are written and only their last check remains, the tags'
			// first reads go out beside it: reads only, no tag moves before the check.
			select {
			case <-early.stored:
				begun = p.tagger.Begin(ctx, p.tags)
			case <-early.done:
			}
			out, err = early.wait()
		} else {
			out, err = signExisting(ctx, signer, p.store, man, sign.WithProvenance(prov))
		}
		if err == nil {
			err = verifySigned(ctx, signer, p.store, man, out, res, g)
		}
		if err != nil {
			return err
		}
		rel, free := gate.tryEnter()
		if !free {
			// Waiting for the registry stage may take a while, during which another run may
			// move the tags: the early reads would be stale, so Apply reads afresh.
			begun.Drop()
			begun = nil
			if rel, err = gate.enter(ctx); err != nil {
				return err
			}
		}
		release = rel
	}

	out, err := p.tagger.ApplyBegun(ctx, p.tags, man, begun)
	res.Tags, res.Skipped = out.Tags, out.Skipped
	if out.Digest != "" {
		// Another run released this content under its own digest meanwhile: that is the release.
		g.logf("%s:%s already holds this content as %s (released meanwhile): its tags follow it", p.store, p.tags.Input.Plan.Immutable, out.Digest)
		res.Digest = out.Digest
	}
	for _, s := range out.Skipped {
		g.logf("%s", s)
	}
	return err
}

// earlySigning is the signing of a digest that runs while its push is in flight.
type earlySigning struct {
	push   chan error // the push's outcome, once
	done   chan struct{}
	stored chan struct{} // closed once the referrers index is written, before its last check
	out    sign.Result
	err    error
	cancel context.CancelFunc
}

// signWhilePushing starts signing the digest the plan built, which the run knows before the
// registry does: the certificate and the log entries (the longest waits of a keyless
// component) overlap the push. Sign writes nothing until the push has succeeded (WriteAfter):
// a push that fails leaves log entries for a digest that is not there, as a run killed after
// signing would, and nothing in the registry; no tag moves either way before the signatures
// are stored and verified.
func (m *publishMode) signWhilePushing(ctx context.Context, p *plan, signer sign.Signer, prov sign.Provenance) (*earlySigning, error) {
	ref, err := p.store.Reference(p.digest)
	if err != nil {
		return nil, err
	}
	raw, err := p.img.RawManifest()
	if err != nil {
		return nil, err
	}
	mt, err := p.img.MediaType()
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	e := &earlySigning{push: make(chan error, 1), done: make(chan struct{}), stored: make(chan struct{}), cancel: cancel}
	var stored sync.Once
	sctx = registry.WithIndexWritten(sctx, func() { stored.Do(func() { close(e.stored) }) })
	ready := func(ctx context.Context) error {
		select {
		case err := <-e.push:
			if err != nil {
				return fmt.Errorf("the push failed: %w", err)
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	go func() {
		defer close(e.done)
		e.out, e.err = signer.Sign(sctx, ref, sign.Reused(false), sign.Fresh(true),
			sign.Subject(v1.Descriptor{MediaType: mt, Digest: p.digest, Size: int64(len(raw))}),
			sign.WithProvenance(prov), sign.WriteAfter(ready))
		if e.err != nil {
			e.err = fmt.Errorf("signing %s: %w", ref, e.err)
		}
	}()
	return e, nil
}

// pushed hands the push's outcome to the signing; a failure cancels it.
func (e *earlySigning) pushed(err error) {
	e.push <- err
	if err != nil {
		e.cancel()
	}
}

// wait returns the signing's outcome once it has ended.
func (e *earlySigning) wait() (sign.Result, error) {
	<-e.done
	e.cancel()
	return e.out, e.err
}

// signExisting makes sure m, which was in the registry before this run, carries the run's
// signatures: those it lacks are added (a missing one is healed).
func signExisting(ctx context.Context, signer sign.Signer, store repository, m *registry.Manifest, opts ...sign.SignOption) (sign.Result, error) {
	ref, err := store.Reference(m.Digest)
	if err != nil {
		return sign.Result{}, err
	}
	out, err := signer.Sign(ctx, ref, append([]sign.SignOption{sign.Reused(true)}, opts...)...)
	if err != nil {
		return out, fmt.Errorf("signing %s: %w", ref, err)
	}
	return out, nil
}

// verifySigned records what Sign did for m (out) in res, and verifies m the way Flux will when
// Sign could not tell.
func verifySigned(ctx context.Context, signer sign.Signer, store repository, m *registry.Manifest, out sign.Result, res *report.Result, g *group) error {
	ref, err := store.Reference(m.Digest)
	if err != nil {
		return err
	}
	res.Signed, res.Identity = string(out.Status), out.Identity
	res.Attached = attached(out)
	if out.RekorLogIndex >= 0 {
		idx := out.RekorLogIndex
		res.LogIndex = &idx
	}
	// Sign verified each signature it wrote against the trust root and the expected identity
	// before storing it, and each it found as the registry serves it (out.Verification): a
	// private Sigstore with a wrong root fails there, not in the cluster. What it wrote the
	// registry acknowledged by digest, so reading it back would only cost requests. When Sign
	// cannot say what Flux will accept (another signer's bundles are attached, which Flux
	// prefers), the digest is verified as the registry serves it, the way Flux will.
	how := "offline, before storing"
	if out.Verification == nil {
		if err := signer.Verify(ctx, ref); err != nil {
			return fmt.Errorf("verifying %s after signing: %w", ref, err)
		}
		how = "as the registry serves it"
	}
	res.Verified = true
	g.logf("signed (%s) and verified %s as %s (%s)", out.Status, m.Digest, out.Identity, how)
	return nil
}

// attached says, per kind, what a Sign call wrote (new) or found (existing): the legacy
// signature, the Sigstore bundle and the SLSA provenance.
func attached(r sign.Result) map[string]string {
	out := map[string]string{}
	for k, v := range map[string]sign.Attached{"legacy": r.Legacy, "bundle": r.Bundle, "provenance": r.Provenance} {
		if v != sign.AttachedNone {
			out[k] = string(v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
