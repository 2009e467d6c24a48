package app

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/config"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/sign"
)

// signers makes the run's Signers: one for publishing (one OIDC token and one certificate
// shared by every component), and verifiers per expected identity for promote and verify. It is
// the one place that turns the signing inputs into sign.Options.
type signers struct {
	opts     sign.Options // everything but Expected
	mode     string
	gh       config.GitHub
	issuer   string // certificate-oidc-issuer input: an exact issuer URL
	identity string // certificate-identity-regexp input
	newSign  func(context.Context, sign.Options) (sign.Signer, error)

	mu    sync.Mutex
	cache map[sign.Identity]signerOrErr
}

type signerOrErr struct {
	s   sign.Signer
	err error
}

func newSigners(cfg *config.Config, client *registry.Client, log *report.Log, newSign func(context.Context, sign.Options) (sign.Signer, error)) *signers {
	logf := func(f string, a ...any) { log.Printf("sign: "+f, a...) }
	return &signers{
		opts: sign.Options{
			Mode:              cfg.Sign,
			Key:               cfg.CosignKey,
			KeyPassword:       cfg.CosignPassword,
			FulcioURL:         cfg.FulcioURL,
			RekorURL:          cfg.RekorURL,
			FulcioRoot:        cfg.FulcioRoot,
			RekorPublicKey:    cfg.RekorPublicKey,
			TLogUpload:        cfg.TLogUpload,
			CTLogPublicKey:    cfg.CTLogPublicKey,
			TrustedRoot:       cfg.TrustedRoot,
			SignatureFormat:   sign.SignatureFormat(cfg.SignatureFormat),
			Provenance:        cfg.Provenance,
			TokenRequestURL:   cfg.GitHub.TokenRequestURL,
			TokenRequestToken: cfg.GitHub.TokenRequestToken,
			RemoteOptions:     client.RemoteOptions(),
			BlobWriter:        client.BlobWriter(),
			MaxTagPages:       client.MaxTagPages(),
			Transport:         client.RetryTransport(logf),
			Logf:              logf,
		},
		mode:     cfg.Sign,
		gh:       cfg.GitHub,
		issuer:   cfg.CertIssuer,
		identity: cfg.CertIdentity,
		newSign:  newSign,
		cache:    map[sign.Identity]signerOrErr{},
	}
}

// logged reports whether signing records each signature in a transparency log, and so waits on
// it: keyless signing, or a key with tlog-upload.
func (s *signers) logged() bool {
	return s.mode == sign.ModeKeyless || (s.mode == sign.ModeKey && s.opts.TLogUpload)
}

// off reports whether signing is switched off (sign: none).
func (s *signers) off() bool { return s.mode == sign.ModeNone }

// formats names the signatures a Signer of this run puts on each digest, for the plan: the
// signer decides what it writes, this lists it before any signer exists (a dry run makes none).
func (s *signers) formats() []string {
	if s.off() {
		return nil
	}
	var out []string
	switch f := s.opts.SignatureFormat; {
	case f == sign.FormatLegacy:
		out = append(out, "legacy") // cosign's sha256-<hex>.sig
	case f == sign.FormatBundle:
		out = append(out, "bundle") // a Sigstore bundle as an OCI referrer, as cosign v3 signs
	default:
		out = append(out, "legacy", "bundle")
	}
	if s.opts.Provenance {
		out = append(out, "provenance")
	}
	return out
}

// provenance is what the SLSA provenance of a component's artifact says about its build: the
// workflow, the event, the commit, and the inputs that shaped the artifact.
func (s *signers) provenance(c component.Component, commit, ref string, ignore []string, annotations map[string]string) sign.Provenance {
	inputs := map[string]string{}
	if c.Name != "" {
		inputs["component"] = c.Name
	}
	inputs["path"] = c.Dir
	if len(ignore) > 0 {
		inputs["ignore-paths"] = strings.Join(ignore, "\n")
	}
	if len(annotations) > 0 {
		keys := make([]string, 0, len(annotations))
		for k := range annotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for i, k := range keys {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(k + "=" + annotations[k])
		}
		inputs["annotations"] = b.String()
	}
	return sign.Provenance{
		ServerURL: s.gh.ServerURL, Repository: s.gh.Repository, WorkflowRef: s.gh.WorkflowRef,
		Ref: ref, EventName: s.gh.EventName, RunID: s.gh.RunID, RunAttempt: s.gh.RunAttempt,
		Commit: commit, Inputs: inputs,
	}
}

// identityFor is the identity this run's signatures carry (publish) or must carry (verify,
// promote) for ref, of component (the release component, or "").
func (s *signers) identityFor(ref, component string, ofThisWorkflow bool) sign.Identity {
	workflow := ""
	if ofThisWorkflow {
		workflow = s.gh.WorkflowRef
	}
	id := sign.ExpectedIdentity(s.gh.ServerURL, s.gh.Repository, workflow, ref, component)
	if s.issuer != "" {
		id.Issuer = "^" + regexp.QuoteMeta(s.issuer) + "$"
	}
	if s.identity != "" {
		id.Subject = s.identity
	}
	return id
}

// forIdentity returns (creating it once) the Signer for an identity.
func (s *signers) forIdentity(ctx context.Context, id sign.Identity) (sign.Signer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cache[id]; ok {
		return c.s, c.err
	}
	o := s.opts
	o.Expected = id
	sg, err := s.newSign(ctx, o)
	s.cache[id] = signerOrErr{sg, err}
	return sg, err
}

// publisher is the Signer of a publish of ref (of the release component, or ""), or nil when
// signing is off.
func (s *signers) publisher(ctx context.Context, ref, releaseComponent string) (sign.Signer, error) {
	if s.off() {
		return nil, nil
	}
	if s.gh.Act && s.mode == sign.ModeKeyless {
		// Tagging unsigned digests would be worse than not publishing: refuse.
		return nil, fmt.Errorf("keyless signing cannot run under act, which provides no OIDC token: keep dry-run: auto (or true) under act, or use sign: key or sign: none")
	}
	return s.forIdentity(ctx, s.identityFor(ref, releaseComponent, true))
}

// verifier is the Signer that checks signatures as they must be for ref (a git ref) of
// component: what promote and verify require.
func (s *signers) verifier(ctx context.Context, ref, component string) (sign.Signer, error) {
	return s.forIdentity(ctx, s.identityFor(ref, component, false))
}

// releaseRef is the git ref of a release of component (vX.Y.Z for a single artifact).
func releaseRef(component, version string) string {
	if component == "" {
		return "refs/tags/" + version
	}
	return "refs/tags/" + component + "/" + version
}
