package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	rekorgen "github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/tle"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/fleetpush/fleetpush/internal/registry"
)

// Sigstore bundles as OCI referrers, as cosign v3 stores them (cosign's
// ociremote.WriteAttestationNewBundleFormat): an image manifest with artifactType and the
// config's artifactType set to the bundle media type, an empty config, the bundle JSON as its
// one layer, the subject, and annotations naming the bundle's content and predicate type.
const (
	// BundleMediaType is the media type of a Sigstore bundle v0.3, the artifactType of its
	// referrer manifest and the media type of its layer.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// bundleMediaPrefix is what cosign accepts as a bundle layer.
	bundleMediaPrefix       = "application/vnd.dev.sigstore.bundle"
	annotationPredicateType = "dev.sigstore.bundle.predicateType"
	annotationContent       = "dev.sigstore.bundle.content"
	annotationCreated       = "org.opencontainers.image.created"
	// annotationLayer names the digest of the bundle layer on fleetpush's bundle manifests. The
	// referrers API and the fallback index list a manifest's annotations, so a reader learns
	// from the list which blob holds the bundle and reads it beside the manifest: two round
	// trips from the list to a verified bundle instead of three. It is a hint only: the layer
	// the manifest names is what is verified (cosign and Flux read that), and a hint that
	// differs from it is thrown away. cosign and Flux ignore annotations they do not know.
	annotationLayer = "dev.fleetpush.bundle.layer"
)

// Bounds on what a registry may hand back while bundles are looked for: a bundle with its
// certificate and log entry is a few kilobytes, a provenance statement a few more.
const (
	bundleManifestLimit = 64 << 10
	bundleLayerLimit    = 1 << 20
	// maxBundleCandidates bounds the referrers fetched and verified for one digest.
	maxBundleCandidates = 64
)

// bundleReferrer is the referrer that stores bundle (DSSE over an in-toto statement of
// predicateType).
func bundleReferrer(bundle []byte, predicateType string, now time.Time) registry.Referrer {
	sum := sha256.Sum256(bundle)
	return registry.Referrer{
		ArtifactType:       BundleMediaType,
		ConfigArtifactType: BundleMediaType,
		Layers:             []registry.Blob{{MediaType: BundleMediaType, Data: bundle, Fresh: true}},
		Annotations: map[string]string{
			annotationCreated:       now.UTC().Format(time.RFC3339),
			annotationContent:       "dsse-envelope",
			annotationPredicateType: predicateType,
			annotationLayer:         "sha256:" + hex.EncodeToString(sum[:]),
		},
	}
}

// makeBundle signs statement with cred as a DSSE envelope and returns the Sigstore bundle (v0.3)
// cosign v3 would write: the certificate (keyless) or the key's hint (key mode), and the Rekor
// v1 entry with its inclusion proof when the log is on. The bundle is verified against the
// trust root and the expected identity before it is returned, so that nothing is stored that
// Flux would refuse.
func (s *cosignSigner) makeBundle(ctx context.Context, cred *credential, ref name.Digest, statement []byte) ([]byte, int64, error) {
	kp, err := newKeypair(cred)
	if err != nil {
		return nil, 0, err
	}
	opts := sgsign.BundleOptions{Context: ctx}
	if len(cred.certDER) > 0 {
		opts.CertificateProvider = heldCertificate(cred.certDER)
	}
	if s.rekor != nil {
		opts.TransparencyLogs = []sgsign.Transparency{rekorLog{s.rekor, s}}
	}
	pb, err := sgsign.Bundle(&sgsign.DSSEData{Data: statement, PayloadType: inTotoPayloadType}, kp, opts)
	if err != nil {
		return nil, 0, err
	}
	raw, err := protojson.Marshal(pb)
	if err != nil {
		return nil, 0, err
	}
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return nil, 0, fmt.Errorf("reading back the bundle: %w", err)
	}
	if _, err := s.verifyBundle(ctx, &b, ref); err != nil {
		return nil, 0, fmt.Errorf("the bundle just signed does not verify: %w", err)
	}
	idx := int64(-1)
	if es := pb.GetVerificationMaterial().GetTlogEntries(); len(es) > 0 {
		idx = es[0].GetLogIndex()
	}
	return raw, idx, nil
}

// foundBundle is a bundle attached to a digest that verified.
type foundBundle struct {
	predicateType string
	identity      string
	logIndex      int64
}

