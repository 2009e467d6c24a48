package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/kustomize"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// DefaultConcurrency is how many components a run works on at once: GitHub's standard runners
// have 4 cores, and a component's time is mostly spent waiting on the registry and Sigstore, so
// twice the cores keeps them busy without holding many artifacts in memory.
const DefaultConcurrency = 8

// DiffNone is the diff-against value that turns the pull-request preview off.
const DiffNone = "none"

// MaxConcurrency bounds concurrency: every worker holds one artifact (up to max-size) in memory,
// and registries answer a flood from one client with 429s that slow everyone.
const MaxConcurrency = 64

// Option is one entry of the public interface: a CLI flag and an action input of the same name.
// The table below is the one source of the flags, the action inputs (action.yml and the README's
// table are generated from it: go generate ./internal/packaging), the help text and the defaults.
type Option struct {
	Name string
	// Description says what the option does, in one paragraph of markdown: action.yml, the README
	// and --help show it. It does not repeat the default, which the generated files add.
	Description string
	// Default is the value when the option is not given, as text (the value action.yml hands
	// the binary). It is "" when there is none or when it depends on the run.
	Default string
	// DefaultDoc describes, in markdown, a default that depends on the run (Default is then "").
	DefaultDoc string
	Secret     bool // masked in the log; pass it from a secret
	CLIOnly    bool // not an action input (e.g. source: the workspace in Actions)

	field field
	// compute fills the field when the option is not given and has no Default. Computations
	// run in table order, after every option is parsed, so one may read another's value.
	compute func(c *Config, getenv func(string) string)
	// subcommand: on the CLI, the first argument rather than a flag.
	subcommand bool
}

// Flag reports whether the option is a CLI flag (the command is the sub-command instead).
func (o Option) Flag() bool { return !o.subcommand }

