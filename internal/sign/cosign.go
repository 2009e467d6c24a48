package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	cremote "github.com/sigstore/cosign/v2/pkg/cosign/remote"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/empty"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	fulcioapi "github.com/sigstore/fulcio/pkg/api"
	rekorgen "github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"golang.org/x/sync/errgroup"

	"github.com/fleetpush/fleetpush/internal/registry"
)

// certMargin is how long a Fulcio certificate must still be valid to sign with it: Rekor
// records the entry's time, and a verifier accepts the signature only when that time lies
// inside the certificate's validity (Fulcio issues certificates for 10 minutes).
const certMargin = time.Minute

// credCooldown is how long a keyless credential that failed in a way that may heal (Fulcio or
// the token service unreachable, rate limiting or failing with 5xx after the transport's
// retries) is answered from the cache before a Sign tries again; see credential.
const credCooldown = 30 * time.Second

type cosignSigner struct {
	o      Options
	format SignatureFormat
	ropts  []remote.Option // the caller's registry options, with a shared Puller and Pusher
	// referrers reads and writes the bundles' OCI referrers.
	referrers *registry.ReferrerClient
	ociOpts   []ociremote.Option
	check     *cosign.CheckOpts // the legacy signatures' verification
	rekor     *rekorgen.Rekor   // upload client; nil when tlog upload is off
	snippet   string
	margin    time.Duration // certMargin; tests raise it to force a new certificate
	cooling   time.Duration // credCooldown; tests lower it
	now       func() time.Time

	// bundleCheck verifies Sigstore bundles, through cosign's own bundle verification: the
	// trust root (or the public key and the log keys) and the expected signer; see
	// bundleVerification.
	bundleCheck *cosign.CheckOpts

	// credLock guards the fields below it, and is held while the credential is requested. It is
	// a one-slot channel so that a waiter can give up with its context.
	credLock chan struct{}
	cred     *credential
	credErr  error
	credAt   time.Time // when credErr happened

	// pre holds the Prefetches not yet taken by a Sign, by reference.
	preMu sync.Mutex
	pre   map[string]*prefetch
}

// credential is what signs: a key, and for keyless its short-lived certificate. A cosign
// public key given to verify is a credential without sv.
type credential struct {
	sv                signature.SignerVerifier
	pub               crypto.PublicKey
	certPEM, chainPEM []byte // empty for a cosign key
	certDER           []byte // the certificate alone, for bundles
	pubPEM            []byte
	identity          string
	notAfter          time.Time // zero for a cosign key
}

