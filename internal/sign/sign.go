package sign

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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

// Result is the outcome of Sign for one digest.
type Result struct {
	Status Status
	// Identity is the signer: the certificate's subject for keyless signatures, "key" for a
	// cosign key, empty when unsigned.
	Identity string
	// RekorLogIndex is the transparency log index of the signature, -1 when there is none.
	RekorLogIndex int64
}

// Signer signs and verifies artifacts by digest. Implementations are safe for concurrent use.
type Signer interface {
	// Sign makes sure ref carries a valid signature from the expected identity. It is
	// idempotent: when such a signature exists, nothing is added (StatusExisting).
	Sign(ctx context.Context, ref name.Digest, opts ...SignOption) (Result, error)
	// Verify checks ref the way Flux's source-controller does for `verify.provider: cosign`
	// with `matchOIDCIdentity` (keyless) or a public key (key mode).
	Verify(ctx context.Context, ref name.Digest) error
	// Snippet is the `verify:` block of a Flux OCIRepository that accepts what this Signer
	// signs, to print once per run.
	Snippet() string
}

// SignOption tunes one Sign call.
type SignOption func(*signOptions)

type signOptions struct {
	reused bool
}

// Reused tells Sign that the digest was already in the registry before this run (the compare
// step reused it), so that a missing signature is reported as StatusHealed.
func Reused(reused bool) SignOption {
	return func(o *signOptions) { o.reused = reused }
}

// Options configures New. The zero value of each field is the public-Sigstore default.
type Options struct {
	// Mode is ModeKeyless, ModeKey or ModeNone.
	Mode string
	// Key is a cosign private key, PEM or a file path (ModeKey). KeyPassword decrypts it.
	Key, KeyPassword string

	// FulcioURL and RekorURL default to the public Sigstore instance.
	FulcioURL, RekorURL string
	// FulcioRoot (CA certificates) and RekorPublicKey are PEM or file paths. When set, they are
	// the whole trust root: nothing is fetched from the public Sigstore TUF repository, and
	// certificates are not required to carry an SCT (a Fulcio without a CT log issues none).
	FulcioRoot, RekorPublicKey string
	// CTLogPublicKey (PEM or file path) makes a private trust root require SCTs again.
	CTLogPublicKey string
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

func (noneSigner) Snippet() string { return "" }