// bundleScan is what inspectBundles found among a digest's referrers.
type bundleScan struct {
	// parsed counts the referrers that hold a Sigstore bundle (v0.3 or later), verified or
	// not: Flux uses bundles as soon as there is one.
	parsed   int
	verified []foundBundle
	// failure is why the first bundle that did not verify failed.
	failure error
}

func (b bundleScan) find(predicateType string) *foundBundle {
	for i := range b.verified {
		if b.verified[i].predicateType == predicateType {
			return &b.verified[i]
		}
	}
	return nil
}

// inspectBundles reads the Sigstore bundles attached to ref as referrers and verifies each, the
// way cosign's GetBundles and Flux do: every referrer whose one layer is a bundle counts, one
// that cannot be read as a bundle is skipped.
func (s *cosignSigner) inspectBundles(ctx context.Context, ref name.Digest) (bundleScan, error) {
	rs, err := s.referrers.List(ctx, ref)
	if err != nil {
		return bundleScan{}, err
	}
	var candidates []v1.Descriptor
	for _, d := range rs.Manifests {
		if !maybeBundle(d) {
			continue
		}
		if len(candidates) == maxBundleCandidates {
			return bundleScan{}, fmt.Errorf("reading the referrers of %q: more than %d could be Sigstore bundles", ref, maxBundleCandidates)
		}
		candidates = append(candidates, d)
	}
	// Each bundle is read and verified beside the others: a digest's signature and provenance
	// bundles cost one manifest and one blob round trip together, not one after the other.
	type outcome struct {
		b     *sgbundle.Bundle
		found foundBundle
		err   error // reading
		bad   error // verifying
	}
	outs := make([]outcome, len(candidates))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(bundleReads)
	for i, d := range candidates {
		g.Go(func() error {
			o := &outs[i]
			if o.b, o.err = s.fetchBundle(gctx, ref.Context(), d); o.err != nil {
				var nb notBundle
				if errors.As(o.err, &nb) {
					return nil
				}
				return o.err
			}
			o.found, o.bad = s.verifyBundle(gctx, o.b, ref)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return bundleScan{}, err
	}
	// The scan in the referrers' order, as read one by one.
	var scan bundleScan
	for _, o := range outs {
		if o.b == nil {
			continue // not a bundle
		}
		scan.parsed++
		if o.bad != nil {
			if scan.failure == nil {
				scan.failure = o.bad
			}
			continue
		}
		scan.verified = append(scan.verified, o.found)
	}
	return scan, nil
}

// bundleReads is how many of a digest's bundles are read at once: round trips, not CPU.
const bundleReads = 8

// maybeBundle says whether a referrer may hold a bundle, from what the referrers list says of
// it. Registries list the manifest's artifactType, or its config's media type (the OCI empty
// type for cosign's bundles) when they ignore the former, or nothing.
func maybeBundle(d v1.Descriptor) bool {
	at := d.ArtifactType
	return at == "" || at == registry.MediaTypeEmptyJSON || strings.HasPrefix(at, bundleMediaPrefix)
}

// notBundle marks a referrer that holds no Sigstore bundle: skipped, as cosign skips it.
type notBundle struct{ error }

// fetchBundle reads the bundle a referrer holds. When the referrer's listing names its bundle
// layer (annotationLayer), that blob is read beside the manifest, and used only if it is the
// layer the manifest names.
func (s *cosignSigner) fetchBundle(ctx context.Context, repo name.Repository, d v1.Descriptor) (*sgbundle.Bundle, error) {
	var hinted func() ([]byte, error) // the hinted blob, once read
	var hint v1.Hash
	if h, err := v1.NewHash(d.Annotations[annotationLayer]); err == nil && h.Algorithm == "sha256" {
		hint = h
		hctx, cancel := context.WithCancel(ctx)
		var data []byte
		var herr error
		done := make(chan struct{})
		defer func() { cancel(); <-done }()
		go func() {
			defer close(done)
			data, herr = s.referrers.FetchBlobOf(hctx, repo, h, bundleLayerLimit)
		}()
		hinted = func() ([]byte, error) { <-done; return data, herr }
	}
	raw, _, err := s.referrers.FetchManifest(ctx, repo.Digest(d.Digest.String()), bundleManifestLimit)
	if err != nil {
		if registry.IsNotFound(err) {
			return nil, notBundle{err}
		}
		return nil, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Layers) != 1 || !strings.HasPrefix(string(m.Layers[0].MediaType), bundleMediaPrefix) {
		return nil, notBundle{errors.New("not a bundle")}
	}
	var layer []byte
	// A hint that names another blob is not waited for: the deferred cancel stops its read.
	if hinted != nil && hint == m.Layers[0].Digest {
		if data, err := hinted(); err == nil && int64(len(data)) == m.Layers[0].Size {
			layer = data // the manifest's own layer: its digest was checked as it was read
		}
	}
	if layer == nil {
		if layer, err = s.referrers.FetchBlob(ctx, repo, m.Layers[0], bundleLayerLimit); err != nil {
			return nil, err
		}
	}
	var b sgbundle.Bundle
	if err := unpanicked(func() error { return b.UnmarshalJSON(layer) }); err != nil || !b.MinVersion("v0.3") {
		return nil, notBundle{errors.New("not a Sigstore bundle v0.3")}
	}
	return &b, nil
}

// verifyBundle verifies b as a signature over ref by the expected signer, with cosign's own
// bundle verification (what `cosign verify` runs for a bundle, and Flux 2.8 with it): the
// artifact digest in the statement's subject, the certificate's chain to the trust root and its
// identity (keyless) or the public key (key mode), and, when the log is on, the transparency
// log entry: that it records this signature by this key or certificate, its inclusion proof
// against the log's checkpoint and its signed entry timestamp from a log of the trust root, and
// (keyless) its time within the certificate's validity.
func (s *cosignSigner) verifyBundle(ctx context.Context, b *sgbundle.Bundle, ref name.Digest) (foundBundle, error) {
	digest, err := hex.DecodeString(strings.TrimPrefix(ref.DigestStr(), "sha256:"))
	if err != nil || !strings.HasPrefix(ref.DigestStr(), "sha256:") {
		return foundBundle{}, fmt.Errorf("unsupported digest %q", ref.DigestStr())
	}
	var res *verify.VerificationResult
	err = unpanicked(func() error {
		var err error
		res, err = cosign.VerifyNewBundle(ctx, s.bundleCheck, verify.WithArtifactDigest("sha256", digest), b)
		return err
	})
	if err != nil {
		return foundBundle{}, explainBundle(err)
	}
	found := foundBundle{identity: "key", logIndex: -1}
	if res.Statement != nil {
		found.predicateType = res.Statement.GetPredicateType()
	}
	if res.Signature != nil && res.Signature.Certificate != nil {
		found.identity = res.Signature.Certificate.SubjectAlternativeName
	}
	if es := b.GetVerificationMaterial().GetTlogEntries(); len(es) > 0 {
		found.logIndex = es[0].GetLogIndex()
	}
	return found, nil
}

// explainBundle adds to sigstore-go's verification errors what they mean for the inputs.
func explainBundle(err error) error {
	switch msg := err.Error(); {
	case strings.Contains(msg, "leaf certificate verification failed"):
		return fmt.Errorf("%w: the certificate does not chain to the trust root (fulcio-root or trusted-root)", err)
	case strings.Contains(msg, "not enough verified log entries"):
		return fmt.Errorf("%w: no Rekor entry of the bundle is from a log of the trust root (rekor-public-key or trusted-root), or it has none", err)
	}
	return err
}

// bundleVerification sets up the verification of bundles, matching the legacy check: keyless
// against the trust root with the expected identity; key mode against the public key, and the
// logs of material when the log is on (as `cosign verify --key` does; Flux verifies with a key
// alone). The options are cosign's CheckOpts, which cosign turns into sigstore-go's verifier
// and policy the way its CLI does.
func (s *cosignSigner) bundleVerification(material root.TrustedMaterial, ignoreSCT bool, pub crypto.PublicKey) error {
	co := &cosign.CheckOpts{TrustedMaterial: material, IgnoreSCT: ignoreSCT, IgnoreTlog: !s.o.TLogUpload}
	if pub != nil {
		v, err := signature.LoadVerifier(pub, crypto.SHA256)
		if err != nil {
			return err
		}
		co.SigVerifier = v
	} else {
		co.Identities = []cosign.Identity{{IssuerRegExp: s.o.Expected.Issuer, SubjectRegExp: s.o.Expected.Subject}}
	}
	s.bundleCheck = co
	return nil
}

// keypair is a credential as sigstore-go's signer sees it.
type keypair struct {
	cred *credential
	pub  crypto.PublicKey
	alg  signature.AlgorithmDetails
	hint []byte
}

func newKeypair(cred *credential) (*keypair, error) {
	pub, err := cred.sv.PublicKey()
	if err != nil {
		return nil, err
	}
	alg, err := signature.GetDefaultAlgorithmDetails(pub)
	if err != nil {
		return nil, fmt.Errorf("the signing key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	// The hint of a key-signed bundle, as cosign computes it.
	sum := sha256.Sum256(der)
	return &keypair{cred: cred, pub: pub, alg: alg, hint: []byte(base64.StdEncoding.EncodeToString(sum[:]))}, nil
}

func (k *keypair) GetHashAlgorithm() protocommon.HashAlgorithm { return k.alg.GetProtoHashType() }
func (k *keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return k.alg.GetSignatureAlgorithm()
}
func (k *keypair) GetHint() []byte                { return k.hint }
func (k *keypair) GetPublicKey() crypto.PublicKey { return k.pub }
func (k *keypair) GetPublicKeyPem() (string, error) {
	return string(k.cred.pubPEM), nil
}

func (k *keypair) GetKeyAlgorithm() string {
	switch k.pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA"
	case *rsa.PublicKey:
		return "RSA"
	case ed25519.PublicKey:
		return "ED25519"
	}
	return ""
}

func (k *keypair) SignData(ctx context.Context, data []byte) ([]byte, []byte, error) {
	var digest []byte
	if h := k.alg.GetHashType(); h != 0 {
		hh := h.New()
		hh.Write(data)
		digest = hh.Sum(nil)
	}
	sig, err := k.cred.sv.SignMessage(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	return sig, digest, nil
}

// heldCertificate hands sigstore-go the run's one Fulcio certificate instead of asking for a
// new one per bundle.
type heldCertificate []byte

func (c heldCertificate) GetCertificate(context.Context, sgsign.Keypair, *sgsign.CertificateProviderOptions) ([]byte, error) {
	return c, nil
}

// rekorLog records a bundle's DSSE envelope in Rekor v1 as a dsse entry, through the signer's
// Rekor client (its transport, its retries), and adds the entry with its inclusion proof to the
// bundle. It is sigstore-go's Rekor transparency without its own client, and with the answer
// checked before use: a log that leaves out the proof is refused, not dereferenced, and one that
// answers with an entry of another signature is refused with a clear error (the bundle's full
// verification would refuse it too).
type rekorLog struct {
	client *rekorgen.Rekor
	s      *cosignSigner
}

func (r rekorLog) GetTransparencyLogEntry(ctx context.Context, keyOrCertPEM []byte, b *protobundle.Bundle) error {
	env := b.GetDsseEnvelope()
	if env == nil {
		return errors.New("the bundle holds no DSSE envelope")
	}
	envJSON, err := json.Marshal(env)
	if err != nil {
		return err
	}
	entry, err := cosign.TLogUploadDSSEEnvelope(ctx, r.client, envJSON, keyOrCertPEM)
	if err != nil {
		return fmt.Errorf("recording the bundle in Rekor: %w", err)
	}
	if len(env.GetSignatures()) != 1 {
		return errors.New("the bundle's DSSE envelope holds no single signature")
	}
	if err := r.s.logged(ctx, entry, env.GetSignatures()[0].GetSig()); err != nil {
		return fmt.Errorf("recording the bundle in Rekor at %q: %w; nothing was stored", orDefault(r.s.o.RekorURL, PublicRekorURL), err)
	}
	e, err := tle.GenerateTransparencyLogEntry(*entry)
	if err != nil {
		return fmt.Errorf("the Rekor entry: %w", err)
	}
	b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, e)
	return nil
}

// complete checks that a Rekor answer has everything a bundle's log entry needs.
func complete(e *models.LogEntryAnon) error {
	switch {
	case e == nil:
		return errors.New("empty answer")
	case e.LogID == nil || e.LogIndex == nil || e.IntegratedTime == nil || e.Body == nil:
		return errors.New("the log's answer lacks the log ID, index, time or body")
	case e.Verification == nil || e.Verification.InclusionProof == nil:
		return errors.New("the log's answer lacks the inclusion proof (is it Rekor v1?)")
	}
	p := e.Verification.InclusionProof
	if p.RootHash == nil || p.LogIndex == nil || p.TreeSize == nil || p.Checkpoint == nil {
		return errors.New("the log's inclusion proof is incomplete")
	}
	return nil
}
