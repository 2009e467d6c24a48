package sign

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fleetpush/fleetpush/internal/registry"
)

// Modes of Options.Mode.
const (
	ModeKeyless = "keyless"
	ModeKey     = "key"
	ModeNone    = "none"
)

// Public Sigstore endpoints, used when Options leaves them empty.
const (
	PublicFulcioURL = "https://fulcio.sigstore.dev"
	PublicRekorURL  = "https://rekor.sigstore.dev"
)

// GitHubIssuer is the OIDC issuer of GitHub Actions tokens on github.com.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// Identity is what a verifier requires of a keyless signature: regular expressions for the
// certificate's OIDC issuer and subject (the SAN), as Flux's `matchOIDCIdentity` takes them.
type Identity struct {
	Issuer  string
	Subject string
}

// Status says what Sign did for a digest.
type Status string

const (
	// StatusNew: the digest was signed by this run.
	StatusNew Status = "new"
	// StatusExisting: the digest already carried a valid signature from the expected identity;
	// nothing was added.
	StatusExisting Status = "existing"
	// StatusHealed: the digest was in the registry before this run (see Reused) but carried no
	// valid signature, as an earlier run that died between push and sign leaves it; this run
	// signed it.
	StatusHealed Status = "healed"
	// StatusUnsigned: signing is switched off (mode none).
	StatusUnsigned Status = "unsigned"
)

// Attached says what Sign did about one kind of attachment of a digest.
type Attached string

const (
	// AttachedNone: not asked for (another signature format, provenance off, signing off).
	AttachedNone Attached = ""
	// AttachedNew: this run wrote it.
	AttachedNew Attached = "new"
	// AttachedExisting: the digest already carried a valid one from the expected identity.
	AttachedExisting Attached = "existing"
)

// Result is the outcome of Sign for one digest.
type Result struct {
	Status Status
	// Identity is the signer: the certificate's subject for keyless signatures, "key" for a
	// cosign key, empty when unsigned.
	Identity string
	// RekorLogIndex is the transparency log index of the signature (the legacy one when the
	// digest has one, else the bundle's), -1 when there is none.
	RekorLogIndex int64
	// Legacy is the `sha256-<hex>.sig` signature, Bundle the Sigstore bundle referrer and
	// Provenance the SLSA provenance attestation: what Sign wrote or found of each.
	Legacy, Bundle, Provenance Attached
	// Verification is what Flux will accept of the digest, as Sign's own checks found it: each
	// signature and bundle Sign wrote was verified offline with cosign's checks, from what the
	// run holds (the certificate's chain to the trust root, the expected identity or the key,
	// the Rekor entry: that it records this signature and payload, by a trusted log; the signed
	// digest), before any of them was stored; each it found was verified as the registry
	// serves it. Nil when Sign could not tell (it did not look at the digest's
	// bundles, or found only other signers' ones); then call Verify. With it, a Verify right
	// after Sign would only read back what the registry just acknowledged storing by digest.
	Verification *Verification
}

// Verification is what Verify accepted, the way Flux decides: the bundles when the digest has
// any, else the legacy signature.
type Verification struct {
	// Format is FormatBundle or FormatLegacy: which of them was verified.
	Format SignatureFormat
	// Identity is the signer of the verified signature, as in Result.
	Identity string
	// Provenance says a SLSA provenance attestation from the identity verified too.
	Provenance bool
}

// Signer signs and verifies artifacts by digest. Implementations are safe for concurrent use.
type Signer interface {
	// Sign makes sure ref carries a valid signature from the expected identity. It is
	// idempotent: when such a signature exists, nothing is added (StatusExisting).
	Sign(ctx context.Context, ref name.Digest, opts ...SignOption) (Result, error)
	// Verify checks ref the way Flux's source-controller does for `verify.provider: cosign`
	// with `matchOIDCIdentity` (keyless) or a public key (key mode): the Sigstore bundles
	// attached as OCI referrers when there are any (then one of them must verify: a bundle
	// that is there but does not verify is a failure, not a reason to look further), else the
	// legacy `.sig` signature. Either format is accepted, whatever Options.SignatureFormat.
	Verify(ctx context.Context, ref name.Digest) error
	// Verification is Verify, saying what it accepted.
	Verification(ctx context.Context, ref name.Digest) (Verification, error)
	// Snippet is the `verify:` block of a Flux OCIRepository that accepts what this Signer
	// signs, to print once per run.
	Snippet() string
}

// Preparer is a Signer that can fetch its signing credential ahead of the first Sign: a
// keyless Signer's OIDC token and Fulcio certificate, a round trip to Fulcio that otherwise
// lies on the first component's critical path, after its push.
type Preparer interface {
	// Prepare starts fetching the credential in the background and returns at once; the
	// first Sign waits for that fetch instead of starting its own. It is only a head start:
	// a fetch that fails in a way that may heal is forgotten (the first Sign tries again,
	// with its own retries), one that cannot heal is kept, as Sign would keep it. Cancelling
	// ctx abandons the fetch.
	Prepare(ctx context.Context)
}

// SignOption tunes one Sign call.
type SignOption func(*signOptions)

type signOptions struct {
	reused, fresh bool
	provenance    *Provenance
	subject       *v1.Descriptor
	writeAfter    func(context.Context) error
}

// WriteAfter has Sign wait for ready before it writes anything to the registry: everything is
// signed, logged and verified first, then ready is called, and an error from it ends Sign
// with nothing stored. With Fresh and Subject, Sign reads nothing of the digest either, so a
// caller can sign a digest it computed itself while its push is still in flight, and have ready
// wait for that push: the log entries then overlap the push instead of following it.
func WriteAfter(ready func(context.Context) error) SignOption {
	return func(o *signOptions) { o.writeAfter = ready }
}

