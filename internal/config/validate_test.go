package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateDefaults(t *testing.T) {
	t.Parallel()
	// verify and promote check signatures, which needs a registry and an identity: no default
	// can guess those on a laptop (TestValidateRejects covers what they say instead).
	for _, args := range [][]string{{"publish"}, {"detect"}, {"validate"}, {"verify", "--repository", "ghcr.io/acme/apps", "--certificate-identity-regexp", "^x$"}} {
		c, err := Load(args, env(nil), nil)
		if err != nil {
			t.Fatalf("Load(%q) = %v", args, err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Load(%q).Validate() = %v, want nil: the defaults must be valid", args, err)
		}
	}
	actions := env(map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "Acme/Apps", "GITHUB_WORKSPACE": "/w",
		"GITHUB_WORKFLOW_REF": "Acme/Apps/.github/workflows/push.yaml@refs/heads/main", "GITHUB_RUN_ID": "1"})
	c, err := Load(nil, actions, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Actions defaults: Validate() = %v, want nil", err)
	}
}

func TestValidateAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(c *Config)
	}{
		{"components", func(c *Config) { c.Components = []string{"frontend", "backend-2"} }},
		{"single artifact at the root", func(c *Config) { c.Path = "." }},
		{"single artifact in a folder", func(c *Config) { c.Path = "clusters/staging" }},
		{"components-dir nested", func(c *Config) { c.ComponentsDir = "./deploy/components/" }},
		{"registry with a port", func(c *Config) { c.Repository = "127.0.0.1:5000/acme/apps" }},
		{"registry host only path", func(c *Config) { c.Repository = "registry.example.com/apps" }},
		{"layout in a nested folder", func(c *Config) { c.Repository = "oci-layout:out/oci" }},
		{"credentials", func(c *Config) { c.Username, c.Password = "bot", "pw" }},
		{"password alone (a token)", func(c *Config) { c.Password = "pw" }},
		{"sha-length bounds", func(c *Config) { c.SHALength = 7 }},
		{"sha-length full", func(c *Config) { c.SHALength = 40 }},
		{"annotations at their budget", func(c *Config) {
			c.Annotations = map[string]string{"a": strings.Repeat("x", 40<<10), "b": strings.Repeat("y", 24<<10-2)}
		}},
		{"custom tags", func(c *Config) { c.LatestTag, c.StableTag, c.Channel = "edge", "stable", "prod_1.x" }},
		{"promote", func(c *Config) {
			c.Command, c.Version, c.Components = Promote, "v1.2.3", []string{"frontend"}
		}},
		{"promote a pre-release in single mode", func(c *Config) {
			c.Command, c.Version, c.Path = Promote, "v1.2.3-rc.1", "."
		}},
		{"keyless to a registry", func(c *Config) { c.Sign, c.Repository = SignKeyless, "ghcr.io/acme/apps" }},
		{"key to a registry", func(c *Config) {
			c.Sign, c.CosignKey, c.Repository = SignKey, "cosign.key", "ghcr.io/acme/apps"
		}},
		{"private sigstore", func(c *Config) {
			c.Sign, c.Repository = SignKeyless, "ghcr.io/acme/apps"
			c.FulcioURL, c.RekorURL = "https://fulcio.example.com", "http://127.0.0.1:3000"
		}},
		{"dry-run values", func(c *Config) { c.DryRun = "false" }},
		{"signature format", func(c *Config) { c.SignatureFormat = FormatBundle }},
		{"provenance while signing", func(c *Config) {
			c.Sign, c.Repository, c.Provenance = SignKeyless, "ghcr.io/acme/apps", true
			c.GitHub.Repository, c.GitHub.WorkflowRef, c.GitHub.RunID = "acme/apps", "acme/apps/.github/workflows/push.yaml@refs/heads/main", "1"
		}},
		{"trusted root file", func(c *Config) {
			c.Sign, c.Repository, c.TrustedRoot = SignKeyless, "ghcr.io/acme/apps", "testdata/trusted_root.json"
		}},
		{"trusted root inline", func(c *Config) {
			c.Sign, c.Repository, c.TrustedRoot = SignKeyless, "ghcr.io/acme/apps", `{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`
		}},
		{"schema locations: folder, template, file URL", func(c *Config) {
			c.Source = "testdata"
			c.SchemaLocations = []string{"schemas", "schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json", "file://schemas/", "schemas/example.com/{{.ResourceKind}}"}
		}},
		{"other OpenContainers annotations", func(c *Config) {
			c.Annotations = map[string]string{"org.opencontainers.image.title": "frontend", "org.opencontainers.image.revisionx": "x"}
		}},
		{"concurrency bounds", func(c *Config) { c.Concurrency = 1 }},
		{"concurrency upper bound", func(c *Config) { c.Concurrency = 64 }},
		{"allow empty", func(c *Config) { c.AllowEmpty = true }},
		{"json output", func(c *Config) { c.Output = "json" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := defaults()
			tt.modify(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

// TestValidateRejects: every bad input gives exactly one error, and its text names the input.
func TestValidateRejects(t *testing.T) {
	t.Parallel()
	const badTag = `is not a valid OCI tag: use up to 128 letters, digits, '_', '.' or '-', starting with a letter, digit or '_'`
	const notDNS = `is not a DNS-1123 label: use lower-case letters, digits and '-', starting and ending with a letter or digit`
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string
	}{
		{
			name:   "unknown command",
			modify: func(c *Config) { c.Command = "pubish" },
			want:   `command: "pubish" is not a command: use publish, detect, validate, promote or verify`,
		},
		{
			name:   "unknown output",
			modify: func(c *Config) { c.Output = "yaml" },
			want:   `output: "yaml" is not a format: use text or json`,
		},
		{
			name:   "blank source",
			modify: func(c *Config) { c.Source = "  " },
			want:   `source: empty: give the checkout folder`,
		},
		{
			name:   "path leaving the checkout",
			modify: func(c *Config) { c.Path = "../fleet" },
			want:   `path: "../fleet" leaves the checkout: give a folder inside it`,
		},
		{
			name:   "path leaving the checkout after cleaning",
			modify: func(c *Config) { c.Path = "clusters/../../x" },
			want:   `path: "clusters/../../x" leaves the checkout: give a folder inside it`,
		},
		{
			name:   "path is the parent",
			modify: func(c *Config) { c.Path = ".." },
			want:   `path: ".." leaves the checkout: give a folder inside it`,
		},
		{
			name:   "absolute path",
			modify: func(c *Config) { c.Path = "/srv/fleet" },
			want:   `path: "/srv/fleet" is absolute: give a path relative to the checkout`,
		},
		{
			name:   "absolute path with backslashes",
			modify: func(c *Config) { c.Path = `\srv\fleet` },
			want:   `path: "\\srv\\fleet" is absolute: give a path relative to the checkout`,
		},
		{
			name:   "blank path",
			modify: func(c *Config) { c.Path = " " },
			want:   `path: empty path`,
		},
		{
			name:   "path and components together",
			modify: func(c *Config) { c.Path, c.Components = ".", []string{"frontend"} },
			want:   `path and components: choose one: path publishes one folder as a single artifact, components publishes named components`,
		},
		{
			name:   "components-dir leaving the checkout",
			modify: func(c *Config) { c.ComponentsDir = "../components" },
			want:   `components-dir: "../components" leaves the checkout: give a folder inside it`,
		},
		{
			name:   "components-dir absolute",
			modify: func(c *Config) { c.ComponentsDir = "/components" },
			want:   `components-dir: "/components" is absolute: give a path relative to the checkout`,
		},
		{
			name:   "components-dir empty",
			modify: func(c *Config) { c.ComponentsDir = "" },
			want:   `components-dir: empty path`,
		},
		{
			name:   "component upper case",
			modify: func(c *Config) { c.Components = []string{"frontend", "Backend"} },
			want:   `components: component name "Backend" ` + notDNS,
		},
		{
			name:   "component path-like",
			modify: func(c *Config) { c.Components = []string{"../x"} },
			want:   `components: component name "../x" is a path: give the folder name under the components folder only`,
		},
		{
			name:   "component nested path",
			modify: func(c *Config) { c.Components = []string{"apps/frontend"} },
			want:   `components: component name "apps/frontend" is a path: give the folder name under the components folder only`,
		},
		{
			name:   "component dot-dot",
			modify: func(c *Config) { c.Components = []string{".."} },
			want:   `components: component name ".." is a path: give the folder name under the components folder only`,
		},
		{
			name:   "component underscore",
			modify: func(c *Config) { c.Components = []string{"my_app"} },
			want:   `components: component name "my_app" ` + notDNS,
		},
		{
			name:   "component ending in a dash",
			modify: func(c *Config) { c.Components = []string{"app-"} },
			want:   `components: component name "app-" ` + notDNS,
		},
		{
			name:   "component too long",
			modify: func(c *Config) { c.Components = []string{strings.Repeat("a", 64)} },
			want:   `components: component name "` + strings.Repeat("a", 64) + `" is longer than 63 characters`,
		},
		{
			name:   "repository empty",
			modify: func(c *Config) { c.Repository = "" },
			want:   `repository: empty: give the OCI prefix, e.g. ghcr.io/acme/apps`,
		},
		{
			name:   "repository with a scheme",
			modify: func(c *Config) { c.Repository = "https://ghcr.io/acme/apps" },
			want:   `repository: "https://ghcr.io/acme/apps" has a scheme: give it without, e.g. ghcr.io/acme/apps`,
		},
		{
			name:   "repository with oci:// (the Flux URL)",
			modify: func(c *Config) { c.Repository = "oci://ghcr.io/acme/apps" },
			want:   `repository: "oci://ghcr.io/acme/apps" has a scheme: give it without, e.g. ghcr.io/acme/apps`,
		},
		{
			name:   "repository with a tag",
			modify: func(c *Config) { c.Repository = "ghcr.io/acme/apps:latest" },
			want:   `repository: "ghcr.io/acme/apps:latest" has a tag or digest: give the prefix only; tags come from the tag policy`,
		},
		{
			name:   "repository with a digest",
			modify: func(c *Config) { c.Repository = "ghcr.io/acme/apps@sha256:abc" },
			want:   `repository: "ghcr.io/acme/apps@sha256:abc" has a tag or digest: give the prefix only; tags come from the tag policy`,
		},
		{
			name:   "repository upper case",
			modify: func(c *Config) { c.Repository = "ghcr.io/Acme/Apps" },
			want:   `repository: "ghcr.io/Acme/Apps" has upper-case letters, which OCI names do not allow: use "ghcr.io/acme/apps"`,
		},
		{
			name:   "repository with a blank",
			modify: func(c *Config) { c.Repository = "ghcr.io/acme/my apps" },
			want:   "repository: \"ghcr.io/acme/my apps\" is not an OCI repository: repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: acme/my apps",
		},
		{
			name:   "repository with a trailing slash",
			modify: func(c *Config) { c.Repository = "ghcr.io/acme/apps/" },
			want:   `repository: "ghcr.io/acme/apps/" has an empty path segment: use "ghcr.io/acme/apps"`,
		},
		{
			name:   "repository with a double slash",
			modify: func(c *Config) { c.Repository = "ghcr.io/acme//apps" },
			want:   `repository: "ghcr.io/acme//apps" has an empty path segment: use "ghcr.io/acme/apps"`,
		},
		{
			name:   "layout with no folder",
			modify: func(c *Config) { c.Repository = "oci-layout:" },
			want:   `repository: "oci-layout:" names no folder: use e.g. oci-layout:dist`,
		},
		{
			name:   "username without password",
			modify: func(c *Config) { c.Username = "bot" },
			want:   `registry-password: empty while registry-username is "bot": give both, or neither to use the docker config / GITHUB_TOKEN`,
		},
		{
			name:   "sha-length too short",
			modify: func(c *Config) { c.SHALength = 6 },
			want:   `sha-length: 6 is out of range: use 7 to 40 (default 8)`,
		},
		{
			name:   "sha-length too long",
			modify: func(c *Config) { c.SHALength = 41 },
			want:   `sha-length: 41 is out of range: use 7 to 40 (default 8)`,
		},
		{
			name:   "latest-tag empty",
			modify: func(c *Config) { c.LatestTag = "" },
			want:   `latest-tag: empty: give a tag name such as latest or latest-stable`,
		},
		{
			name:   "latest-tag too long",
			modify: func(c *Config) { c.LatestTag = strings.Repeat("x", 129) },
			want:   `latest-tag: "` + strings.Repeat("x", 129) + `" ` + badTag,
		},
		{
			name:   "stable-tag starting with a dot",
			modify: func(c *Config) { c.StableTag = ".stable" },
			want:   `stable-tag: ".stable" ` + badTag,
		},
		{
			name:   "channel starting with a dash",
			modify: func(c *Config) { c.Channel = "-prod" },
			want:   `channel: "-prod" ` + badTag,
		},
		{
			name:   "diff-against not a tag",
			modify: func(c *Config) { c.DiffAgainst = "../x" },
			want:   `diff-against: "../x" is not a tag: give a tag such as latest or latest-stable, or none`,
		},
		{
			name:   "channel with a slash",
			modify: func(c *Config) { c.Channel = "prod/eu" },
			want:   `channel: "prod/eu" ` + badTag,
		},
		{
			name:   "latest-tag equals stable-tag",
			modify: func(c *Config) { c.LatestTag, c.StableTag = "edge", "edge" },
			want:   `latest-tag and stable-tag: both are "edge": they must differ, or one channel would carry both main-branch builds and releases`,
		},
		{
			name:   "promote without version",
			modify: func(c *Config) { c.Command, c.Components = Promote, []string{"frontend"} },
			want:   `version: required for promote: give the vX.Y.Z to point "latest-stable" at`,
		},
		{
			name:   "promote version without v",
			modify: func(c *Config) { c.Command, c.Version, c.Components = Promote, "1.2.3", []string{"frontend"} },
			want:   `version: "1.2.3" is not a full semantic version: use vX.Y.Z, e.g. v1.2.3`,
		},
		{
			name:   "promote short version",
			modify: func(c *Config) { c.Command, c.Version, c.Components = Promote, "v1.2", []string{"frontend"} },
			want:   `version: "v1.2" is not a full semantic version: use vX.Y.Z, e.g. v1.2.3`,
		},
		{
			name:   "promote version with build metadata",
			modify: func(c *Config) { c.Command, c.Version, c.Components = Promote, "v1.2.3+build.5", []string{"frontend"} },
			want:   `version: "v1.2.3+build.5" is not a full semantic version: use vX.Y.Z, e.g. v1.2.3`,
		},
		{
			name:   "promote without components",
			modify: func(c *Config) { c.Command, c.Version = Promote, "v1.2.3" },
			want:   `components: required for promote: name the component(s) to roll, e.g. --components frontend`,
		},
		{
			name:   "promote version that is no version",
			modify: func(c *Config) { c.Command, c.Version, c.Components = Promote, "nonsense", []string{"a"} },
			want:   `version: "nonsense" is not a full semantic version: use vX.Y.Z, e.g. v1.2.3`,
		},
		{
			name:   "unknown sign mode",
			modify: func(c *Config) { c.Sign, c.Repository = "gpg", "ghcr.io/acme/apps" },
			want:   `sign: "gpg" is not a signing mode: use keyless, key or none`,
		},
		{
			name:   "sign key without a key",
			modify: func(c *Config) { c.Sign, c.Repository = SignKey, "ghcr.io/acme/apps" },
			want:   `cosign-key: required with sign: key: give a PEM private key or a key file`,
		},
		{
			name:   "cosign-key while sign is none",
			modify: func(c *Config) { c.CosignKey = "cosign.key" },
			want:   `cosign-key: given while sign is "none": set sign: key to sign with it`,
		},
		{
			name:   "keyless signing into a layout folder",
			modify: func(c *Config) { c.Sign = SignKeyless },
			want:   `sign: "keyless" needs a registry, but repository is the local folder "oci-layout:dist": set repository to a registry, or sign: none`,
		},
		{
			name:   "fulcio-url with another scheme",
			modify: func(c *Config) { c.FulcioURL = "ftp://fulcio.example.com" },
			want:   `fulcio-url: "ftp://fulcio.example.com" is not an http(s) URL`,
		},
		{
			name:   "rekor-url without a scheme",
			modify: func(c *Config) { c.RekorURL = "rekor.example.com" },
			want:   `rekor-url: "rekor.example.com" is not an http(s) URL`,
		},
		{
			name:   "rekor-url without a host",
			modify: func(c *Config) { c.RekorURL = "https://" },
			want:   `rekor-url: "https://" is not an http(s) URL`,
		},
		{
			name:   "dry-run value",
			modify: func(c *Config) { c.DryRun = "maybe" },
			want:   `dry-run: "maybe" is not a dry-run mode: use auto, true or false`,
		},
		{
			name: "verify with keyless and no identity outside Actions",
			modify: func(c *Config) {
				c.Command, c.Sign, c.Repository = Verify, SignKeyless, "ghcr.io/acme/apps"
			},
			want: `certificate-identity-regexp: required to check keyless signatures outside GitHub Actions (there GITHUB_REPOSITORY gives it): e.g. '^https://github\.com/acme/apps/\.github/workflows/.+@refs/tags/frontend/v.*$', or sign: none to skip the check`,
		},
		{
			name:   "concurrency zero",
			modify: func(c *Config) { c.Concurrency = 0 },
			want:   `concurrency: 0 is out of range: use 1 to 64`,
		},
		{
			name:   "concurrency too high",
			modify: func(c *Config) { c.Concurrency = 65 },
			want:   `concurrency: 65 is out of range: use 1 to 64`,
		},
		{
			name:   "max-yaml-size zero",
			modify: func(c *Config) { c.MaxYAMLBytes = 0 },
			want:   `max-yaml-size: 0 bytes: use 1 or more, e.g. 100Mi`,
		},
		{
			name:   "max-objects zero",
			modify: func(c *Config) { c.MaxObjects = 0 },
			want:   `max-objects: 0: use 1 or more`,
		},
		{
			name:   "max-file-size zero",
			modify: func(c *Config) { c.MaxFileSize = 0 },
			want:   `max-file-size: 0 bytes: use 1 or more, e.g. 100Mi`,
		},
		{
			name:   "unknown signature format",
			modify: func(c *Config) { c.SignatureFormat = "cosign3" },
			want:   `signature-format: "cosign3" is not a signature format: use both, bundle or legacy`,
		},
		{
			name:   "provenance without signing",
			modify: func(c *Config) { c.Provenance = true },
			want:   `provenance: true needs a signature, but sign is none: set sign to keyless or key, or provenance: false`,
		},
		{
			name: "trusted-root without signing",
			modify: func(c *Config) {
				c.TrustedRoot = `{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`
			},
			want: `trusted-root: given while sign is none, so nothing is signed or verified: set sign, or leave trusted-root out`,
		},
		{
			name: "trusted-root that is no JSON object",
			modify: func(c *Config) {
				c.Sign, c.Repository, c.TrustedRoot = SignKeyless, "ghcr.io/acme/apps", `{"mediaType": `
			},
			want: `trusted-root: not a JSON object (unexpected end of JSON input): give a Sigstore trusted_root.json`,
		},
		{
			name: "trusted-root without a media type",
			modify: func(c *Config) {
				c.Sign, c.Repository, c.TrustedRoot = SignKeyless, "ghcr.io/acme/apps", `{"tlogs": []}`
			},
			want: `trusted-root: no mediaType: give a Sigstore trusted_root.json (application/vnd.dev.sigstore.trustedroot+json)`,
		},
		{
			name: "trusted-root that is a folder",
			modify: func(c *Config) {
				c.Sign, c.Repository, c.TrustedRoot = SignKeyless, "ghcr.io/acme/apps", "testdata"
			},
			want: `trusted-root: "testdata": it is a directory, not a regular file: give the path of the file that holds a Sigstore trusted_root.json, or the JSON itself`,
		},
		{
			name: "trusted-root file missing",
			modify: func(c *Config) {
				c.Sign, c.Repository, c.TrustedRoot = SignKeyless, "ghcr.io/acme/apps", "testdata/nope/trusted_root.json"
			},
			want: `trusted-root: "testdata/nope/trusted_root.json": no such file: give the path of the file that holds a Sigstore trusted_root.json, or the JSON itself`,
		},
		{
			name: "trusted-root an endless device",
			modify: func(c *Config) {
				c.Sign, c.Repository, c.TrustedRoot = SignKeyless, "ghcr.io/acme/apps", "/dev/zero"
			},
			want: `trusted-root: "/dev/zero": it is a character device, not a regular file: give the path of the file that holds a Sigstore trusted_root.json, or the JSON itself`,
		},
		{
			// A user annotation once replaced the revision, after which latest never moved again.
			name: "annotations override the revision",
			modify: func(c *Config) {
				c.Annotations = map[string]string{"org.opencontainers.image.revision": "main@sha1:0", "team": "web"}
			},
			want: `annotations: "org.opencontainers.image.revision" is set by fleetpush itself (the branch or tag and commit, which decide whether latest may move): remove it`,
		},
		{
			name: "annotations override the creation time",
			modify: func(c *Config) {
				c.Annotations = map[string]string{"org.opencontainers.image.created": "2020-01-01T00:00:00Z"}
			},
			want: `annotations: "org.opencontainers.image.created" is set by fleetpush itself (the commit time, which keeps a re-run's digest identical): remove it`,
		},
		{
			// Found only when the manifest was pushed, after other components were published.
			name: "annotations over their budget",
			modify: func(c *Config) {
				c.Annotations = map[string]string{"a": strings.Repeat("x", 40<<10), "b": strings.Repeat("y", 24<<10)}
			},
			want: `annotations: 65538 bytes of keys and values, over the 64 KiB an artifact's manifest may carry: the manifest is read by every pull and registries refuse large ones only when it is pushed; keep annotations short (link to details instead)`,
		},
		{
			name: "annotations override the source",
			modify: func(c *Config) {
				c.Annotations = map[string]string{"org.opencontainers.image.source": "https://evil.example"}
			},
			want: `annotations: "org.opencontainers.image.source" is set by fleetpush itself (the repository URL, which Flux shows as the artifact's origin): remove it`,
		},
		{
			// A missing schema folder was once ignored: every custom resource then passed.
			name:   "schema-locations folder missing",
			modify: func(c *Config) { c.Source, c.SchemaLocations = "testdata", []string{"no-schemas"} },
			want:   `schema-locations: "no-schemas": folder "testdata/no-schemas" not found: give a folder of the checkout that holds the schemas`,
		},
		{
			name: "schema-locations template whose folder is missing",
			modify: func(c *Config) {
				c.Source, c.SchemaLocations = "testdata", []string{"schemas/{{.Group}}/{{.ResourceKind}}.json", "crds/{{.Group}}/{{.ResourceKind}}.json"}
			},
			want: `schema-locations: "crds/{{.Group}}/{{.ResourceKind}}.json": folder "testdata/crds" not found: give a folder of the checkout that holds the schemas`,
		},
		{
			name: "schema-locations remote",
			modify: func(c *Config) {
				c.SchemaLocations = []string{"https://raw.githubusercontent.com/datreeio/CRDs-catalog/main/{{.Group}}"}
			},
			want: `schema-locations: "https://raw.githubusercontent.com/datreeio/CRDs-catalog/main/{{.Group}}" is not a local path: validation runs offline; download the schemas into the repository and give their folder`,
		},
		{
			name: "schema-locations names a file",
			modify: func(c *Config) {
				c.Source, c.SchemaLocations = "testdata", []string{"schemas/example.com/widget_v1.json"}
			},
			want: `schema-locations: "schemas/example.com/widget_v1.json": "testdata/schemas/example.com/widget_v1.json" is a file: give the folder that holds the schemas, or a template such as schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json`,
		},
		{
			name:   "max-files negative",
			modify: func(c *Config) { c.MaxFiles = -1 },
			want:   `max-files: -1: use 1 or more`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := defaults()
			tt.modify(&c)
			if diff := cmp.Diff([]string{tt.want}, messages(c.Validate())); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidateReportsAll: several bad inputs are reported together, in the order of the
// interface table, so one run shows the user everything to fix.
func TestValidateReportsAll(t *testing.T) {
	t.Parallel()
	c := defaults()
	c.Command = Promote
	c.Output = "xml"
	c.Components = []string{"Frontend", "../x"}
	c.Repository = "https://ghcr.io/acme"
	c.SHALength = 3
	c.StableTag = "latest"
	c.Sign = "pgp"
	c.DryRun = "yes"
	c.Concurrency = 0
	want := []string{
		`repository: "https://ghcr.io/acme" has a scheme: give it without, e.g. ghcr.io/acme`,
		`components: component name "Frontend" is not a DNS-1123 label: use lower-case letters, digits and '-', starting and ending with a letter or digit`,
		`components: component name "../x" is a path: give the folder name under the components folder only`,
		`sign: "pgp" is not a signing mode: use keyless, key or none`,
		`dry-run: "yes" is not a dry-run mode: use auto, true or false`,
		`concurrency: 0 is out of range: use 1 to 64`,
		`output: "xml" is not a format: use text or json`,
		`latest-tag and stable-tag: both are "latest": they must differ, or one channel would carry both main-branch builds and releases`,
		`sha-length: 3 is out of range: use 7 to 40 (default 8)`,
		`version: required for promote: give the vX.Y.Z to point "latest-stable" at`,
	}
	if diff := cmp.Diff(want, messages(c.Validate())); diff != "" {
		t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
	}
}

// TestLoadThenValidate: the two steps together, as the app runs them, from each front end.
func TestLoadThenValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{
			name: "CLI",
			args: []string{"publish", "--components", "ok,Bad", "--sha-length", "99", "--sign", "key"},
			want: []string{
				`components: component name "Bad" is not a DNS-1123 label: use lower-case letters, digits and '-', starting and ending with a letter or digit`,
				`sha-length: 99 is out of range: use 7 to 40 (default 8)`,
				`cosign-key: required with sign: key: give a PEM private key or a key file`,
				`sign: "key" needs a registry, but repository is the local folder "oci-layout:dist": set repository to a registry, or sign: none`,
			},
		},
		{
			name: "Actions",
			env: map[string]string{
				"GITHUB_ACTIONS":    "true",
				"GITHUB_REPOSITORY": "acme/apps",
				"INPUT_COMMAND":     "promote",
				"INPUT_VERSION":     "1.0",
				"INPUT_COMPONENTS":  "frontend",
				"INPUT_REPOSITORY":  "ghcr.io/acme/apps:v1",
			},
			want: []string{
				`repository: "ghcr.io/acme/apps:v1" has a tag or digest: give the prefix only; tags come from the tag policy`,
				`version: "1.0" is not a full semantic version: use vX.Y.Z, e.g. v1.2.3`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tt.args, env(tt.env), nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, messages(c.Validate())); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