func newCosignSigner(o Options) (*cosignSigner, error) {
	format, err := ParseSignatureFormat(string(o.SignatureFormat))
	if err != nil {
		return nil, err
	}
	s := &cosignSigner{o: o, format: format, margin: certMargin, cooling: credCooldown, now: time.Now, credLock: make(chan struct{}, 1)}
	// One Puller and one Pusher for every registry call of this Signer: they keep the
	// registry's ping and token per repository, which each call would otherwise repeat.
	puller, err := remote.NewPuller(o.RemoteOptions...)
	if err != nil {
		return nil, fmt.Errorf("setting up the registry client: %w", err)
	}
	pusher, err := remote.NewPusher(o.RemoteOptions...)
	if err != nil {
		return nil, fmt.Errorf("setting up the registry client: %w", err)
	}
	// Clipped: cosign's WithRemoteOptions keeps this very slice and its WithMoreRemoteOptions
	// appends to it (remote binds each call's context so). With room to spare, concurrent calls
	// would append into one shared array, and a call could go out under another's context.
	s.ropts = slices.Clip(append(slices.Clip(o.RemoteOptions), remote.Reuse(puller), remote.Reuse(pusher)))
	s.ociOpts = []ociremote.Option{ociremote.WithRemoteOptions(s.ropts...)}
	if s.referrers, err = registry.NewReferrerClient(o.RemoteOptions...); err != nil {
		return nil, fmt.Errorf("setting up the registry client: %w", err)
	}
	if o.BlobWriter != nil {
		s.referrers.WithBlobWriter(o.BlobWriter)
	}
	s.referrers.WithMaxTagPages(o.MaxTagPages)
	if o.TLogUpload {
		rekorURL := orDefault(o.RekorURL, PublicRekorURL)
		rc, err := newRekorClient(rekorURL, s.httpClient())
		if err != nil {
			return nil, fmt.Errorf("creating the Rekor client for %q: %w", rekorURL, err)
		}
		s.rekor = rc
	}

	check := &cosign.CheckOpts{
		RegistryClientOpts: s.ociOpts,
		// Flux does not check the signed payload's digest against the reference; cosign's CLI
		// does. Checking it is stricter, so what passes here passes in Flux too.
		ClaimVerifier: cosign.SimpleClaimVerifier,
	}
	switch o.Mode {
	case ModeKey:
		cred, err := loadKey(o.Key, o.KeyPassword)
		if err != nil {
			return nil, err
		}
		s.cred = cred
		if check.SigVerifier, err = signature.LoadVerifier(cred.pub, crypto.SHA256); err != nil {
			return nil, fmt.Errorf("loading the public key of cosign-key: %w", err)
		}
		// Flux's source-controller lets the signature alone decide for a public key; `cosign
		// verify --key` also checks the transparency log entry unless told to ignore the log.
		// With tlog-upload the entry is checked as cosign checks it (it must record this
		// signature, by this key, of this payload, under a trusted log's signed timestamp), so
		// what fleetpush calls verified is what both cosign CLIs accept; without it, as
		// `cosign verify --insecure-ignore-tlog` does.
		var material root.TrustedMaterial = &root.BaseTrustedMaterial{}
		if o.TLogUpload {
			if material, err = rekorTrust(o, check); err != nil {
				return nil, err
			}
			check.RekorClient = s.rekor
		} else {
			check.Offline = true
			check.IgnoreTlog = true
		}
		if err := s.bundleVerification(material, false, cred.pub); err != nil {
			return nil, fmt.Errorf("loading the public key of cosign-key: %w", err)
		}
		s.snippet = keySnippet

	case ModeKeyless:
		if o.Expected.Issuer == "" || o.Expected.Subject == "" {
			return nil, errors.New("keyless signing needs the expected identity (issuer and subject)")
		}
		for _, re := range []string{o.Expected.Issuer, o.Expected.Subject} {
			if _, err := regexp.Compile(re); err != nil {
				return nil, fmt.Errorf("expected identity %q: %w", re, err)
			}
		}
		check.Identities = []cosign.Identity{{IssuerRegExp: o.Expected.Issuer, SubjectRegExp: o.Expected.Subject}}
		material, ignoreSCT, err := trustRoot(o, check)
		if err != nil {
			return nil, err
		}
		if err := s.bundleVerification(material, ignoreSCT, nil); err != nil {
			return nil, err
		}
		if o.TLogUpload {
			check.RekorClient = s.rekor
		} else {
			// Without a log entry the certificate's short validity is the only time anchor;
			// Flux requires the log for keyless signatures and will reject these.
			check.IgnoreTlog = true
			o.Logf("tlog-upload is off: Flux verifies keyless signatures against Rekor and will reject these signatures")
		}
		s.snippet = keylessSnippet(o.Expected, o.TrustedRoot != "" || o.FulcioRoot != "")
	}
	s.check = check
	return s, nil
}

func (s *cosignSigner) Snippet() string { return s.snippet }

func (s *cosignSigner) Verify(ctx context.Context, ref name.Digest) error {
	_, err := s.Verification(ctx, ref)
	return err
}

// Verification follows Flux's order: the bundles when there are any (one must verify), else
// the legacy signature.
func (s *cosignSigner) Verification(ctx context.Context, ref name.Digest) (Verification, error) {
	scan, err := s.inspectBundles(ctx, ref)
	if err != nil {
		return Verification{}, fmt.Errorf("verifying %q: looking for Sigstore bundles: %w", ref, err)
	}
	if scan.parsed > 0 {
		if len(scan.verified) == 0 {
			return Verification{}, fmt.Errorf("verifying %q: %w: %d Sigstore bundle(s) attached and none verifies: %w%s; Flux (2.8 and later) does not fall back to the legacy signature when a bundle is there", ref, ErrVerify, scan.parsed, scan.failure, s.expectation())
		}
		v := Verification{Format: FormatBundle, Identity: scan.verified[0].identity}
		if sb := scan.find(PredicateCosignSign); sb != nil {
			v.Identity = sb.identity
		}
		v.Provenance = scan.find(PredicateSLSAProvenance) != nil
		return v, nil
	}
	sigs, err := s.verify(ctx, ref, true)
	if err != nil {
		return Verification{}, err
	}
	return Verification{Format: FormatLegacy, Identity: existingResult(sigs[0]).Identity}, nil
}

// verify returns the signatures of ref that verify. With explain, a missing signature is
// told apart from a missing digest, at the cost of one more request.
func (s *cosignSigner) verify(ctx context.Context, ref name.Digest, explain bool) ([]oci.Signature, error) {
	co := *s.check
	co.RegistryClientOpts = s.remote(ctx)
	sigs, err := verifyLegacy(ctx, ref, &co)
	if explain && unsigned(err) && s.missing(ctx, ref) {
		// cosign does not look up a reference that is already a digest: say what is wrong.
		return nil, fmt.Errorf("verifying %q: %w: the digest is not in the registry", ref, ErrVerify)
	}
	if err != nil {
		return nil, fmt.Errorf("verifying %q: %w: %w%s", ref, ErrVerify, err, s.expectation())
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("verifying %q: %w: no signature verified%s", ref, ErrVerify, s.expectation())
	}
	return sigs, nil
}

