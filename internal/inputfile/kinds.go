package inputfile

// Kind is one sort of file an input names: which input, what it holds, and the most it may
// weigh.
type Kind struct {
	// Input is the input or environment variable that names the file, as users write it.
	Input string
	// Holds says what the file should hold, for errors: "a cosign key (PEM)".
	Holds string
	// Max is the largest file read, in bytes.
	Max int64
	// Or names what the input takes besides a path, if anything: "or the PEM text itself".
	Or string
}

// The files a run reads because an input or the environment names them. Each cap is far above
// the largest real file of its kind and far below what would strain a runner.
var (
	// CosignKey: a cosign key pair's private key (encrypted PEM, under 1 KiB for ECDSA P-256,
	// about 3.5 KiB for RSA 4096) or its public key.
	CosignKey = Kind{Input: "cosign-key", Holds: "a cosign key (PEM)", Max: 64 << 10, Or: "or the PEM text itself"}
	// FulcioRoot: the PEM certificates of a private Fulcio's chain, a few KiB each.
	FulcioRoot = Kind{Input: "fulcio-root", Holds: "the Fulcio CA certificates (PEM)", Max: 1 << 20, Or: "or the PEM text itself"}
	// RekorPublicKey: one PEM public key.
	RekorPublicKey = Kind{Input: "rekor-public-key", Holds: "the Rekor public key (PEM)", Max: 64 << 10, Or: "or the PEM text itself"}
	// CTLogPublicKey: one PEM public key.
	CTLogPublicKey = Kind{Input: "ct-log-public-key", Holds: "the CT log public key (PEM)", Max: 64 << 10, Or: "or the PEM text itself"}
	// TrustedRoot: a Sigstore trusted_root.json; the public-good instance's is about 7 KiB, and
	// one with years of rotated keys stays far below the cap.
	TrustedRoot = Kind{Input: "trusted-root", Holds: "a Sigstore trusted_root.json", Max: 4 << 20, Or: "or the JSON itself"}
	// Event: GitHub caps webhook payloads at 25 MB; a larger file is not an event the runner
	// wrote.
	Event = Kind{Input: "GITHUB_EVENT_PATH", Holds: "the GitHub event payload (JSON)", Max: 25 << 20}
	// DockerConfig: a docker config.json lists credentials per registry, a few hundred bytes
	// each.
	DockerConfig = Kind{Input: "DOCKER_CONFIG", Holds: "a docker config.json", Max: 4 << 20}
	// LayoutIndex: the index.json of the OCI layout folder a `repository: oci-layout:DIR`
	// names, one descriptor (about 300 bytes) per tag: 16 MiB is some fifty thousand tags. The
	// folder may sit in the checkout, where a pull request can put anything at that name.
	LayoutIndex = Kind{Input: "repository", Holds: "an OCI layout's index.json", Max: 16 << 20}
)

// Kinds lists every Kind above, for the README's Limits table and its test.
func Kinds() []Kind {
	return []Kind{CosignKey, FulcioRoot, RekorPublicKey, CTLogPublicKey, TrustedRoot, Event, DockerConfig, LayoutIndex}
}
