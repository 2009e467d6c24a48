package sign

import "fmt"

// SignatureFormat is how Sign stores signatures.
type SignatureFormat string

const (
	// FormatBoth writes both formats: every Flux version verifies what it signs (Flux 2.8 and
	// later read the bundle, older ones the legacy signature).
	FormatBoth SignatureFormat = "both"
	// FormatBundle writes a Sigstore bundle (v0.3) as an OCI 1.1 referrer of the artifact, as
	// cosign v3's `cosign sign` does by default. Flux reads it from 2.8 on.
	FormatBundle SignatureFormat = "bundle"
	// FormatLegacy writes cosign's legacy `sha256-<hex>.sig` signature, which every Flux
	// version reads and cosign v4 will no longer write.
	FormatLegacy SignatureFormat = "legacy"
)

// DefaultSignatureFormat is the format of an empty Options.SignatureFormat: both, so that
// clusters on any Flux version accept what fleetpush signs.
const DefaultSignatureFormat = FormatBoth

// ParseSignatureFormat reads the signature-format input; empty is the default.
func ParseSignatureFormat(s string) (SignatureFormat, error) {
	switch f := SignatureFormat(s); f {
	case "":
		return DefaultSignatureFormat, nil
	case FormatBoth, FormatBundle, FormatLegacy:
		return f, nil
	default:
		return "", fmt.Errorf("signature-format %q: want %s, %s or %s", s, FormatBoth, FormatBundle, FormatLegacy)
	}
}

func (f SignatureFormat) legacy() bool { return f == FormatBoth || f == FormatLegacy }
func (f SignatureFormat) bundle() bool { return f == FormatBoth || f == FormatBundle }
