package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	cremote "github.com/sigstore/cosign/v2/pkg/cosign/remote"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	fulcioapi "github.com/sigstore/fulcio/pkg/api"
	rekorgen "github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"github.com/sigstore/sigstore/pkg/tuf"
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
	o       Options
	ociOpts []ociremote.Option
	check   *cosign.CheckOpts
	rekor   *rekorgen.Rekor // upload client; nil when tlog upload is off
	snippet string
	margin  time.Duration // certMargin; tests raise it to force a new certificate
	cooling time.Duration // credCooldown; tests lower it

	// credLock guards the fields below it, and is held while the credential is requested. It is
	// a one-slot channel so that a waiter can give up with its context.
	credLock chan struct{}
	cred     *credential
	credErr  error
	credAt   time.Time // when credErr happened
}

// credential is what signs: a key, and for keyless its short-lived certificate.
type credential struct {
	sv                signature.SignerVerifier
	certPEM, chainPEM []byte // empty for a cosign key
	pubPEM            []byte
	identity          string
	notAfter          time.Time // zero for a cosign key
}

func newCosignSigner(o Options) (*cosignSigner, error) {
	s := &cosignSigner{o: o, margin: certMargin, cooling: credCooldown, credLock: make(chan struct{}, 1)}
	if len(o.RemoteOptions) > 0 {
		s.ociOpts = append(s.ociOpts, ociremote.WithRemoteOptions(o.RemoteOptions...))
	}
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
		pub, err := cred.sv.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("reading the public key of cosign-key: %w", err)
		}
		if check.SigVerifier, err = signature.LoadVerifier(pub, crypto.SHA256); err != nil {
			return nil, fmt.Errorf("loading the public key of cosign-key: %w", err)
		}
		// As Flux's source-controller does for a public key: the signature alone decides.
		check.Offline = true
		check.IgnoreTlog = true
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
		if err := trustRoot(o, check); err != nil {
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
		s.snippet = keylessSnippet(o.Expected)
	}
	s.check = check
	return s, nil
}

// trustRoot fills the trust material of check: the private Sigstore of fulcio-root and
// rekor-public-key, or else the public one from cosign's TUF-based trusted root.
func trustRoot(o Options, check *cosign.CheckOpts) error {
	if o.FulcioRoot == "" && o.RekorPublicKey == "" {
		tr, err := cosign.TrustedRoot()
		if err != nil {
			return fmt.Errorf("loading the public Sigstore trusted root: %w (for a private Sigstore set fulcio-root and rekor-public-key)", err)
		}
		check.TrustedMaterial = tr
		return nil
	}
	if o.FulcioRoot == "" || (o.RekorPublicKey == "" && o.TLogUpload) {
		return errors.New("a private Sigstore needs both fulcio-root and rekor-public-key")
	}

	rootPEM, err := readPEMOrFile(o.FulcioRoot)
	if err != nil {
		return fmt.Errorf("reading fulcio-root: %w", err)
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM(rootPEM)
	if err != nil || len(certs) == 0 {
		return fmt.Errorf("reading fulcio-root: no PEM certificates in it")
	}
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			roots.AddCert(c)
		} else {
			intermediates.AddCert(c)
		}
	}
	check.RootCerts, check.IntermediateCerts = roots, intermediates

	if o.RekorPublicKey != "" {
		pem, err := readPEMOrFile(o.RekorPublicKey)
		if err != nil {
			return fmt.Errorf("reading rekor-public-key: %w", err)
		}
		keys := cosign.NewTrustedTransparencyLogPubKeys()
		if err := keys.AddTransparencyLogPubKey(pem, tuf.Active); err != nil {
			return fmt.Errorf("reading rekor-public-key: %w", err)
		}
		check.RekorPubKeys = &keys
	}

	// A Fulcio without a CT log issues certificates without SCTs; require them only when the
	// trust root names a CT log.
	if o.CTLogPublicKey == "" {
		check.IgnoreSCT = true
		return nil
	}
	pem, err := readPEMOrFile(o.CTLogPublicKey)
	if err != nil {
		return fmt.Errorf("reading the CT log public key: %w", err)
	}
	keys := cosign.NewTrustedTransparencyLogPubKeys()
	if err := keys.AddTransparencyLogPubKey(pem, tuf.Active); err != nil {
		return fmt.Errorf("reading the CT log public key: %w", err)
	}
	check.CTLogPubKeys = &keys
	return nil
}

