package config

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/fleetpush/fleetpush/internal/registry"
)

// Command is one of fleetpush's modes.
type Command string

// The modes (DESIGN "Modes").
const (
	Publish  Command = "publish"
	Detect   Command = "detect"
	Validate Command = "validate"
	Promote  Command = "promote"
	Verify   Command = "verify"
	Prune    Command = "prune"
)

// Commands lists the modes in the order the help text shows them.
var Commands = []Command{Publish, Detect, Validate, Promote, Verify, Prune}

// Sign modes: the values of the sign input.
const (
	SignKeyless = "keyless"
	SignKey     = "key"
	SignNone    = "none"
)

// Signature formats: the values of the signature-format input. Both is the default because it is
// what every Flux version verifies: 2.8 and later read the bundle, 2.7 and older the legacy .sig.
const (
	FormatBoth   = "both"
	FormatBundle = "bundle"
	FormatLegacy = "legacy"
)

// LayoutScheme prefixes a repository that is an OCI image layout folder on disk rather than a
// registry: the embedded default target, which needs no server. The registry package owns it.
const LayoutScheme = registry.LayoutScheme

// DefaultLayout is the repository outside Actions: a folder in the checkout, so a first run needs
// no server.
const DefaultLayout = LayoutScheme + "dist"

// Config is everything one run needs, whichever front end filled it.
type Config struct {
	Command Command

	Source        string   // the checkout (CLI --source; GITHUB_WORKSPACE in Actions)
	Repository    string   // OCI prefix, or oci-layout:DIR
	Components    []string // explicit list; empty = discover
	ComponentsDir string
	Path          string // single-artifact mode when set
	IgnorePaths   []string
	Annotations   map[string]string

	MainBranch string
	LatestTag  string
	StableTag  string
	SHALength  int

	Version string // promote
	Channel string // promote

	Keep     int           // prune: newest builds kept per branch
	KeepDays int           // prune: builds younger than this many days are kept
	Grace    time.Duration // prune: nothing younger is deleted

	All             bool
	ValidateOn      bool // run validation inside publish
	SchemaLocations []string
	AllowEmpty      bool   // an artifact with no Kubernetes object is intended
	DiffAgainst     string // validate: the tag the preview compares with; DiffNone turns it off
	// DiffAgainstGiven says diff-against was set: outside a pull-request event, only then does
	// validate preview (a laptop's validate has no channel to compare with unless asked).
	DiffAgainstGiven bool

	Sign            string
	SignatureFormat string // both, bundle or legacy
	Provenance      bool   // attach a signed SLSA provenance statement
	TrustedRoot     string // a Sigstore trusted_root.json, as a file path or JSON
	CosignKey       string
	CosignPassword  string // from COSIGN_PASSWORD
	FulcioURL       string
	RekorURL        string
	FulcioRoot      string
	RekorPublicKey  string
	TLogUpload      bool
	CTLogPublicKey  string
	CertIssuer      string // exact OIDC issuer URL override
	CertIdentity    string // subject regexp override

	DryRun     string // auto, true, false as given
	DryRunOn   bool   // resolved
	Insecure   bool
	Username   string
	Password   string
	Output     string // text, json
	Base, Head string // detect/publish: explicit range for change detection
	Ref        string // refs/heads/x or refs/tags/y; from GITHUB_REF or the local checkout
	SHA        string // the commit being published

	Concurrency int // components worked on at once

	MaxFiles    int   // entries in one artifact
	MaxBytes    int64 // uncompressed bytes of one artifact
	MaxFileSize int64 // bytes of one file that validation reads
	MaxTagPages int   // pages of one tag listing

	// Validation budgets (kustomize.Limits): of the whole run, then of one build.
	MaxYAMLNodes     int   // YAML nodes decoded over the run, aliases copied
	MaxYAMLBytes     int64 // YAML bytes decoded over the run, aliases copied
	MaxObjects       int   // objects one kustomize build renders
	MaxRenderedBytes int64 // bytes (JSON) one kustomize build renders

	GitHub GitHub
}

// GitHub is the part of the Actions environment a run uses. Config does not read the event
// payload: the app parses it once (change detection and the repository's default branch).
type GitHub struct {
	Actions     bool   // GITHUB_ACTIONS=true
	Act         bool   // ACT=true (nektos/act)
	CI          bool   // CI=true
	Repository  string // owner/repo
	ServerURL   string
	APIURL      string // GITHUB_API_URL: the REST API (prune deletes ghcr.io versions through it)
	EventName   string
	EventPath   string
	WorkflowRef string // owner/repo/.github/workflows/x.yaml@refs/heads/main
	RunID       string // GITHUB_RUN_ID, for provenance
	RunAttempt  string // GITHUB_RUN_ATTEMPT, for provenance
	Actor       string
	Token       string // GITHUB_TOKEN, for ghcr.io when no explicit credentials are given
	Workspace   string
	OutputFile  string // GITHUB_OUTPUT
	SummaryFile string // GITHUB_STEP_SUMMARY

	TokenRequestURL   string // ACTIONS_ID_TOKEN_REQUEST_URL
	TokenRequestToken string // ACTIONS_ID_TOKEN_REQUEST_TOKEN
}

// Single reports whether the run publishes one artifact (path mode) rather than components.
func (c *Config) Single() bool { return c.Path != "" }

// Layout reports whether the target is an OCI layout folder, and which.
func (c *Config) Layout() (dir string, ok bool) {
	if strings.HasPrefix(c.Repository, LayoutScheme) {
		return strings.TrimPrefix(c.Repository, LayoutScheme), true
	}
	return "", false
}

// Secrets lists every secret value this config can see, in each form it may take on the wire,
// for masking and redaction: the registry password and GITHUB_TOKEN raw and as the base64 of an
// HTTP Basic header (a registry or proxy that echoes the request shows that form), the cosign
// key's password, an inline private key, and the OIDC request token. Secrets read later by other
// packages (a docker config's passwords, the OIDC token itself) are masked where they are read,
// through the log's Mask.
func (c *Config) Secrets() []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if strings.TrimSpace(s) != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(c.Password)
	add(c.CosignPassword)
	add(c.GitHub.Token)
	add(c.GitHub.TokenRequestToken)
	// An inline key is a secret; a file name or KMS URI is not, and masking it would blank
	// harmless words like "cosign.key" all over the log.
	if strings.Contains(c.CosignKey, "PRIVATE KEY") {
		add(c.CosignKey)
	}
	// The user names the registry client may pair each secret with in a Basic header: the
	// explicit one, the actor (ghcr.io's default), GitHub's token user, or none.
	users := []string{c.Username, c.GitHub.Actor, "x-access-token", ""}
	for _, secret := range []string{c.Password, c.GitHub.Token} {
		if secret == "" {
			continue
		}
		for _, u := range users {
			add(basicAuth(u, secret))
		}
	}
	return out
}

// basicAuth is the credential of an HTTP Basic Authorization header, base64("user:password"):
// the form a secret takes when a server echoes the request. Whoever reads a password (the
// registry client from a docker config) masks this form beside the password itself.
func basicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// String describes the config without any secret, for debug logs.
func (c *Config) String() string {
	return fmt.Sprintf("command=%s source=%s repository=%s components=%v path=%q sign=%s dry-run=%v",
		c.Command, c.Source, c.Repository, c.Components, c.Path, c.Sign, c.DryRunOn)
}