// Options is the interface table (DESIGN "The interface"). Its order is the order of the help
// text, of action.yml and of the README's tables.
var Options = []Option{
	{
		Name: "command", Default: string(Publish), subcommand: true,
		Description: "What to do: `publish` (detect, build, validate, push, sign, tag), `detect` (only list the changed components as a matrix), `validate` (build and check, push nothing: for pull requests), `promote` (point `channel` at an existing signed `version`, backwards too: a rollback) or `verify` (check the signatures and tags of what is published). On the CLI, the sub-command.",
		field:       choice(func(c *Config) *Command { return &c.Command }, "a command", Commands...),
	},
	{
		Name: "source", CLIOnly: true,
		DefaultDoc:  "`.`; in GitHub Actions `GITHUB_WORKSPACE`",
		Description: "The checkout to publish from.",
		field: textField[string]{ptr: func(c *Config) *string { return &c.Source }, valid: func(s string) error {
			if strings.TrimSpace(s) == "" {
				return errors.New("empty: give the checkout folder")
			}
			return nil
		}},
		compute: func(c *Config, _ func(string) string) {
			c.Source = "."
			if c.GitHub.Actions && c.GitHub.Workspace != "" {
				c.Source = c.GitHub.Workspace
			}
		},
	},
	{
		Name:        "repository",
		DefaultDoc:  "`ghcr.io/<owner>/<repo>` lower-cased in GitHub Actions, `" + DefaultLayout + "` (a local OCI layout folder) elsewhere",
		Description: "OCI repository prefix; a component is pushed to `<repository>/<component>`, a single artifact (`path`) to `<repository>` itself. `" + LayoutScheme + "DIR` writes an OCI image layout folder instead of pushing.",
		field:       textField[string]{ptr: func(c *Config) *string { return &c.Repository }, valid: validRepository},
		compute: func(c *Config, _ func(string) string) {
			c.Repository = DefaultLayout
			if c.GitHub.Actions && c.GitHub.Repository != "" {
				c.Repository = "ghcr.io/" + strings.ToLower(c.GitHub.Repository)
			}
		},
	},
	{
		Name:        "components",
		DefaultDoc:  "every sub-folder of `components-dir` holding a kustomization (on a `<component>/vX.Y.Z` tag: that component)",
		Description: "Components to consider, separated by commas or newlines (in a matrix job: the `matrix.component` expression).",
		field:       list(func(c *Config) *[]string { return &c.Components }, component.ValidName),
	},
	{
		Name: "components-dir", Default: "components",
		Description: "Folder, relative to the checkout, whose sub-folders are the components.",
		field:       text(func(c *Config) *string { return &c.ComponentsDir }), // checked with path: see Validate
	},
	{
		Name:        "path",
		Description: "Single-artifact mode (a fleet repository): this folder, for example `./`, is pushed as one artifact to `repository`, and `components` is not used.",
		field:       text(func(c *Config) *string { return &c.Path }, component.ValidDir),
	},
	{
		Name:        "ignore-paths",
		Description: "Extra ignore patterns (.gitignore syntax, commas or newlines), on top of Flux's defaults (`.git/`, images, archives).",
		field:       list(func(c *Config) *[]string { return &c.IgnorePaths }, nil),
	},
	{
		Name:        "annotations",
		Description: "Extra manifest annotations as `key=value`, separated by commas or newlines. The source, revision and created annotations are set by fleetpush and cannot be given.",
		field:       keyValues(func(c *Config) *map[string]string { return &c.Annotations }, reservedAnnotations),
	},
	{
		Name:        "main-branch",
		DefaultDoc:  "the repository's default branch from the event, else `" + tags.DefaultMainBranch + "`",
		Description: "The branch whose pushes move `latest-tag` (every branch push gets a `<branch>-<sha>` tag).",
		field:       text(func(c *Config) *string { return &c.MainBranch }), // the tag policy checks it
	},
	{
		Name: "latest-tag", Default: tags.DefaultLatestTag,
		Description: "Tag that follows the main branch (staging clusters pull it). Never moves backwards.",
		field:       text(func(c *Config) *string { return &c.LatestTag }), // the tag policy checks it
	},
	{
		Name: "stable-tag", Default: tags.DefaultStableTag,
		Description: "Tag that follows the highest `vX.Y.Z` release (production clusters pull it). Moves only forward on release; `promote` moves it on purpose.",
		field:       text(func(c *Config) *string { return &c.StableTag }), // the tag policy checks it
	},
	{
		Name: "sha-length", Default: strconv.Itoa(tags.DefaultSHALength),
		Description: "Number of hex digits of the commit in `<branch>-<sha>` tags (`main-1a2b3c4d`).",
		field:       integer(func(c *Config) *int { return &c.SHALength }, math.MinInt, math.MaxInt), // the tag policy checks the range
	},
	{
		Name:        "version",
		Description: "For `promote`, the existing, signed `vX.Y.Z` to point `channel` at.",
		field:       text(func(c *Config) *string { return &c.Version }), // checked for promote: see Validate
	},
	{
		Name: "channel", Default: tags.DefaultStableTag,
		Description: "For `promote`, the tag to move to `version`.",
		field:       textField[string]{ptr: func(c *Config) *string { return &c.Channel }, valid: tags.ValidateChannel},
	},
	{
		Name: "all", Default: "false",
		Description: "`true` ignores git change detection: every component is a candidate (an unchanged one is still not pushed again, because the registry content is compared first).",
		field:       boolean(func(c *Config) *bool { return &c.All }),
	},
	{
		Name: "validate", Default: "true",
		Description: "Run the offline kustomize and schema validation inside `publish` (`true` or `false`).",
		field:       boolean(func(c *Config) *bool { return &c.ValidateOn }),
	},
	{
		Name:        "schema-locations",
		Description: "Local JSON schema locations for custom resources, in kubeconform's layout (for example `schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json`), separated by commas or newlines, relative to the checkout. Kubernetes and Flux kinds are always checked; a custom kind these do not cover passes with a notice.",
		field:       list(func(c *Config) *[]string { return &c.SchemaLocations }, nil), // checked against the checkout: see Validate
	},
	{
		Name: "allow-empty", Default: "false",
		Description: "`true` publishes an artifact that holds no Kubernetes object. Without it such an artifact fails: with Flux pruning, an empty artifact deletes what the component had deployed.",
		field:       boolean(func(c *Config) *bool { return &c.AllowEmpty }),
	},
	{
		Name:        "sign",
		DefaultDoc:  "`keyless` in GitHub Actions, `none` elsewhere; `keyless` everywhere for `promote` and `verify`",
		Description: "How to sign: `keyless` (GitHub OIDC, Fulcio and Rekor; needs `permissions: id-token: write`), `key` (with `cosign-key`) or `none`. `promote` and `verify` check signatures with it (`none` skips the check, with a warning).",
		field:       choice(func(c *Config) *string { return &c.Sign }, "a signing mode", SignKeyless, SignKey, SignNone),
		compute: func(c *Config, _ func(string) string) {
			switch {
			case c.Command == Promote || c.Command == Verify:
				// Both exist to check signatures: a rollback must never put an unsigned artifact
				// in production because a flag was forgotten. sign: none skips the check, said.
				c.Sign = SignKeyless
			case c.GitHub.Actions && !c.GitHub.Act:
				c.Sign = SignKeyless
			default:
				c.Sign = SignNone
			}
		},
	},
	{
		Name: "signature-format", Default: FormatBoth,
		Description: "Which signatures to write and accept: `both` (what every Flux version verifies), `bundle` (a Sigstore bundle stored as an OCI referrer, as cosign v3 signs; Flux 2.8 and later) or `legacy` (the `sha256-<digest>.sig` tag; Flux 2.7 and older).",
		field:       choice(func(c *Config) *string { return &c.SignatureFormat }, "a signature format", FormatBoth, FormatBundle, FormatLegacy),
	},
	{
		Name:        "provenance",
		DefaultDoc:  "`true` when signing in GitHub Actions",
		Description: "Attach a signed SLSA v1 provenance statement (a bundle referrer, as `cosign attest` stores it) to each pushed artifact (`true` or `false`).",
		field:       boolean(func(c *Config) *bool { return &c.Provenance }),
		// Provenance states which workflow run built the artifact: outside Actions there is no
		// run to name, so the CLI signs without it unless asked (and then Validate says what
		// is missing).
		compute: func(c *Config, getenv func(string) string) {
			c.Provenance = c.Sign != SignNone && getenv("GITHUB_ACTIONS") == "true"
		},
	},
	{
		Name: "cosign-key", Secret: true,
		Description: "Key for `sign: key`: for signing a private key, for `verify` and `promote` a private or public key, as PEM text or a file path; a private key's password is read from the `COSIGN_PASSWORD` environment variable. An ECDSA P-256 key (what `cosign generate-key-pair` makes) or an RSA key of 2048, 3072 or 4096 bits: Flux cannot verify signatures of other key types. Pass it from a secret.",
		field:       text(func(c *Config) *string { return &c.CosignKey }),
	},
	{
		Name:        "fulcio-url",
		DefaultDoc:  "the public Sigstore instance",
		Description: "Fulcio URL of a private Sigstore.",
		field:       text(func(c *Config) *string { return &c.FulcioURL }, httpURL),
	},
	{
		Name:        "rekor-url",
		DefaultDoc:  "the public Sigstore instance",
		Description: "Rekor URL of a private Sigstore.",
		field:       text(func(c *Config) *string { return &c.RekorURL }, httpURL),
	},
	{
		Name:        "fulcio-root",
		DefaultDoc:  "the public Sigstore trust root",
		Description: "Fulcio root certificate(s) of a private Sigstore (PEM text or file path).",
		field:       text(func(c *Config) *string { return &c.FulcioRoot }),
	},
	{
		Name:        "rekor-public-key",
		DefaultDoc:  "the public Sigstore trust root",
		Description: "Rekor public key of a private Sigstore (PEM text or file path).",
		field:       text(func(c *Config) *string { return &c.RekorPublicKey }),
	},
	{
		Name:        "ct-log-public-key",
		Description: "Certificate Transparency log public key of a private Sigstore (PEM text or file path). When set, signing certificates must carry an SCT from that log; without it a private Sigstore's certificates are not required to.",
		field:       text(func(c *Config) *string { return &c.CTLogPublicKey }),
	},
	{
		Name:        "trusted-root",
		DefaultDoc:  "the public Sigstore trust root",
		Description: "A Sigstore `trusted_root.json` (JSON text or file path) of a private Sigstore, holding its Fulcio roots and Rekor and CT log keys, for verification (Flux 2.9 reads the same file through `trustedRootSecretRef`).",
		field:       text(func(c *Config) *string { return &c.TrustedRoot }, validTrustedRoot),
	},
	{
		Name:        "certificate-oidc-issuer",
		DefaultDoc:  "GitHub Actions' token issuer (`https://token.actions.githubusercontent.com`, or the GitHub Enterprise Server's own)",
		Description: "OIDC issuer a keyless signature must come from, as an exact URL.",
		field:       text(func(c *Config) *string { return &c.CertIssuer }, issuerURL),
	},
	{
		Name:        "certificate-identity-regexp",
		DefaultDoc:  "this repository's workflow on this ref when publishing; for `verify` and `promote`, any workflow of this repository on the release ref (`refs/tags/<component>/v.*`)",
		Description: "Regular expression the signing certificate's subject must match.",
		field:       text(func(c *Config) *string { return &c.CertIdentity }, validRegexp),
	},
	{
		Name: "tlog-upload", Default: "true",
		Description: "Upload signatures to the transparency log (`true` or `false`).",
		field:       boolean(func(c *Config) *bool { return &c.TLogUpload }),
	},
	{
		Name: "dry-run", Default: "auto",
		Description: "`auto`, `true` or `false`. A dry run detects, builds, validates and reads the registry, then prints what would be pushed, signed and tagged, writing nothing. `auto` is a dry run under `act`.",
		field:       choice(func(c *Config) *string { return &c.DryRun }, "a dry-run mode", "auto", "true", "false"),
	},
	{
		Name:        "registry-username",
		DefaultDoc:  "the docker config if present, else `GITHUB_ACTOR` for ghcr.io",
		Description: "Registry user name.",
		field:       text(func(c *Config) *string { return &c.Username }),
	},
	{
		Name: "registry-password", Secret: true,
		DefaultDoc:  "the docker config if present, else the workflow's `GITHUB_TOKEN` for ghcr.io (needs `permissions: packages: write`)",
		Description: "Registry password or token; pass it from a secret.",
		field:       text(func(c *Config) *string { return &c.Password }),
	},
	{
		Name: "insecure", Default: "false",
		Description: "`true` allows plain HTTP and unverified TLS to the registry (loopback registries always allow plain HTTP).",
		field:       boolean(func(c *Config) *bool { return &c.Insecure }),
	},
	{
		Name: "concurrency", Default: strconv.Itoa(DefaultConcurrency),
		Description: "How many components are worked on at once (1 to " + strconv.Itoa(MaxConcurrency) + "); a registry's 429 Too Many Requests slows every worker. When signing waits on a transparency log, three times as many are in flight, this many at a time at the registry.",
		field:       integer(func(c *Config) *int { return &c.Concurrency }, 1, MaxConcurrency),
	},
	{
		Name: "diff-against", Default: tags.DefaultLatestTag,
		Description: "For `validate` on `pull_request` events (on the CLI: when given): the tag whose content each component is compared with (`<repository>/<component>:<tag>`), to preview object by object what the pull request changes in each overlay (step summary, the `preview` output and the `result` JSON). `none` turns the preview off. Differences never fail the run.",
		field: textField[string]{ptr: func(c *Config) *string { return &c.DiffAgainst }, valid: func(s string) error {
			if s == DiffNone || tags.ValidTag(s) {
				return nil
			}
			return fmt.Errorf("%q is not a tag: give a tag such as latest or latest-stable, or none", s)
		}},
	},
	{
		Name: "max-files", Default: strconv.Itoa(artifact.DefaultMaxFiles),
		Description: "Largest number of files in one artifact: a guard against publishing a wrong folder (for example `path: ./` with a vendored tree).",
		field:       integer(func(c *Config) *int { return &c.MaxFiles }, 1, math.MaxInt),
	},
	{
		Name: "max-size", Default: formatSize(artifact.DefaultMaxBytes),
		Description: "Largest uncompressed artifact, in bytes or with a `Ki`, `Mi` or `Gi` suffix.",
		field:       size(func(c *Config) *int64 { return &c.MaxBytes }),
	},
	{
		Name: "max-file-size", Default: formatSize(kustomize.DefaultMaxFileSize),
		Description: "Largest single file that validation reads (a larger one fails validation), in bytes or with a `Ki`, `Mi` or `Gi` suffix.",
		field:       size(func(c *Config) *int64 { return &c.MaxFileSize }),
	},
	{
		Name: "max-yaml-nodes", Default: strconv.FormatInt(kustomize.DefaultMaxYAMLNodes, 10),
		Description: "Largest number of YAML nodes validation decodes over the whole run, all files of all components together, counting the copies that YAML aliases make.",
		field:       integer(func(c *Config) *int { return &c.MaxYAMLNodes }, 1, math.MaxInt),
	},
	{
		Name: "max-yaml-size", Default: formatSize(kustomize.DefaultMaxYAMLBytes),
		Description: "Largest amount of YAML validation decodes over the whole run, all files of all components together with what YAML aliases copy, in bytes or with a `Ki`, `Mi` or `Gi` suffix.",
		field:       size(func(c *Config) *int64 { return &c.MaxYAMLBytes }),
	},
	{
		Name: "max-objects", Default: strconv.FormatInt(kustomize.DefaultMaxObjects, 10),
		Description: "Largest number of objects one kustomize build may render; checked before the build, from the folders each kustomization includes (an overlay that includes a folder N times renders it N times).",
		field:       integer(func(c *Config) *int { return &c.MaxObjects }, 1, math.MaxInt),
	},
	{
		Name: "max-rendered-size", Default: formatSize(kustomize.DefaultMaxRenderedBytes),
		Description: "Largest output of one kustomize build, as JSON, in bytes or with a `Ki`, `Mi` or `Gi` suffix; checked before the build from an estimate, and on what it renders.",
		field:       size(func(c *Config) *int64 { return &c.MaxRenderedBytes }),
	},
	{
		Name: "max-tag-pages", Default: strconv.Itoa(registry.DefaultMaxTagPages),
		Description: "Most pages of one tag listing that are followed (a registry answers up to 1000 tags a page, some only 100): a registry whose list never ends stops here with an error. Raise it for a repository with more tags than that.",
		field:       integer(func(c *Config) *int { return &c.MaxTagPages }, 1, math.MaxInt32),
	},
	{
		Name: "output", Default: "text", CLIOnly: true,
		Description: "Result format on stdout: `text` or `json`.",
		field:       choice(func(c *Config) *string { return &c.Output }, "a format", "text", "json"),
	},
	{
		Name: "base", CLIOnly: true,
		DefaultDoc:  "from the event",
		Description: "Change detection: the commit to diff from.",
		field:       text(func(c *Config) *string { return &c.Base }),
	},
	{
		Name: "head", CLIOnly: true,
		DefaultDoc:  "`HEAD`",
		Description: "Change detection: the commit to diff to.",
		field:       text(func(c *Config) *string { return &c.Head }),
	},
	{
		Name: "ref", CLIOnly: true,
		DefaultDoc:  "`GITHUB_REF`, else the checkout's",
		Description: "The git ref being published, `refs/heads/B` or `refs/tags/T`.",
		field:       text(func(c *Config) *string { return &c.Ref }),
		compute:     func(c *Config, getenv func(string) string) { c.Ref = getenv("GITHUB_REF") },
	},
}

// reservedAnnotations are the manifest annotations fleetpush writes itself, and why a user's
// value may not replace them.
var reservedAnnotations = map[string]string{
	artifact.SourceAnnotation:   "the repository URL, which Flux shows as the artifact's origin",
	artifact.RevisionAnnotation: "the branch or tag and commit, which decide whether latest may move",
	artifact.CreatedAnnotation:  "the commit time, which keeps a re-run's digest identical",
}

// ActionInputs returns the options that are action inputs, in table order.
func ActionInputs() []Option {
	var out []Option
	for _, o := range Options {
		if !o.CLIOnly {
			out = append(out, o)
		}
	}
	return out
}
