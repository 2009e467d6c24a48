package sign_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/sign"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// A transparency log that answers an upload with another signature's entry (an older, genuine
// one: its signed timestamp and inclusion proof verify) must not leave a signature that cosign
// rejects. Sign refuses it before anything is stored; Verify, and Sign's look for an existing
// signature, refuse one planted in the registry; the cosign CLIs (v2.6.5 and v3.1.3) judge both:
// they reject the planted signatures and accept what Sign stores.

// wrongEntryMode is one signing mode of these tests: its Signer through rekorURL, and the flags
// that tell the cosign CLIs the expected signer.
type wrongEntryMode struct {
	name   string
	signer func(t *testing.T, rekorURL string, edit ...func(*sign.Options)) sign.Signer
	who    []string
}

func wrongEntryModes(t *testing.T, env *testenv.SigstoreEnv) []wrongEntryMode {
	priv, pub := testKey(t, 0)
	pubFile := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(pubFile, []byte(pub), 0o600); err != nil {
		t.Fatal(err)
	}
	id := e2eIdentity(env, e2eRepo, e2eRef, "frontend")
	claims := testenv.GitHubClaims(e2eRepo, e2eWorkflow, e2eRef)
	return []wrongEntryMode{
		{
			name: "key",
			signer: func(t *testing.T, rekorURL string, edit ...func(*sign.Options)) sign.Signer {
				return keySigner(t, priv, append([]func(*sign.Options){func(o *sign.Options) {
					o.TLogUpload, o.RekorURL, o.RekorPublicKey, o.Logf = true, rekorURL, env.RekorPublicKey, t.Logf
				}}, edit...)...)
			},
			who: []string{"--key", pubFile, "--allow-http-registry"},
		},
		{
			name: "keyless",
			signer: func(t *testing.T, rekorURL string, edit ...func(*sign.Options)) sign.Signer {
				return keyless(t, env, env.OIDC.Grant(claims), id, append([]func(*sign.Options){func(o *sign.Options) {
					o.RekorURL = rekorURL
				}}, edit...)...)
			},
			who: identityFlags(id),
		},
	}
}

// cliJudge runs the cosign CLIs' verifications of each format with the flags of one mode.
type cliJudge struct {
	j   *judges
	who []string
}

func (c cliJudge) args(pre ...string) []string { return append(pre, c.who...) }

func (c cliJudge) legacyV2(d name.Digest) error {
	_, err := c.j.cosign2.run(append(c.args("verify", "--rekor-url", c.j.env.RekorURL), d.String())...)
	return err
}

func (c cliJudge) legacyV3(d name.Digest) error {
	_, err := c.j.cosign3.run(append(c.args("verify", "--new-bundle-format=false", "--trusted-root", c.j.env.TrustedRootFile, "--rekor-url", c.j.env.RekorURL), d.String())...)
	return err
}

func (c cliJudge) bundleV2(d name.Digest) error {
	_, err := c.j.cosign2.run(append(c.args("verify", "--new-bundle-format", "--trusted-root", c.j.env.TrustedRootFile), d.String())...)
	return err
}

func (c cliJudge) bundleV3(d name.Digest) error {
	_, err := c.j.cosign3.run(append(c.args("verify", "--trusted-root", c.j.env.TrustedRootFile), d.String())...)
	return err
}

func (c cliJudge) provenanceV2(d name.Digest) error {
	_, err := c.j.cosign2.run(append(c.args("verify-attestation", "--type", "slsaprovenance1", "--new-bundle-format", "--trusted-root", c.j.env.TrustedRootFile), d.String())...)
	return err
}

func (c cliJudge) provenanceV3(d name.Digest) error {
	_, err := c.j.cosign3.run(append(c.args("verify-attestation", "--type", "slsaprovenance1", "--trusted-root", c.j.env.TrustedRootFile), d.String())...)
	return err
}

// judgeAll runs each named judge on d and reports those whose verdict is not want.
func judgeAll(t *testing.T, d name.Digest, accept bool, judges map[string]func(name.Digest) error) {
	t.Helper()
	for name, judge := range judges {
		err := judge(d)
		switch {
		case accept && err != nil:
			t.Errorf("%s rejects what Sign stored: %v", name, err)
		case !accept && err == nil:
			t.Errorf("%s accepts the signature whose log entry is another signature's: the planted case is not what it claims", name)
		}
	}
}

