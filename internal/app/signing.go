package app

import (
	"context"
	"fmt"
	"regexp"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/config"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/sign"
)

// signers holds the run's Signer: one for publishing (one OIDC token and one certificate shared
// by every component), and verifiers per expected identity for promote and verify.
type signers struct {
	mu       sync.Mutex
	bySubj   map[string]sign.Signer
	errBySub map[string]error
}

// referencer is a Store that can name a digest for the signer (remote registries).
type referencer interface {
	Reference(d v1.Hash) name.Digest
}

// identityFor is the identity this run's signatures carry (publish) or must carry (verify,
// promote) for ref, of component (the release component, or "").
func (r *runner) identityFor(ref, component string, ofThisWorkflow bool) sign.Identity {
	gh := r.cfg.GitHub
	workflow := ""
	if ofThisWorkflow {
		workflow = gh.WorkflowRef
	}
	id := sign.ExpectedIdentity(gh.ServerURL, gh.Repository, workflow, ref, component)
	if r.cfg.CertIssuer != "" {
		id.Issuer = "^" + regexp.QuoteMeta(r.cfg.CertIssuer) + "$"
	}
	if r.cfg.CertIdentity != "" {
		id.Subject = r.cfg.CertIdentity
	}
	return id
}

// signerFor returns (creating it once) the Signer for an identity.
func (r *runner) signerFor(ctx context.Context, id sign.Identity) (sign.Signer, error) {
	r.signers.mu.Lock()
	defer r.signers.mu.Unlock()
	key := id.Issuer + " " + id.Subject
	if s, ok := r.signers.bySubj[key]; ok {
		return s, r.signers.errBySub[key]
	}
	if r.signers.bySubj == nil {
		r.signers.bySubj, r.signers.errBySub = map[string]sign.Signer{}, map[string]error{}
	}
	cfg := r.cfg
	s, err := sign.New(ctx, sign.Options{
		Mode:              cfg.Sign,
		Key:               cfg.CosignKey,
		KeyPassword:       cfg.CosignPassword,
		FulcioURL:         cfg.FulcioURL,
		RekorURL:          cfg.RekorURL,
		FulcioRoot:        cfg.FulcioRoot,
		RekorPublicKey:    cfg.RekorPublicKey,
		TLogUpload:        cfg.TLogUpload,
		CTLogPublicKey:    cfg.CTLogPublicKey,
		TokenRequestURL:   cfg.GitHub.TokenRequestURL,
		TokenRequestToken: cfg.GitHub.TokenRequestToken,
		Expected:          id,
		RemoteOptions:     r.registry.RemoteOptions(),
		Transport:         r.registry.RetryTransport(func(f string, a ...any) { r.log.Printf("sign: "+f, a...) }),
		Logf:              func(f string, a ...any) { r.log.Printf("sign: "+f, a...) },
	})
	r.signers.bySubj[key], r.signers.errBySub[key] = s, err
	return s, err
}

// publishSigner is the Signer of a publish run, or nil when signing is off or skipped.
func (r *runner) publishSigner(ctx context.Context, releaseComponent string) (sign.Signer, error) {
	cfg := r.cfg
	if cfg.Sign == config.SignNone {
		return nil, nil
	}
	if cfg.GitHub.Act && cfg.Sign == config.SignKeyless {
		if !cfg.DryRunOn {
			// Tagging unsigned digests would be worse than not publishing: refuse.
			return nil, fmt.Errorf("keyless signing cannot run under act, which provides no OIDC token: keep dry-run: auto (or true) under act, or use sign: key or sign: none")
		}
		r.skipNotice.Do(func() {
			r.log.Notice("keyless signing skipped under act: act provides no OIDC token (the plan shows what would be signed)")
		})
		return nil, nil
	}
	s, err := r.signerFor(ctx, r.identityFor(r.src.ref.Full(), releaseComponent, true))
	if err != nil {
		return nil, err
	}
	if sn := s.Snippet(); sn != "" {
		r.snippetOnce.Do(func() { r.snippet = sn })
	}
	return s, nil
}

// signDigest signs m before any tag moves and verifies it the way Flux will.
//
// reused says the digest was in the registry before this run, so a missing signature is healed.
func (r *runner) signDigest(ctx context.Context, store registry.Store, m *registry.Manifest, reused bool, res *report.Result, logf func(string, ...any)) error {
	if r.signer == nil {
		return nil
	}
	rs, ok := store.(referencer)
	if !ok {
		return fmt.Errorf("signing needs a registry, not %s", store)
	}
	ref := rs.Reference(m.Digest)
	out, err := r.signer.Sign(ctx, ref, sign.Reused(reused))
	if err != nil {
		return fmt.Errorf("signing %s: %w", ref, err)
	}
	res.Signed, res.Identity = string(out.Status), out.Identity
	if out.RekorLogIndex >= 0 {
		idx := out.RekorLogIndex
		res.LogIndex = &idx
	}
	if err := r.signer.Verify(ctx, ref); err != nil {
		return fmt.Errorf("verifying %s after signing: %w", ref, err)
	}
	res.Verified = true
	logf("signed (%s) and verified %s as %s", out.Status, m.Digest, out.Identity)
	return nil
}

// verifyDigest checks m's signature for the identity of a release of res's component, when
// signing is on: what promote requires before moving a channel.
func (r *runner) verifyDigest(ctx context.Context, store registry.Store, m *registry.Manifest, res *report.Result) error {
	if r.cfg.Sign == config.SignNone {
		r.log.Warning("%s: sign is none: the signature of %s is not checked", res.Repository, m.Digest)
		return nil
	}
	rs, ok := store.(referencer)
	if !ok {
		return fmt.Errorf("verifying needs a registry, not %s", store)
	}
	ref := r.releaseRef(res.Component, r.cfg.Version)
	v, err := r.signerFor(ctx, r.identityFor(ref, res.Component, false))
	if err != nil {
		return err
	}
	if err := v.Verify(ctx, rs.Reference(m.Digest)); err != nil {
		return err
	}
	res.Verified = true
	return nil
}

// releaseRef is the git ref of a release of component (vX.Y.Z for a single artifact).
func (r *runner) releaseRef(component, version string) string {
	if component == "" {
		return "refs/tags/" + version
	}
	return "refs/tags/" + component + "/" + version
}
