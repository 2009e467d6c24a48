package config

import (
	"fmt"
	"strings"
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
)

// Commands lists the modes in the order the help text shows them.
var Commands = []Command{Publish, Detect, Validate, Promote, Verify}

// Sign modes.
const (
	SignKeyless = "keyless"
	SignKey     = "key"
	SignNone    = "none"
)

// LayoutScheme prefixes a repository that is an OCI image layout folder on disk rather than a
// registry: the embedded default target, which needs no server.
const LayoutScheme = "oci-layout:"

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

	All             bool
	ValidateOn      bool // run validation inside publish
	SchemaLocations []string

	Sign           string
	CosignKey      string
	CosignPassword string // from COSIGN_PASSWORD
	FulcioURL      string
	RekorURL       string
	FulcioRoot     string
	RekorPublicKey string
	TLogUpload     bool
	CTLogPublicKey string
	CertIssuer     string // exact OIDC issuer URL override
	CertIdentity   string // subject regexp override

	DryRun     string // auto, true, false as given
	DryRunOn   bool   // resolved
	Insecure   bool
	Username   string
	Password   string
	Output     string // text, json
	Base, Head string // detect/publish: explicit range for change detection
	Ref        string // refs/heads/x or refs/tags/y; from GITHUB_REF or the local checkout
	SHA        string // the commit being published
	Jobs       int    // components processed at once

	MaxFiles int
	MaxBytes int64

	GitHub GitHub
}

// GitHub is the part of the Actions environment a run uses.
type GitHub struct {
	Actions       bool   // GITHUB_ACTIONS=true
	Act           bool   // ACT=true (nektos/act)
	CI            bool   // CI=true
	Repository    string // owner/repo
	ServerURL     string
	EventName     string
	EventPath     string
	WorkflowRef   string // owner/repo/.github/workflows/x.yaml@refs/heads/main
	Actor         string
	Token         string // GITHUB_TOKEN, for ghcr.io when no explicit credentials are given
	DefaultBranch string // from the event payload, when it says
	Workspace     string
	OutputFile    string // GITHUB_OUTPUT
	SummaryFile   string // GITHUB_STEP_SUMMARY

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

// Secrets lists the secret values this config holds, for masking and for leak tests.
func (c *Config) Secrets() []string {
	var out []string
	for _, s := range []string{c.Password, c.CosignPassword, c.GitHub.Token, c.GitHub.TokenRequestToken} {
		if s != "" {
			out = append(out, s)
		}
	}
	// An inline key is a secret; a file name or KMS URI is not, and masking it would blank
	// harmless words like "cosign.key" all over the log.
	if strings.Contains(c.CosignKey, "PRIVATE KEY") {
		out = append(out, c.CosignKey)
	}
	return out
}

// String describes the config without any secret, for debug logs.
func (c *Config) String() string {
	return fmt.Sprintf("command=%s source=%s repository=%s components=%v path=%q sign=%s dry-run=%v",
		c.Command, c.Source, c.Repository, c.Components, c.Path, c.Sign, c.DryRunOn)
}