// verifyLegacy is cosign's VerifyImageSignatures for a digest: the same reads (the .sig tag,
// then the layers of its signatures) and each signature judged by cosign's VerifyImageSignature,
// any one that verifies being enough. Only the goroutines are this package's: cosign's own cannot
// recover when its parsers panic on what a .sig manifest holds (a bundle annotation whose log
// entry has no apiVersion dereferences nil in rekor's entry types), which would end the run;
// here that signature fails to verify, as a malformed one should.
func verifyLegacy(ctx context.Context, ref name.Digest, co *cosign.CheckOpts) ([]oci.Signature, error) {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return nil, err
	}
	tag, err := ociremote.SignatureTag(ref, co.RegistryClientOpts...)
	if err != nil {
		return nil, err
	}
	sigs, err := ociremote.Signatures(tag, co.RegistryClientOpts...)
	if err != nil {
		return nil, err
	}
	all, err := sigs.Get()
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, errNoSignatures
	}
	verified := make([]oci.Signature, len(all))
	errs := make([]error, len(all))
	var g errgroup.Group
	g.SetLimit(legacyVerifiers)
	for i, sig := range all {
		g.Go(func() error {
			errs[i] = unpanicked(func() error {
				sig, err := static.Copy(sig)
				if err != nil {
					return err
				}
				if _, err := cosign.VerifyImageSignature(ctx, sig, h, co); err != nil {
					return err
				}
				verified[i] = sig
				return nil
			})
			return nil
		})
	}
	_ = g.Wait() // each goroutine keeps its error
	var out []oci.Signature
	var msgs []string
	for i, sig := range verified {
		if sig != nil {
			out = append(out, sig)
		} else {
			msgs = append(msgs, errs[i].Error())
		}
	}
	if len(out) == 0 {
		return nil, noMatchingSignatures{fmt.Errorf("no matching signatures: %s", strings.Join(msgs, "\n "))}
	}
	return out, nil
}

// legacyVerifiers is how many of a digest's legacy signatures are verified at once (cosign's
// default is 10; a digest has one or two).
const legacyVerifiers = 4

// errNoSignatures and noMatchingSignatures are verifyLegacy's answers for a digest with no
// signature and with none that verifies, as cosign's ErrNoSignaturesFound and
// ErrNoMatchingSignatures say them.
var errNoSignatures = errors.New("no signatures found")

type noMatchingSignatures struct{ error }

func (e noMatchingSignatures) Unwrap() error { return e.error }

// missing reports whether the registry answers that ref does not exist.
func (s *cosignSigner) missing(ctx context.Context, ref name.Digest) bool {
	_, err := remote.Head(ref, s.remoteOpts(ctx)...)
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}

func (s *cosignSigner) expectation() string {
	if s.o.Mode != ModeKeyless {
		return " (expected a signature by cosign-key)"
	}
	return fmt.Sprintf(" (expected issuer %q, subject %q)", s.o.Expected.Issuer, s.o.Expected.Subject)
}

// remote is the registry options for one call: the caller's, bound to ctx.
func (s *cosignSigner) remote(ctx context.Context) []ociremote.Option {
	return append(s.ociOpts[:len(s.ociOpts):len(s.ociOpts)], ociremote.WithMoreRemoteOptions(remote.WithContext(ctx)))
}

// remoteOpts are the registry options bound to ctx, for the referrer calls.
func (s *cosignSigner) remoteOpts(ctx context.Context) []remote.Option {
	return append(s.ropts[:len(s.ropts):len(s.ropts)], remote.WithContext(ctx))
}