// provenanceOnly picks the upload of a provenance bundle: a DSSE entry whose envelope's
// statement is a SLSA provenance.
func provenanceOnly(kind string, proposed []byte) bool {
	if kind != "dsse" {
		return false
	}
	var pe struct {
		Spec struct {
			ProposedContent struct{ Envelope string }
		}
	}
	if json.Unmarshal(proposed, &pe) != nil {
		return false
	}
	var env struct{ Payload string }
	if json.Unmarshal([]byte(pe.Spec.ProposedContent.Envelope), &env) != nil {
		return false
	}
	st, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return false
	}
	var statement struct{ PredicateType string }
	return json.Unmarshal(st, &statement) == nil && statement.PredicateType == sign.PredicateSLSAProvenance
}

// TestLogAnswersWithAnotherEntry: when the log answers an upload with an entry of another
// signature, in key and keyless mode, for every format, and for the answer as a 201 or as a 409
// that points at the old entry, Sign refuses with ErrForeignEntry and stores nothing (no `.sig`,
// no referrer), even when only one format's entry is wrong; once the log answers rightly, what
// Sign stores passes both cosign CLIs.
func TestLogAnswersWithAnotherEntry(t *testing.T) {
	env := testenv.Sigstore(t)
	j := newJudges(t, env)
	host := memRegistryAPI(t, true)
	ctx := context.Background()
	log := testenv.NewStaleLog(t, env.RekorURL)
	hashedrekord := func(kind string, _ []byte) bool { return kind == "hashedrekord" }
	cases := []struct {
		name       string
		format     sign.SignatureFormat
		provenance bool
		pick       func(string, []byte) bool
		conflict   bool
	}{
		{name: "legacy", format: sign.FormatLegacy, pick: testenv.EveryUpload},
		{name: "bundle", format: sign.FormatBundle, pick: testenv.EveryUpload},
		{name: "both", format: sign.FormatBoth, pick: testenv.EveryUpload},
		{name: "both, only the legacy entry wrong", format: sign.FormatBoth, pick: hashedrekord},
		{name: "provenance, only its entry wrong", format: sign.FormatBoth, provenance: true, pick: provenanceOnly},
		{name: "legacy, 409 pointing at the old entry", format: sign.FormatLegacy, pick: testenv.EveryUpload, conflict: true},
		{name: "bundle and provenance, 409 pointing at the old entry", format: sign.FormatBundle, provenance: true, pick: testenv.EveryUpload, conflict: true},
	}
	for _, m := range wrongEntryModes(t, env) {
		t.Run(m.name, func(t *testing.T) {
			// The log's earlier entries: one signature of each kind, of another digest.
			log.Answer(nil, false)
			withProvenance := func(o *sign.Options) { o.Provenance = true }
			if _, err := m.signer(t, log.URL, withProvenance).Sign(ctx, pushRandom(t, host, "acme/d2-apps/earlier"), sign.WithProvenance(e2eProvenance)); err != nil {
				t.Fatal(err)
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					s := m.signer(t, log.URL, format(tc.format), func(o *sign.Options) { o.Provenance = tc.provenance })
					d := pushRandom(t, host, "acme/d2-apps/frontend")
					answered := log.Answered()
					log.Answer(tc.pick, tc.conflict)
					res, err := s.Sign(ctx, d, sign.WithProvenance(e2eProvenance))
					log.Answer(nil, false)
					if !errors.Is(err, sign.ErrForeignEntry) {
						t.Fatalf("Sign() = %+v, %v; want ErrForeignEntry", res, err)
					}
					t.Logf("Sign refuses: %v", err)
					if log.Answered() == answered {
						t.Fatal("the log answered no upload with an earlier entry: the test tests nothing")
					}
					if n := signatureCount(t, d); n != 0 {
						t.Errorf("legacy signatures stored = %d, want none", n)
					}
					if n := referrerCount(t, d); n != 0 {
						t.Errorf("referrers stored = %d, want none", n)
					}
				})
			}

			// The log answers rightly again: what Sign stores passes both CLIs in every format.
			c := cliJudge{j: j, who: m.who}
			legacy, bundled := pushRandom(t, host, "acme/d2-apps/legacy"), pushRandom(t, host, "acme/d2-apps/bundled")
			if _, err := m.signer(t, log.URL, format(sign.FormatLegacy)).Sign(ctx, legacy); err != nil {
				t.Fatal(err)
			}
			if _, err := m.signer(t, log.URL, format(sign.FormatBundle), withProvenance).Sign(ctx, bundled, sign.WithProvenance(e2eProvenance)); err != nil {
				t.Fatal(err)
			}
			judgeAll(t, legacy, true, map[string]func(name.Digest) error{"cosign verify": c.legacyV2, "cosign3 verify --new-bundle-format=false": c.legacyV3})
			judgeAll(t, bundled, true, map[string]func(name.Digest) error{
				"cosign verify --new-bundle-format": c.bundleV2, "cosign3 verify": c.bundleV3,
				"cosign verify-attestation --new-bundle-format": c.provenanceV2, "cosign3 verify-attestation": c.provenanceV3,
			})
		})
	}
}