func (s *cosignSigner) Snippet() string { return s.snippet }

func (s *cosignSigner) Verify(ctx context.Context, ref name.Digest) error {
	_, err := s.verify(ctx, ref, true)
	return err
}

// verify returns the signatures of ref that verify. With explain, a missing signature is
// told apart from a missing digest, at the cost of one more request.
func (s *cosignSigner) verify(ctx context.Context, ref name.Digest, explain bool) ([]oci.Signature, error) {
	co := *s.check
	co.RegistryClientOpts = s.remote(ctx)
	sigs, _, err := cosign.VerifyImageSignatures(ctx, ref, &co)
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

// missing reports whether the registry answers that ref does not exist.
func (s *cosignSigner) missing(ctx context.Context, ref name.Digest) bool {
	_, err := remote.Head(ref, append(s.o.RemoteOptions[:len(s.o.RemoteOptions):len(s.o.RemoteOptions)], remote.WithContext(ctx))...)
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

func (s *cosignSigner) Sign(ctx context.Context, ref name.Digest, opts ...SignOption) (Result, error) {
	var so signOptions
	for _, opt := range opts {
		opt(&so)
	}

	// An earlier run may have signed this digest already: adding a second signature would
	// only grow the .sig manifest and the log.
	sigs, err := s.verify(ctx, ref, false)
	switch {
	case err == nil:
		return existingResult(sigs[0]), nil
	case !unsigned(err):
		return Result{}, fmt.Errorf("looking for an existing signature on %q: %w", ref, err)
	}

	// Read the entity first: nothing is requested or logged for a digest that is not there.
	ro := s.remote(ctx)
	se, err := ociremote.SignedEntity(ref, ro...)
	if missing := (*ociremote.EntityNotFoundError)(nil); errors.As(err, &missing) {
		return Result{}, fmt.Errorf("signing %q: the digest is not in the registry", ref)
	}
	if err != nil {
		return Result{}, fmt.Errorf("reading %q: %w", ref, err)
	}
	cred, err := s.credential(ctx)
	if err != nil {
		return Result{}, err
	}
	pl, err := (&payload.Cosign{Image: ref}).MarshalJSON()
	if err != nil {
		return Result{}, fmt.Errorf("building the signature payload for %q: %w", ref, err)
	}
	raw, err := cred.sv.SignMessage(bytes.NewReader(pl))
	if err != nil {
		return Result{}, fmt.Errorf("signing %q: %w", ref, err)
	}

	res := Result{Status: StatusNew, Identity: cred.identity, RekorLogIndex: -1}
	if so.reused {
		res.Status = StatusHealed
	}
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
			return Result{}, fmt.Errorf("recording the signature of %q in Rekor: %w", ref, err)
		}
		if entry.LogIndex != nil {
			res.RekorLogIndex = *entry.LogIndex
		}
		sigOpts = append(sigOpts, static.WithBundle(cbundle.EntryToBundle(entry)))
	}
	sig, err := static.NewSignature(pl, base64.StdEncoding.EncodeToString(raw), sigOpts...)
	if err != nil {
		return Result{}, fmt.Errorf("building the signature of %q: %w", ref, err)
	}

	// The dupe detector keeps a signature that verifies with the same key from being added
	// twice, e.g. when two runs race on the same digest.
	signed, err := mutate.AttachSignatureToEntity(se, sig, mutate.WithDupeDetector(cremote.NewDupeDetector(cred.sv)))
	if err != nil {
		return Result{}, fmt.Errorf("attaching the signature to %q: %w", ref, err)
	}
	if err := ociremote.WriteSignatures(ref.Repository, signed, ro...); err != nil {
		return Result{}, fmt.Errorf("pushing the signature of %q: %w", ref, err)
	}
	s.o.Logf("signed %s (%s, Rekor log index %d)", ref, res.Identity, res.RekorLogIndex)
	return res, nil
}

// unsigned tells a verification that found no acceptable signature from one that could not
// look (registry down, digest missing).
func unsigned(err error) bool {
	var none *cosign.ErrNoSignaturesFound
	var nomatch *cosign.ErrNoMatchingSignatures
	return errors.As(err, &none) || errors.As(err, &nomatch)
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
		certPEM:  resp.CertPEM,
		chainPEM: resp.ChainPEM,
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