func (s *cosignSigner) Sign(ctx context.Context, ref name.Digest, opts ...SignOption) (Result, error) {
	var so signOptions
	for _, opt := range opts {
		opt(&so)
	}
	if s.o.Provenance && so.provenance == nil {
		return Result{}, fmt.Errorf("signing %q: provenance is on but the run handed over no build facts", ref)
	}

	// What the digest carries already, per format: an earlier run may have signed it (then
	// nothing is added), or written one format and died before the next (then only what is
	// missing is added).
	var lk looked
	if so.fresh {
		// Nothing to find on a digest this run just created.
		lk = looked{res: Result{Status: StatusExisting, RekorLogIndex: -1}, scan: &bundleScan{}, needLegacy: s.format.legacy()}
	} else if pre := s.prefetched(ctx, ref); pre != nil {
		lk = *pre
	} else if lk = s.look(ctx, ref); lk.err != nil {
		return Result{}, lk.err
	}
	res, needLegacy, scan := lk.res, lk.needLegacy, lk.scan
	needBundle, needProvenance := false, false
	if s.format.bundle() || s.o.Provenance {
		if s.format.bundle() {
			if b := scan.find(PredicateCosignSign); b != nil {
				res.Bundle = AttachedExisting
				res.Identity = b.identity
				if res.RekorLogIndex < 0 {
					res.RekorLogIndex = b.logIndex
				}
			} else {
				needBundle = true
			}
		}
		if s.o.Provenance {
			if scan.find(PredicateSLSAProvenance) != nil {
				res.Provenance = AttachedExisting
			} else {
				needProvenance = true
			}
		}
	}
	if !needLegacy && !needBundle && !needProvenance {
		res.Verification = fluxOutcome(res, scan)
		return res, nil
	}

	// Build the statements before anything is written: facts that cannot make a provenance
	// statement refuse the digest whole, not after its legacy signature went out beside them.
	statements, err := bundleStatements(ref, needBundle, needProvenance, so.provenance)
	if err != nil {
		return Result{}, err
	}

	// Read the digest first: nothing is requested or logged for one that is not there. A digest
	// this run just pushed is there, and the caller holds its descriptor.
	var se oci.SignedEntity
	if so.fresh && so.subject != nil && so.subject.Digest.String() == ref.DigestStr() {
		se = heldEntity{desc: *so.subject}
	} else {
		se, err = ociremote.SignedEntity(ref, s.remote(ctx)...)
		if missing := (*ociremote.EntityNotFoundError)(nil); errors.As(err, &missing) {
			return Result{}, fmt.Errorf("signing %q: the digest is not in the registry", ref)
		}
		if err != nil {
			return Result{}, fmt.Errorf("reading %q: %w", ref, err)
		}
	}
	cred, err := s.credential(ctx)
	if err != nil {
		return Result{}, err
	}
	if cred.sv == nil {
		return Result{}, fmt.Errorf("signing %q: cosign-key holds a public key, which verifies but cannot sign: give the private key (cosign.key) to publish", ref)
	}
	existed := res.Legacy != AttachedNone || res.Bundle != AttachedNone || res.Provenance != AttachedNone
	res.Identity = cred.identity
	res.Status = StatusNew
	if so.reused || existed {
		res.Status = StatusHealed
	}

	if so.fresh {
		s.reserveUploads(ctx, ref, needLegacy, statements)
	}

	// Everything is made first, then written: each signature and bundle is recorded in the log
	// and passes cosign's checks (the log's answer included) before any of them is stored, so
	// that a log that answers wrongly for one format leaves nothing behind for the others either,
	// and the caller moves no tag. The formats are made side by side: each waits mostly on its
	// Rekor entry, and a digest's three entries need not queue behind each other.
	g, gctx := errgroup.WithContext(ctx)
	var bundles [2][]byte
	var legacy oci.Signature
	var bundleIdx, legacyIdx int64 = -1, -1
	if needBundle || needProvenance {
		g.Go(func() error {
			var err error
			bundles, bundleIdx, err = s.makeBundles(gctx, cred, ref, statements)
			return err
		})
	}
	if needLegacy {
		g.Go(func() error {
			var err error
			legacy, legacyIdx, err = s.makeLegacy(gctx, cred, ref)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return Result{}, err
	}
	if so.writeAfter != nil {
		if err := so.writeAfter(ctx); err != nil {
			return Result{}, fmt.Errorf("signing %q: %w; nothing was stored", ref, err)
		}
	}
	// The first failure to write cancels the rest; what was stored stays and the next run
	// completes the digest.
	g, gctx = errgroup.WithContext(ctx)
	if needBundle || needProvenance {
		g.Go(func() error { return s.pushBundles(gctx, ref, se, bundles) })
	}
	if needLegacy {
		g.Go(func() error { return s.writeLegacy(gctx, cred, ref, se, legacy) })
	}
	if err := g.Wait(); err != nil {
		return Result{}, err
	}
	if needBundle {
		res.Bundle = AttachedNew
		if res.Legacy == AttachedNone {
			res.RekorLogIndex = bundleIdx
		}
	}
	if needProvenance {
		res.Provenance = AttachedNew
	}
	if needLegacy {
		res.Legacy = AttachedNew
		res.RekorLogIndex = legacyIdx
	}
	res.Verification = fluxOutcome(res, scan)
	s.o.Logf("signed %s (%s, Rekor log index %d%s)", ref, res.Identity, res.RekorLogIndex, attachedSummary(res))
	return res, nil
}

// fluxOutcome is what Flux accepts of a digest after Sign, from what Sign found (scan, nil when
// it did not look at the bundles) and wrote (res): the bundles when there are any, of which
// Sign's own or one it verified; else the legacy signature. Nil when unknown.
func fluxOutcome(res Result, scan *bundleScan) *Verification {
	v := &Verification{Identity: res.Identity}
	switch {
	case res.Bundle != AttachedNone || res.Provenance != AttachedNone:
		// A bundle of the expected signer is there (new, or found verified).
		v.Format = FormatBundle
		v.Provenance = res.Provenance != AttachedNone
		if scan != nil && scan.find(PredicateSLSAProvenance) != nil {
			v.Provenance = true
		}
	case scan == nil:
		return nil
	case scan.parsed > 0:
		// Only other signers' bundles: Flux uses them, and they do not verify.
		return nil
	case res.Legacy != AttachedNone:
		v.Format = FormatLegacy
	default:
		return nil
	}
	return v
}

// bundleStatements are the in-toto statements of ref's signature bundle (sig) and provenance
// bundle (prov), in that order; nil where not asked for.
func bundleStatements(ref name.Digest, sig, prov bool, facts *Provenance) ([2][]byte, error) {
	var statements [2][]byte
	if (sig || prov) && !strings.HasPrefix(ref.DigestStr(), "sha256:") {
		// What verifyBundle (and Flux) check a bundle against: refused here, before the legacy
		// signature goes out beside a bundle that could not be checked.
		return statements, fmt.Errorf("signing %q as a Sigstore bundle: only sha256 digests are supported", ref)
	}
	if sig {
		st, err := signStatement(ref)
		if err != nil {
			return statements, fmt.Errorf("building the signature of %q: %w", ref, err)
		}
		statements[0] = st
	}
	if prov {
		st, err := provenanceStatement(ref, facts)
		if err != nil {
			return statements, fmt.Errorf("building the provenance of %q: %w", ref, err)
		}
		statements[1] = st
	}
	return statements, nil
}

// makeBundles signs the bundles of ref's statements (bundleStatements), each verified, and
// returns them with the signature bundle's log index.
func (s *cosignSigner) makeBundles(ctx context.Context, cred *credential, ref name.Digest, statements [2][]byte) ([2][]byte, int64, error) {
	what := [2]string{"signing %q as a Sigstore bundle: %w", "signing the provenance of %q: %w"}
	var bundles [2][]byte
	var idx [2]int64
	g, gctx := errgroup.WithContext(ctx)
	for i, st := range statements {
		if st == nil {
			continue
		}
		g.Go(func() error {
			b, n, err := s.makeBundle(gctx, cred, ref, st)
			if err != nil {
				return fmt.Errorf(what[i], ref, err)
			}
			bundles[i], idx[i] = b, n
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return bundles, -1, err
	}
	if statements[0] == nil {
		return bundles, -1, nil
	}
	return bundles, idx[0], nil
}

// pushBundles attaches ref's bundles (makeBundles: the signature's, the provenance's) as its
// referrers.
func (s *cosignSigner) pushBundles(ctx context.Context, ref name.Digest, se oci.SignedEntity, bundles [2][]byte) error {
	predicates := [2]string{PredicateCosignSign, PredicateSLSAProvenance}
	now := s.now()
	var referrers []registry.Referrer
	for i, b := range bundles {
		if b != nil {
			referrers = append(referrers, bundleReferrer(b, predicates[i], now))
		}
	}
	// The subject descriptor from the manifest already read; Push reads it itself if the
	// entity cannot say.
	var subject v1.Descriptor
	if h, ok := se.(heldEntity); ok {
		subject = h.desc
	} else if d, ok := se.(partial.Describable); ok {
		if desc, err := partial.Descriptor(d); err == nil {
			subject = *desc
		}
	}
	if _, err := s.referrers.Push(ctx, ref, subject, referrers); err != nil {
		return fmt.Errorf("attaching the Sigstore bundles of %q: %w", ref, err)
	}
	return nil
}

// reserver opens upload sessions ahead of their blobs (the registry client's BlobWriter).
type reserver interface {
	Reserve(ctx context.Context, repo name.Repository, n int)
}

// reserveUploads opens the upload sessions of a fresh digest's signature blobs while their log
// entries are made, when the BlobWriter can: the legacy signature's config and layer, the
// referrers' empty config and one layer per bundle. Each upload then costs its PUT alone.
func (s *cosignSigner) reserveUploads(ctx context.Context, ref name.Digest, legacy bool, statements [2][]byte) {
	r, ok := s.o.BlobWriter.(reserver)
	if !ok {
		return
	}
	n := 0
	if legacy {
		n += 2
	}
	if bundles := btoi(statements[0] != nil) + btoi(statements[1] != nil); bundles > 0 {
		n += 1 + bundles
	}
	r.Reserve(ctx, ref.Context(), n)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// makeLegacy makes cosign's legacy signature of ref, recorded in the log when it is on and
// verified, and returns it with its log index (-1 without the log).
func (s *cosignSigner) makeLegacy(ctx context.Context, cred *credential, ref name.Digest) (oci.Signature, int64, error) {
	pl, err := (&payload.Cosign{Image: ref}).MarshalJSON()
	if err != nil {
		return nil, -1, fmt.Errorf("building the signature payload for %q: %w", ref, err)
	}
	raw, err := cred.sv.SignMessage(bytes.NewReader(pl))
	if err != nil {
		return nil, -1, fmt.Errorf("signing %q: %w", ref, err)
	}
	idx := int64(-1)
	sigOpts := []static.Option{}
	if len(cred.certPEM) > 0 {
		sigOpts = append(sigOpts, static.WithCertChain(cred.certPEM, cred.chainPEM))
	}
	if s.rekor != nil {
		h := sha256.New()
		h.Write(pl)
		logged := cred.certPEM
		if len(logged) == 0 {
			logged = cred.pubPEM
		}
		entry, err := cosign.TLogUpload(ctx, s.rekor, raw, h, logged)
		if err != nil {
			return nil, -1, fmt.Errorf("recording the signature of %q in Rekor: %w", ref, err)
		}
		if err := s.logged(ctx, entry, raw); err != nil {
			return nil, -1, fmt.Errorf("recording the signature of %q in Rekor at %q: %w; nothing was stored", ref, orDefault(s.o.RekorURL, PublicRekorURL), err)
		}
		idx = *entry.LogIndex
		sigOpts = append(sigOpts, static.WithBundle(cbundle.EntryToBundle(entry)))
	}
	sig, err := static.NewSignature(pl, base64.StdEncoding.EncodeToString(raw), sigOpts...)
	if err != nil {
		return nil, -1, fmt.Errorf("building the signature of %q: %w", ref, err)
	}
	// Verified before it is stored, the way `cosign verify` verifies a legacy signature
	// (certificate chain to the trust root and expected identity, or the key; the Rekor entry:
	// that it records this signature, key or certificate and payload, under a trusted log's
	// signed timestamp, within the certificate's validity; the payload's digest), from what the
	// run holds: offline, no read-back, no log lookup. A private Sigstore given a wrong trust
	// root fails here, before anything is written.
	if err := s.verifyHeld(ctx, sig, ref); err != nil {
		return nil, -1, fmt.Errorf("the signature just made for %q does not verify: %w; nothing was stored", ref, err)
	}
	return sig, idx, nil
}

// writeLegacy stores sig (makeLegacy) in ref's `sha256-<hex>.sig` signature image, beside the
// signatures already there.
func (s *cosignSigner) writeLegacy(ctx context.Context, cred *credential, ref name.Digest, se oci.SignedEntity, sig oci.Signature) error {
	if _, ok := se.(heldEntity); ok && s.o.BlobWriter != nil {
		// A digest this run just pushed has no signatures to keep, unless another run with the
		// same content pushed and signed it meanwhile: one HEAD of the `.sig` tag tells. Without
		// one, the signature image holds this signature alone; with one, this signature is
		// added to those there, as below (both are read-then-write, as cosign's own are).
		tag, err := ociremote.SignatureTag(ref, s.ociOpts...)
		if err != nil {
			return err
		}
		// The HEAD goes out beside the upload of the signature image's blobs, which are
		// needed either way (a blob is stored by its digest: uploading one that is there
		// changes nothing), so the signature costs the blobs' round trips and the manifest's.
		head := make(chan error, 1)
		go func() {
			_, err := remote.Head(tag, s.remoteOpts(ctx)...)
			head <- err
		}()
		sigs, upErr := s.uploadFirstSignature(ctx, tag, sig)
		err = <-head
		switch {
		case registry.IsNotFound(err):
			if upErr == nil {
				upErr = remote.Put(tag, sigs, s.remoteOpts(ctx)...)
			}
			if upErr != nil {
				return fmt.Errorf("pushing the signature of %q: %w", ref, upErr)
			}
			return nil
		case err != nil:
			return fmt.Errorf("looking for signatures of %q: %w", ref, err)
		}
		if se, err = ociremote.SignedEntity(ref, s.remote(ctx)...); err != nil {
			return fmt.Errorf("reading %q: %w", ref, err)
		}
	}
	// The dupe detector keeps a signature that verifies with the same key from being added
	// twice, e.g. when two runs race on the same digest.
	signed, err := mutate.AttachSignatureToEntity(se, sig, mutate.WithDupeDetector(cremote.NewDupeDetector(cred.sv)))
	if err != nil {
		return fmt.Errorf("attaching the signature to %q: %w", ref, err)
	}
	if err := ociremote.WriteSignatures(ref.Repository, signed, s.remote(ctx)...); err != nil {
		return fmt.Errorf("pushing the signature of %q: %w", ref, err)
	}
	return nil
}

// uploadFirstSignature builds the signature image of a digest that has none: sig alone, as
// cosign builds it (AppendSignatures onto empty signatures, as AttachSignatureToEntity does for
// a digest without a `.sig` tag), and uploads its blobs side by side through the BlobWriter into
// the repository of tag (the digest's `.sig` tag). The caller puts its manifest at tag.
func (s *cosignSigner) uploadFirstSignature(ctx context.Context, tag name.Tag, sig oci.Signature) (oci.Signatures, error) {
	repo := tag.Context()
	sigs, err := mutate.AppendSignatures(empty.Signatures(), false, sig)
	if err != nil {
		return nil, err
	}
	cfg, err := sigs.RawConfigFile()
	if err != nil {
		return nil, err
	}
	m, err := sigs.Manifest()
	if err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.o.BlobWriter.WriteBlob(gctx, repo, m.Config, cfg, true) })
	for _, l := range m.Layers {
		layer, err := sigs.LayerByDigest(l.Digest)
		if err != nil {
			return nil, err
		}
		rc, err := layer.Compressed()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		g.Go(func() error { return s.o.BlobWriter.WriteBlob(gctx, repo, l, data, true) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return sigs, nil
}

// heldEntity is a digest this run just pushed, described by what the run holds: it has no
// signatures, attestations or attachments yet.
type heldEntity struct{ desc v1.Descriptor }

var _ oci.SignedEntity = heldEntity{}

func (h heldEntity) Digest() (v1.Hash, error)            { return h.desc.Digest, nil }
func (h heldEntity) Descriptor() (*v1.Descriptor, error) { d := h.desc; return &d, nil }
func (heldEntity) Signatures() (oci.Signatures, error)   { return empty.Signatures(), nil }
func (heldEntity) Attestations() (oci.Signatures, error) { return empty.Signatures(), nil }
func (heldEntity) Attachment(name string) (oci.File, error) {
	return nil, fmt.Errorf("no attachment %q", name)
}

// verifyHeld verifies a legacy signature the run holds (not read from the registry) as Flux
// would, without any request: the Rekor bundle it carries must verify against the log's key.
func (s *cosignSigner) verifyHeld(ctx context.Context, sig oci.Signature, ref name.Digest) error {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return err
	}
	co := *s.check
	co.Offline = true
	co.RekorClient = nil
	if err := unpanicked(func() error { _, err := cosign.VerifyImageSignature(ctx, sig, h, &co); return err }); err != nil {
		return fmt.Errorf("%w: %w%s", ErrVerify, err, s.expectation())
	}
	return nil
}

// attachedSummary lists what Sign wrote, for its log line.
func attachedSummary(r Result) string {
	var parts []string
	for _, a := range []struct {
		name string
		v    Attached
	}{{"legacy signature", r.Legacy}, {"bundle", r.Bundle}, {"provenance", r.Provenance}} {
		if a.v != AttachedNone {
			parts = append(parts, a.name+" "+string(a.v))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

// unsigned tells a verification that found no acceptable signature from one that could not
// look (registry down, digest missing).
func unsigned(err error) bool {
	var nomatch noMatchingSignatures
	return errors.Is(err, errNoSignatures) || errors.As(err, &nomatch)
}

func existingResult(sig oci.Signature) Result {
	res := Result{Status: StatusExisting, Identity: "key", RekorLogIndex: -1}
	if cert, err := sig.Cert(); err == nil && cert != nil {
		if sans := cryptoutils.GetSubjectAlternateNames(cert); len(sans) > 0 {
			res.Identity = sans[0]
		}
	}
	if b, err := sig.Bundle(); err == nil && b != nil {
		res.RekorLogIndex = b.Payload.LogIndex
	}
	return res
}

// credential returns the key (and certificate) to sign with, requesting the OIDC token and the
// Fulcio certificate on first use: one token and one certificate serve the whole run.
// Concurrent callers wait for that one request; a certificate close to expiry is replaced.
//
// A failure is kept, so that 50 components do not each spend the retry budget on the same
// outage, but for how long depends on whether it can heal:
//   - one that cannot (no id-token permission, a 4xx from Fulcio, a certificate for another
//     identity) is kept for the run: every later try would fail the same way;
//   - one that may (network error, 408/429/5xx from the token service or Fulcio) has already
//     been retried by Options.Transport. It is answered to every caller that waited for that
//     try and to those arriving within credCooldown of it; the first caller after that tries
//     again. An outage thus costs about one retry budget per cooldown, not one per component,
//     and components still to sign once the service is back get signed. Without a retrying
//     transport, this is the only retry there is;
//   - a cancelled or timed-out caller's context is the caller's problem, and not kept at all.
func (s *cosignSigner) credential(ctx context.Context) (*credential, error) {
	select {
	case s.credLock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.credLock }()
	if s.cred != nil && (s.cred.notAfter.IsZero() || time.Until(s.cred.notAfter) > s.margin) {
		return s.cred, nil
	}
	if s.credErr != nil && (!isTransient(s.credErr) || time.Since(s.credAt) < s.cooling) {
		return nil, s.credErr
	}
	cred, err := s.keyless(ctx)
	switch {
	case err == nil:
		s.cred, s.credErr = cred, nil
		return cred, nil
	case ctx.Err() != nil:
		return nil, err
	}
	s.credErr, s.credAt = err, time.Now()
	if isTransient(err) {
		s.o.Logf("keyless signing failed in a way that may heal (%v): components that reach signing in the next %s fail with it; the first after asks again", err, s.cooling)
	}
	return nil, err
}

// Prepare starts the keyless credential's fetch (see Preparer). A cosign key is loaded by New
// already: nothing to do.
func (s *cosignSigner) Prepare(ctx context.Context) {
	if s.o.Mode != ModeKeyless {
		return
	}
	go func() {
		select {
		case s.credLock <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-s.credLock }()
		if s.cred != nil || s.credErr != nil {
			return // a Sign came first
		}
		cred, err := s.keyless(ctx)
		switch {
		case err == nil:
			s.cred = cred
		case ctx.Err() == nil && !isTransient(err):
			// The same failure for every Sign: each gets it at once, as from credential.
			s.credErr, s.credAt = err, time.Now()
		}
	}()
}

// keyless gets a certificate from Fulcio for a fresh ephemeral key, proving the key with the
// GitHub Actions OIDC token.
func (s *cosignSigner) keyless(ctx context.Context) (*credential, error) {
	client := s.httpClient()
	token, err := requestIDToken(ctx, client, s.o.TokenRequestURL, s.o.TokenRequestToken)
	if err != nil {
		return nil, err
	}
	subject, err := tokenSubject(token)
	if err != nil {
		return nil, err
	}

	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the signing key: %w", err)
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("loading the signing key: %w", err)
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding the public key: %w", err)
	}
	// Fulcio wants the token's subject signed by the key: proof of possession.
	proof, err := sv.SignMessage(strings.NewReader(subject))
	if err != nil {
		return nil, fmt.Errorf("signing the proof of possession: %w", err)
	}

	fulcioURL := orDefault(s.o.FulcioURL, PublicFulcioURL)
	u, err := url.Parse(fulcioURL)
	if err != nil {
		return nil, fmt.Errorf("parsing fulcio-url %q: %w", fulcioURL, err)
	}
	resp, err := signingCert(ctx, client, u, fulcioapi.CertificateRequest{
		PublicKey:          fulcioapi.Key{Content: pubPEM},
		SignedEmailAddress: proof,
	}, token)
	if err != nil {
		return nil, fmt.Errorf("requesting a signing certificate from Fulcio at %q: %w", fulcioURL, err)
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM(resp.CertPEM)
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("reading the certificate from Fulcio at %q: %v", fulcioURL, err)
	}
	cert := certs[0]
	if err := cryptoutils.EqualKeys(cert.PublicKey, priv.Public()); err != nil {
		return nil, fmt.Errorf("the certificate from Fulcio at %q is for another key", fulcioURL)
	}

	identity := ""
	if sans := cryptoutils.GetSubjectAlternateNames(cert); len(sans) > 0 {
		identity = sans[0]
	}
	// Catch a mismatch before anything is written: a signature Flux will not accept is worse
	// than none.
	if ok, _ := regexp.MatchString(s.o.Expected.Subject, identity); !ok {
		return nil, fmt.Errorf("the signing certificate is for %q, which does not match the expected subject %q: check the workflow file and ref (a reusable workflow signs as itself)", identity, s.o.Expected.Subject)
	}
	s.o.Logf("keyless signing as %s (certificate valid until %s)", identity, cert.NotAfter.UTC().Format(time.RFC3339))
	return &credential{
		sv:       sv,
		pub:      priv.Public(),
		certPEM:  resp.CertPEM,
		chainPEM: resp.ChainPEM,
		certDER:  cert.Raw,
		pubPEM:   pubPEM,
		identity: identity,
		notAfter: cert.NotAfter,
	}, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