// TestPlantedWrongEntry: signatures whose log entry is another signature's, written to the
// registry directly (what a signer without these checks stores when its log answers wrongly),
// in key and keyless mode: a legacy signature, a signature bundle, a provenance bundle. The
// cosign CLIs reject each; Verify does not call the digest verified (nor the provenance
// attested); Sign's look for an existing signature does not count it, and signs anew.
func TestPlantedWrongEntry(t *testing.T) {
	env := testenv.Sigstore(t)
	j := newJudges(t, env)
	host := memRegistryAPI(t, true)
	ctx := context.Background()
	for _, m := range wrongEntryModes(t, env) {
		t.Run(m.name, func(t *testing.T) {
			c := cliJudge{j: j, who: m.who}
			withProvenance := func(o *sign.Options) { o.Provenance = true }
			// One signer signs both digests (in keyless mode, with one certificate): the entries
			// differ only in what they record of the signature and payload.
			s := m.signer(t, env.RekorURL, withProvenance)
			other, good := pushRandom(t, host, "acme/d2-apps/other"), pushRandom(t, host, "acme/d2-apps/good")
			for _, d := range []name.Digest{other, good} {
				if _, err := s.Sign(ctx, d, sign.WithProvenance(e2eProvenance)); err != nil {
					t.Fatal(err)
				}
			}

			t.Run("legacy", func(t *testing.T) {
				planted := copyDigest(t, good, "acme/d2-apps/planted-legacy")
				plantLegacy(t, planted, legacySignature(t, good), legacySignature(t, other))
				judgeAll(t, planted, false, map[string]func(name.Digest) error{"cosign verify": c.legacyV2, "cosign3 verify --new-bundle-format=false": c.legacyV3})
				v := m.signer(t, env.RekorURL)
				if got, err := v.Verification(ctx, planted); !errors.Is(err, sign.ErrVerify) {
					t.Errorf("Verification() = %+v, %v; want ErrVerify", got, err)
				}
				res, err := m.signer(t, env.RekorURL, format(sign.FormatLegacy)).Sign(ctx, planted)
				if err != nil || res.Legacy != sign.AttachedNew {
					t.Fatalf("Sign() = %+v, %v; want a new legacy signature beside the planted one", res, err)
				}
				if err := v.Verify(ctx, planted); err != nil {
					t.Errorf("Verify() after Sign: %v", err)
				}
			})

			t.Run("bundle", func(t *testing.T) {
				planted := copyDigest(t, good, "acme/d2-apps/planted-bundle")
				plantBundle(t, planted, bundleOf(t, good, sign.PredicateCosignSign), bundleOf(t, other, sign.PredicateCosignSign), sign.PredicateCosignSign)
				judgeAll(t, planted, false, map[string]func(name.Digest) error{"cosign verify --new-bundle-format": c.bundleV2, "cosign3 verify": c.bundleV3})
				v := m.signer(t, env.RekorURL)
				if got, err := v.Verification(ctx, planted); !errors.Is(err, sign.ErrVerify) {
					t.Errorf("Verification() = %+v, %v; want ErrVerify", got, err)
				}
				res, err := m.signer(t, env.RekorURL, format(sign.FormatBundle)).Sign(ctx, planted)
				if err != nil || res.Bundle != sign.AttachedNew {
					t.Fatalf("Sign() = %+v, %v; want a new bundle beside the planted one", res, err)
				}
				if got, err := v.Verification(ctx, planted); err != nil || got.Format != sign.FormatBundle {
					t.Errorf("Verification() after Sign = %+v, %v; want the new bundle", got, err)
				}
			})

			t.Run("provenance", func(t *testing.T) {
				planted := copyDigest(t, good, "acme/d2-apps/planted-provenance")
				plantBundle(t, planted, bundleOf(t, good, sign.PredicateCosignSign), nil, sign.PredicateCosignSign)
				plantBundle(t, planted, bundleOf(t, good, sign.PredicateSLSAProvenance), bundleOf(t, other, sign.PredicateSLSAProvenance), sign.PredicateSLSAProvenance)
				judgeAll(t, planted, false, map[string]func(name.Digest) error{"cosign verify-attestation --new-bundle-format": c.provenanceV2, "cosign3 verify-attestation": c.provenanceV3})
				v := m.signer(t, env.RekorURL)
				if got, err := v.Verification(ctx, planted); err != nil || got.Provenance {
					t.Errorf("Verification() = %+v, %v; want the signature bundle verified and no provenance", got, err)
				}
				res, err := m.signer(t, env.RekorURL, format(sign.FormatBundle), withProvenance).Sign(ctx, planted, sign.WithProvenance(e2eProvenance))
				if err != nil || res.Bundle != sign.AttachedExisting || res.Provenance != sign.AttachedNew {
					t.Fatalf("Sign() = %+v, %v; want the bundle existing and a new provenance", res, err)
				}
				judgeAll(t, planted, true, map[string]func(name.Digest) error{"cosign verify-attestation --new-bundle-format": c.provenanceV2, "cosign3 verify-attestation": c.provenanceV3})
			})
		})
	}
}

