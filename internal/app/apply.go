package app

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/sign"
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
	man := p.tags.Existing
	switch p.action() {
	case report.ActionPush:
		var err error
		if man, err = p.store.Push(ctx, p.img); err != nil {
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

	if signer != nil {
		prov := m.signers.provenance(p.c, m.src.sha, m.src.ref.Full(), m.build.ignore, m.annotations)
		opts := []sign.SignOption{sign.WithProvenance(prov)}
		if p.action() == report.ActionPush {
			opts = append(opts, sign.Subject(v1.Descriptor{MediaType: types.MediaType(man.MediaType), Digest: man.Digest, Size: int64(len(man.Raw))}))
		}
		release()
		if err := signDigest(ctx, signer, p.store, man, p.action() != report.ActionPush, res, g, opts...); err != nil {
			return err
		}
		if release, err = gate.enter(ctx); err != nil {
			return err
		}
	}

	out, err := p.tagger.Apply(ctx, p.tags, man)
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

// signDigest makes sure m carries the run's signatures and verifies them the way Flux will.
// reused says the digest was in the registry before this run, so a missing signature is healed.
func signDigest(ctx context.Context, signer sign.Signer, store repository, m *registry.Manifest, reused bool, res *report.Result, g *group, opts ...sign.SignOption) error {
	ref, err := store.Reference(m.Digest)
	if err != nil {
		return err
	}
	// A digest this run pushed cannot carry signatures yet: Sign skips looking for them.
	out, err := signer.Sign(ctx, ref, append([]sign.SignOption{sign.Reused(reused), sign.Fresh(!reused)}, opts...)...)
	if err != nil {
		return fmt.Errorf("signing %s: %w", ref, err)
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