// Subject hands Sign the digest's descriptor (media type, digest, size) when the caller holds
// it, as after a push: with Fresh, Sign then writes without reading the digest first.
func Subject(d v1.Descriptor) SignOption {
	return func(o *signOptions) { o.subject = &d }
}

// Reused tells Sign that the digest was already in the registry before this run (the compare
// step reused it), so that a missing signature is reported as StatusHealed.
func Reused(reused bool) SignOption {
	return func(o *signOptions) { o.reused = reused }
}

// Fresh tells Sign that this run pushed the digest and it was not in the registry before, so it
// carries no signature yet: Sign writes every format without looking for existing ones first,
// which saves a few registry reads per digest (with a BlobWriter and Subject, one HEAD of the
// `.sig` tag remains, so that a signature another run with the same content wrote meanwhile is
// kept). Without it (and with Reused) Sign looks.
func Fresh(fresh bool) SignOption {
	return func(o *signOptions) { o.fresh = fresh }
}

// WithProvenance hands Sign the facts of the build for the SLSA provenance attestation of the
// digest. Sign attaches one when Options.Provenance is on, and then needs these facts.
func WithProvenance(p Provenance) SignOption {
	return func(o *signOptions) { o.provenance = &p }
}

// Options configures New. The zero value of each field is the public-Sigstore default.
type Options struct {
	// Mode is ModeKeyless, ModeKey or ModeNone.
	Mode string
	// Key is a cosign key, PEM or a file path (ModeKey): the private key to sign (KeyPassword
	// decrypts it), or the public key (cosign.pub) when the Signer only verifies.
	Key, KeyPassword string

	// FulcioURL and RekorURL default to the public Sigstore instance.
	FulcioURL, RekorURL string
	// FulcioRoot (CA certificates) and RekorPublicKey are PEM or file paths. When set, they are
	// the whole trust root: nothing is fetched from the public Sigstore TUF repository, and
	// certificates are not required to carry an SCT (a Fulcio without a CT log issues none).
	FulcioRoot, RekorPublicKey string
	// CTLogPublicKey (PEM or file path) makes a private trust root require SCTs again.
	CTLogPublicKey string
	// TrustedRoot is a Sigstore trusted_root.json (the JSON itself or a file path): the whole
	// trust root of keyless verification, in place of FulcioRoot, RekorPublicKey and
	// CTLogPublicKey (set either, not both). Certificates are required to carry an SCT only
	// when it lists a CT log, as Flux does.
	TrustedRoot string

	// SignatureFormat is what Sign writes: FormatBoth (the default), FormatBundle or
	// FormatLegacy. Verification accepts either.
	SignatureFormat SignatureFormat
	// Provenance attaches a signed SLSA provenance attestation to each signed digest, from the
	// facts each Sign call hands over (WithProvenance).
	Provenance bool
	// TLogUpload records each signature in Rekor. Flux verifies keyless signatures against the
	// log, so switching it off only makes sense for key mode.
	TLogUpload bool

	// TokenRequestURL and TokenRequestToken are ACTIONS_ID_TOKEN_REQUEST_URL and
	// ACTIONS_ID_TOKEN_REQUEST_TOKEN (ModeKeyless).
	TokenRequestURL, TokenRequestToken string

	// Expected is the identity a keyless signature must carry, see ExpectedIdentity.
	Expected Identity

	// RemoteOptions reach the registry (auth, transport).
	RemoteOptions []remote.Option
	// BlobWriter, when set, uploads the blobs of signatures and bundles (the registry client's
	// own uploads: fewer requests than go-containerregistry's). It must reach the registry the
	// way RemoteOptions do.
	BlobWriter registry.BlobWriter
	// MaxTagPages bounds the pages of a tag listing in the registry (the referrers tag schema's
	// records), as the run's registry client bounds its own; 0: registry.DefaultMaxTagPages.
	MaxTagPages int
	// Transport carries every request to the token service, Fulcio and Rekor (nil:
	// http.DefaultTransport, one try per request). Give it a retrying RoundTripper: it is the
	// only retry layer of these requests (the Rekor client's own retries are left out so the two
	// do not multiply), and it bounds their time. It must not log request headers or bodies:
	// they carry the OIDC token and the token-service credential.
	Transport http.RoundTripper
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// ErrNoIDToken means keyless signing was asked for but the job cannot request an OIDC token.
var ErrNoIDToken = errors.New("no OIDC token for keyless signing")

// ErrVerify marks a signature that is missing or does not verify.
var ErrVerify = errors.New("signature verification failed")

// New returns the Signer for o.Mode. Keyless credentials (the OIDC token and the Fulcio
// certificate) are requested lazily on the first Sign that needs them and shared by all later
// calls: signing 50 components costs one token and one certificate.
func New(_ context.Context, o Options) (Signer, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	switch o.Mode {
	case ModeNone, "":
		return noneSigner{}, nil
	case ModeKeyless, ModeKey:
		return newCosignSigner(o)
	default:
		return nil, fmt.Errorf("sign mode %q: want %s, %s or %s", o.Mode, ModeKeyless, ModeKey, ModeNone)
	}
}

type noneSigner struct{}

func (noneSigner) Sign(context.Context, name.Digest, ...SignOption) (Result, error) {
	return Result{Status: StatusUnsigned, RekorLogIndex: -1}, nil
}

func (noneSigner) Verify(_ context.Context, ref name.Digest) error {
	return fmt.Errorf("verifying %q: %w: signing is off (sign: none); set sign to keyless or key", ref, ErrVerify)
}

func (n noneSigner) Verification(ctx context.Context, ref name.Digest) (Verification, error) {
	return Verification{}, n.Verify(ctx, ref)
}

func (noneSigner) Snippet() string { return "" }