// copyDigest copies the image d into repo of the same registry and returns it there: the same
// digest, nothing attached.
func copyDigest(t *testing.T, d name.Digest, repo string) name.Digest {
	t.Helper()
	img, err := remote.Image(d)
	if err != nil {
		t.Fatal(err)
	}
	to := d.Context().Registry.Repo(repo).Digest(d.DigestStr())
	if err := remote.Write(to.Context().Tag("planted"), img); err != nil {
		t.Fatal(err)
	}
	return to
}

// legacySignature is the first legacy signature of d.
func legacySignature(t *testing.T, d name.Digest) map[string]string {
	t.Helper()
	tag, err := ociremote.SignatureTag(d)
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := ociremote.Signatures(tag)
	if err != nil {
		t.Fatal(err)
	}
	all, err := sigs.Get()
	if err != nil || len(all) == 0 {
		t.Fatalf("the legacy signatures of %s: %d, %v", d, len(all), err)
	}
	ann, err := all[0].Annotations()
	if err != nil {
		t.Fatal(err)
	}
	pl, err := all[0].Payload()
	if err != nil {
		t.Fatal(err)
	}
	ann["payload"] = string(pl)
	return ann
}

// plantLegacy writes the legacy signature good (legacySignature) to d with the log entry of
// foreign in place of its own.
func plantLegacy(t *testing.T, d name.Digest, good, foreign map[string]string) {
	t.Helper()
	var b cbundle.RekorBundle
	if err := json.Unmarshal([]byte(foreign[static.BundleAnnotationKey]), &b); err != nil {
		t.Fatal(err)
	}
	opts := []static.Option{static.WithBundle(&b)}
	if cert := good[static.CertificateAnnotationKey]; cert != "" {
		opts = append(opts, static.WithCertChain([]byte(cert), []byte(good[static.ChainAnnotationKey])))
	}
	sig, err := static.NewSignature([]byte(good["payload"]), good[static.SignatureAnnotationKey], opts...)
	if err != nil {
		t.Fatal(err)
	}
	se, err := ociremote.SignedEntity(d)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := mutate.AttachSignatureToEntity(se, sig)
	if err != nil {
		t.Fatal(err)
	}
	if err := ociremote.WriteSignatures(d.Repository, signed); err != nil {
		t.Fatal(err)
	}
}

// bundleOf is d's bundle of predicateType, as stored.
func bundleOf(t *testing.T, d name.Digest, predicateType string) map[string]any {
	t.Helper()
	for _, a := range bundles(t, d) {
		if a.predicateType() == predicateType {
			return a.bundle
		}
	}
	t.Fatalf("%s has no bundle of %s", d, predicateType)
	return nil
}

// plantBundle attaches the bundle good to d, with the log entries of foreign in place of its own
// (nil: as it is).
func plantBundle(t *testing.T, d name.Digest, good, foreign map[string]any, predicateType string) {
	t.Helper()
	var b map[string]any
	raw, err := json.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	if foreign != nil {
		b["verificationMaterial"].(map[string]any)["tlogEntries"] = foreign["verificationMaterial"].(map[string]any)["tlogEntries"]
	}
	if raw, err = json.Marshal(b); err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := registry.PushReferrers(context.Background(), d, *desc, []registry.Referrer{{
		ArtifactType:       sign.BundleMediaType,
		ConfigArtifactType: sign.BundleMediaType,
		Layers:             []registry.Blob{{MediaType: sign.BundleMediaType, Data: raw}},
		Annotations: map[string]string{
			"dev.sigstore.bundle.content":       "dsse-envelope",
			"dev.sigstore.bundle.predicateType": predicateType,
		},
	}}); err != nil {
		t.Fatal(err)
	}
}
