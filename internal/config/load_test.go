package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// env is the getenv seam backed by a map, as Load's callers hand it in.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// defaults is the Config of `fleetpush publish` on a laptop: the documented defaults.
func defaults() Config {
	return Config{
		Command:         Publish,
		Source:          ".",
		Repository:      "oci-layout:dist",
		ComponentsDir:   "components",
		LatestTag:       "latest",
		StableTag:       "latest-stable",
		SHALength:       8,
		Channel:         "latest-stable",
		ValidateOn:      true,
		Sign:            SignNone,
		SignatureFormat: FormatBoth,
		TLogUpload:      true,
		DryRun:          "auto",
		Output:          "text",
		Concurrency:     8,
		MaxFiles:        10000,
		MaxBytes:        100 << 20,
		MaxFileSize:     16 << 20,

		MaxYAMLNodes:     10_000_000,
		MaxYAMLBytes:     512 << 20,
		MaxObjects:       10_000,
		MaxRenderedBytes: 64 << 20,
		DiffAgainst:      "latest",
		MaxTagPages:      1000,
	}
}

func TestLoadCLI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(c *Config)
	}{
		{
			name: "defaults",
			args: []string{"publish"},
			want: func(c *Config) {},
		},
		{
			name: "command",
			args: []string{"detect"},
			want: func(c *Config) { c.Command = Detect },
		},
		{
			name: "string flags, space and equals forms",
			args: []string{"publish", "--source", "checkout", "--repository=127.0.0.1:5000/acme/apps", "-components-dir", "apps", "--output", "json"},
			want: func(c *Config) {
				c.Source = "checkout"
				c.Repository = "127.0.0.1:5000/acme/apps"
				c.ComponentsDir = "apps"
				c.Output = "json"
			},
		},
		{
			name: "string values are trimmed",
			args: []string{"publish", "--latest-tag", "  edge "},
			want: func(c *Config) { c.LatestTag = "edge" },
		},
		{
			name: "bool flag without a value is true",
			args: []string{"publish", "--all", "--insecure"},
			want: func(c *Config) { c.All, c.Insecure = true, true },
		},
		{
			name: "bool flag with values",
			args: []string{"publish", "--all=true", "--validate=false", "--tlog-upload=false", "--insecure=true"},
			want: func(c *Config) { c.All, c.ValidateOn, c.TLogUpload, c.Insecure = true, false, false, true },
		},
		{
			name: "bool flag values as GitHub writes them: true, True, TRUE",
			args: []string{"publish", "--validate=FALSE", "--all=True", "--allow-empty=TRUE"},
			want: func(c *Config) { c.All, c.ValidateOn, c.AllowEmpty = true, false, true },
		},
		{
			name: "int flags",
			args: []string{"publish", "--sha-length", "12", "--concurrency=2", "--max-files", " 50 "},
			want: func(c *Config) { c.SHALength, c.Concurrency, c.MaxFiles = 12, 2, 50 },
		},
		{
			name: "max-file-size",
			args: []string{"publish", "--max-file-size", "32Mi"},
			want: func(c *Config) { c.MaxFileSize = 32 << 20 },
		},
		{
			name: "the largest size that fits",
			args: []string{"publish", "--max-size", "8589934591Gi"},
			want: func(c *Config) { c.MaxBytes = 8589934591 << 30 },
		},
		{
			name: "signing formats and trust",
			args: []string{"publish", "--repository", "ghcr.io/acme/apps", "--sign", "keyless", "--signature-format", "legacy", "--trusted-root", "root.json"},
			env:  map[string]string{"CI": "true"},
			want: func(c *Config) {
				c.Repository, c.Sign, c.SignatureFormat, c.TrustedRoot = "ghcr.io/acme/apps", SignKeyless, FormatLegacy, "root.json"
				c.GitHub.CI = true // no provenance by default outside Actions: no workflow run to name
			},
		},
		{
			name: "provenance false while signing",
			args: []string{"publish", "--repository", "ghcr.io/acme/apps", "--sign", "keyless", "--provenance=false"},
			env:  map[string]string{"CI": "true"},
			want: func(c *Config) {
				c.Repository, c.Sign, c.Provenance = "ghcr.io/acme/apps", SignKeyless, false
				c.GitHub.CI = true
			},
		},
		{
			name: "provenance is off by default without signing",
			args: []string{"publish", "--sign", "none"},
			want: func(c *Config) {},
		},
		{
			name: "size flag with suffix",
			args: []string{"publish", "--max-size", "2Ki"},
			want: func(c *Config) { c.MaxBytes = 2048 },
		},
		{
			name: "diff-against a release channel",
			args: []string{"validate", "--diff-against", "latest-stable"},
			want: func(c *Config) { c.Command, c.DiffAgainst, c.DiffAgainstGiven = Validate, "latest-stable", true },
		},
		{
			name: "diff-against none",
			args: []string{"validate", "--diff-against", "none"},
			want: func(c *Config) { c.Command, c.DiffAgainst, c.DiffAgainstGiven = Validate, "none", true },
		},
		{
			name: "size flag in bytes",
			args: []string{"publish", "--max-size", "1000"},
			want: func(c *Config) { c.MaxBytes = 1000 },
		},
		{
			name: "list with commas and blanks",
			args: []string{"publish", "--components", " frontend, backend ,,"},
			want: func(c *Config) { c.Components = []string{"frontend", "backend"} },
		},
		{
			name: "list with newlines and CRLF",
			args: []string{"publish", "--ignore-paths", "*.md\r\ndocs/\n\ntests/"},
			want: func(c *Config) { c.IgnorePaths = []string{"*.md", "docs/", "tests/"} },
		},
		{
			name: "repeated list flag accumulates",
			args: []string{"publish", "--components", "a,b", "--components", "c"},
			want: func(c *Config) { c.Components = []string{"a", "b", "c"} },
		},
		{
			name: "repeated scalar flag: the last wins",
			args: []string{"publish", "--latest-tag", "one", "--latest-tag", "two"},
			want: func(c *Config) { c.LatestTag = "two" },
		},
		{
			name: "key=value map, trimmed, value may hold '='",
			args: []string{"publish", "--annotations", "team = web, query=a=b", "--annotations", "empty="},
			want: func(c *Config) {
				c.Annotations = map[string]string{"team": "web", "query": "a=b", "empty": ""}
			},
		},
		{
			name: "path ./ is the root",
			args: []string{"publish", "--path", "./"},
			want: func(c *Config) { c.Path = "." },
		},
		{
			name: "promote flags",
			args: []string{"promote", "--version", "v1.2.3", "--channel", "stable", "--components", "frontend"},
			want: func(c *Config) {
				// promote checks signatures: keyless by default, even outside Actions
				c.Command, c.Version, c.Channel, c.Components, c.Sign = Promote, "v1.2.3", "stable", []string{"frontend"}, SignKeyless
			},
		},
		{
			name: "change range and ref",
			args: []string{"detect", "--base", "abc", "--head", "def", "--ref", "refs/heads/dev"},
			want: func(c *Config) { c.Command, c.Base, c.Head, c.Ref = Detect, "abc", "def", "refs/heads/dev" },
		},
		{
			name: "credentials",
			args: []string{"publish", "--registry-username", "bot", "--registry-password", "s3cret"},
			want: func(c *Config) { c.Username, c.Password = "bot", "s3cret" },
		},
		{
			name: "COSIGN_PASSWORD is read from the environment",
			args: []string{"publish", "--sign", "key", "--cosign-key", "cosign.key"},
			env:  map[string]string{"COSIGN_PASSWORD": "pw"},
			want: func(c *Config) {
				c.Sign, c.CosignKey, c.CosignPassword = SignKey, "cosign.key", "pw"
			},
		},
		{
			name: "GITHUB_REF fills ref outside Actions, GITHUB_SHA does not fill sha",
			args: []string{"publish"},
			env:  map[string]string{"GITHUB_REF": "refs/tags/v1.0.0", "GITHUB_SHA": "0123"},
			want: func(c *Config) { c.Ref = "refs/tags/v1.0.0" },
		},
		{
			name: "explicit ref wins over GITHUB_REF",
			args: []string{"publish", "--ref", "refs/heads/x"},
			env:  map[string]string{"GITHUB_REF": "refs/heads/main"},
			want: func(c *Config) { c.Ref = "refs/heads/x" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var usage bytes.Buffer
			got, err := Load(tt.args, env(tt.env), &usage)
			if err != nil {
				t.Fatalf("Load(%q) = %v", tt.args, err)
			}
			want := defaults()
			tt.want(&want)
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("Load(%q) mismatch (-want +got):\n%s", tt.args, diff)
			}
			if usage.Len() != 0 {
				t.Errorf("Load(%q) wrote usage:\n%s", tt.args, usage.String())
			}
		})
	}
}

func TestLoadActions(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"GITHUB_ACTIONS":    "true",
		"CI":                "true",
		"GITHUB_REPOSITORY": "Acme/D2-Apps",
		"GITHUB_WORKSPACE":  "/github/workspace",
		"GITHUB_REF":        "refs/heads/main",
		"GITHUB_SHA":        "0123456789abcdef0123456789abcdef01234567",
		"GITHUB_ACTOR":      "octocat",
	}
	gh := GitHub{
		Actions:    true,
		CI:         true,
		Repository: "Acme/D2-Apps",
		Workspace:  "/github/workspace",
		Actor:      "octocat",
	}
	// actionDefaults is the Config of the action with no inputs on a push to main.
	actionDefaults := func() Config {
		c := defaults()
		c.Source = "/github/workspace"
		c.Repository = "ghcr.io/acme/d2-apps"
		c.Sign = SignKeyless
		c.Provenance = true
		c.Ref = "refs/heads/main"
		c.SHA = "0123456789abcdef0123456789abcdef01234567"
		c.GitHub = gh
		return c
	}
	tests := []struct {
		name  string
		env   map[string]string
		want  func(c *Config)
		wantC func() Config // overrides actionDefaults when set
	}{
		{
			name: "no inputs: Actions defaults",
			want: func(c *Config) {},
		},
		{
			name: "inputs with hyphenated names, as the runner passes them",
			env: map[string]string{
				"INPUT_COMMAND":           "detect",
				"INPUT_REPOSITORY":        "registry.example.com/acme/apps",
				"INPUT_COMPONENTS-DIR":    "apps",
				"INPUT_REGISTRY-USERNAME": "robot",
				"INPUT_REGISTRY-PASSWORD": "hunter2",
				"INPUT_SHA-LENGTH":        "10",
				"INPUT_DRY-RUN":           "true",
				"INPUT_TLOG-UPLOAD":       "false",
				"INPUT_MAIN-BRANCH":       "trunk",
			},
			want: func(c *Config) {
				c.Command = Detect
				c.Repository = "registry.example.com/acme/apps"
				c.ComponentsDir = "apps"
				c.Username, c.Password = "robot", "hunter2"
				c.SHALength = 10
				c.DryRun, c.DryRunOn = "true", true
				c.TLogUpload = false
				c.MainBranch = "trunk"
			},
		},
		{
			name: "multi-line list and map inputs",
			env: map[string]string{
				"INPUT_COMPONENTS":   "frontend\nbackend\n",
				"INPUT_IGNORE-PATHS": "*.md, docs/",
				"INPUT_ANNOTATIONS":  "team=web\nowner = ops\n",
				"INPUT_ALL":          "true",
			},
			want: func(c *Config) {
				c.Components = []string{"frontend", "backend"}
				c.IgnorePaths = []string{"*.md", "docs/"}
				c.Annotations = map[string]string{"team": "web", "owner": "ops"}
				c.All = true
			},
		},
		{
			name: "inputs are trimmed; blank inputs keep the default",
			env:  map[string]string{"INPUT_LATEST-TAG": "  edge\n", "INPUT_STABLE-TAG": "   ", "INPUT_SIGN": " none "},
			want: func(c *Config) { c.LatestTag, c.Sign, c.Provenance = "edge", SignNone, false },
		},
		{
			name: "CLI-only options are not inputs: source stays the workspace",
			env:  map[string]string{"INPUT_SOURCE": "/elsewhere", "INPUT_OUTPUT": "json", "INPUT_BASE": "abc", "INPUT_REF": "refs/heads/x"},
			want: func(c *Config) {},
		},
		{
			name: "the signing, policy and limit inputs",
			env: map[string]string{
				"INPUT_SIGNATURE-FORMAT": "bundle",
				"INPUT_PROVENANCE":       "false",
				"INPUT_TRUSTED-ROOT":     "trusted_root.json",
				"INPUT_ALLOW-EMPTY":      "true",
				"INPUT_CONCURRENCY":      "16",
				"INPUT_MAX-FILE-SIZE":    "1Mi",
				"INPUT_MAX-SIZE":         "1Gi",
			},
			want: func(c *Config) {
				c.SignatureFormat, c.Provenance, c.TrustedRoot = FormatBundle, false, "trusted_root.json"
				c.AllowEmpty, c.Concurrency, c.MaxFileSize, c.MaxBytes = true, 16, 1<<20, 1<<30
			},
		},
		{
			name: "blank provenance input: the default, true when signing",
			env:  map[string]string{"INPUT_PROVENANCE": ""},
			want: func(c *Config) {},
		},
		{
			name: "lower-case inputs are not read (the runner upper-cases them)",
			env:  map[string]string{"INPUT_repository": "x.io/y"},
			want: func(c *Config) {},
		},
		{
			name: "under act: sign none and dry-run on",
			env:  map[string]string{"ACT": "true"},
			want: func(c *Config) {
				c.Sign, c.Provenance, c.DryRunOn = SignNone, false, true
				c.GitHub.Act = true
			},
		},
		{
			name: "under act, dry-run false is obeyed",
			env:  map[string]string{"ACT": "true", "INPUT_DRY-RUN": "false"},
			want: func(c *Config) {
				c.Sign, c.Provenance, c.DryRun = SignNone, false, "false"
				c.GitHub.Act = true
			},
		},
		{
			name: "explicit sign input wins over the Actions default",
			env:  map[string]string{"INPUT_SIGN": "key", "INPUT_COSIGN-KEY": "env://COSIGN_KEY", "COSIGN_PASSWORD": "pw"},
			want: func(c *Config) { c.Sign, c.CosignKey, c.CosignPassword = SignKey, "env://COSIGN_KEY", "pw" },
		},
		{
			name: "the GitHub context is read",
			env: map[string]string{
				"GITHUB_SERVER_URL":              "https://github.example.com",
				"GITHUB_EVENT_NAME":              "push",
				"GITHUB_EVENT_PATH":              "/github/workflow/event.json",
				"GITHUB_WORKFLOW_REF":            "Acme/D2-Apps/.github/workflows/push.yaml@refs/heads/main",
				"GITHUB_TOKEN":                   "ghs_token",
				"GITHUB_OUTPUT":                  "/github/file_commands/out",
				"GITHUB_STEP_SUMMARY":            "/github/file_commands/summary",
				"ACTIONS_ID_TOKEN_REQUEST_URL":   "https://token.example.com",
				"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "req-token",
			},
			want: func(c *Config) {
				c.GitHub.ServerURL = "https://github.example.com"
				c.GitHub.EventName = "push"
				c.GitHub.EventPath = "/github/workflow/event.json"
				c.GitHub.WorkflowRef = "Acme/D2-Apps/.github/workflows/push.yaml@refs/heads/main"
				c.GitHub.Token = "ghs_token"
				c.GitHub.OutputFile = "/github/file_commands/out"
				c.GitHub.SummaryFile = "/github/file_commands/summary"
				c.GitHub.TokenRequestURL = "https://token.example.com"
				c.GitHub.TokenRequestToken = "req-token"
			},
		},
		{
			name: "without GITHUB_REPOSITORY the layout is the default",
			env:  map[string]string{"GITHUB_REPOSITORY": ""},
			want: func(c *Config) {
				c.Repository = "oci-layout:dist"
				c.GitHub.Repository = ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := map[string]string{}
			for k, v := range base {
				m[k] = v
			}
			for k, v := range tt.env {
				m[k] = v
			}
			var usage bytes.Buffer
			got, err := Load(nil, env(m), &usage)
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			want := actionDefaults()
			tt.want(&want)
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("Load mismatch (-want +got):\n%s", diff)
			}
			if usage.Len() != 0 {
				t.Errorf("Load wrote usage:\n%s", usage.String())
			}
		})
	}
}

// TestLoadEnvironmentDefaults checks the defaults that depend on where the run happens, for
// both front ends.
func TestLoadEnvironmentDefaults(t *testing.T) {
	t.Parallel()
	type view struct {
		Source, Repository, Sign string
		DryRunOn                 bool
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want view
	}{
		{
			name: "laptop",
			args: []string{"publish"},
			want: view{Source: ".", Repository: "oci-layout:dist", Sign: SignNone},
		},
		{
			name: "laptop asking for keyless with no OIDC token: dry run",
			args: []string{"publish", "--sign", "keyless", "--repository", "ghcr.io/acme/apps"},
			want: view{Source: ".", Repository: "ghcr.io/acme/apps", Sign: SignKeyless, DryRunOn: true},
		},
		{
			name: "keyless in a CI shell is not a dry run",
			args: []string{"publish", "--sign", "keyless", "--repository", "ghcr.io/acme/apps"},
			env:  map[string]string{"CI": "true"},
			want: view{Source: ".", Repository: "ghcr.io/acme/apps", Sign: SignKeyless},
		},
		{
			name: "keyless with an OIDC request URL is not a dry run",
			args: []string{"publish", "--sign", "keyless", "--repository", "ghcr.io/acme/apps"},
			env:  map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.example.com"},
			want: view{Source: ".", Repository: "ghcr.io/acme/apps", Sign: SignKeyless},
		},
		{
			name: "laptop with dry-run true",
			args: []string{"publish", "--dry-run", "true"},
			want: view{Source: ".", Repository: "oci-layout:dist", Sign: SignNone, DryRunOn: true},
		},
		{
			name: "CLI under act: dry run",
			args: []string{"publish"},
			env:  map[string]string{"ACT": "true"},
			want: view{Source: ".", Repository: "oci-layout:dist", Sign: SignNone, DryRunOn: true},
		},
		{
			name: "GITHUB_REPOSITORY alone does not make a ghcr.io default outside Actions",
			args: []string{"publish"},
			env:  map[string]string{"GITHUB_REPOSITORY": "acme/apps", "GITHUB_WORKSPACE": "/w"},
			want: view{Source: ".", Repository: "oci-layout:dist", Sign: SignNone},
		},
		{
			name: "CLI inside an Actions step: workspace, ghcr.io lower-cased, keyless",
			args: []string{"publish"},
			env:  map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "ACME/Apps", "GITHUB_WORKSPACE": "/w"},
			want: view{Source: "/w", Repository: "ghcr.io/acme/apps", Sign: SignKeyless},
		},
		{
			name: "CLI inside an Actions step: explicit source wins",
			args: []string{"publish", "--source", "sub"},
			env:  map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/apps", "GITHUB_WORKSPACE": "/w"},
			want: view{Source: "sub", Repository: "ghcr.io/acme/apps", Sign: SignKeyless},
		},
		{
			name: "Actions without a workspace: the current folder",
			env:  map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/apps"},
			want: view{Source: ".", Repository: "ghcr.io/acme/apps", Sign: SignKeyless},
		},
		{
			name: "act sets GITHUB_ACTIONS too: sign none, dry run",
			env:  map[string]string{"GITHUB_ACTIONS": "true", "ACT": "true", "GITHUB_REPOSITORY": "acme/apps", "GITHUB_WORKSPACE": "/w"},
			want: view{Source: "/w", Repository: "ghcr.io/acme/apps", Sign: SignNone, DryRunOn: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tt.args, env(tt.env), nil)
			if err != nil {
				t.Fatalf("Load(%q) = %v", tt.args, err)
			}
			got := view{Source: c.Source, Repository: c.Repository, Sign: c.Sign, DryRunOn: c.DryRunOn}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Load(%q) mismatch (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		want      []string // every problem, in order
		wantUsage bool
		wantNil   bool // no Config at all (the command line itself is malformed)
	}{
		{
			name:    "unknown flag",
			args:    []string{"publish", "--nope"},
			want:    []string{"flag provided but not defined: -nope (see `fleetpush publish --help`)"},
			wantNil: true,
		},
		{
			name:    "flag without its value",
			args:    []string{"publish", "--repository"},
			want:    []string{"flag needs an argument: -repository (see `fleetpush publish --help`)"},
			wantNil: true,
		},
		{
			name:      "missing command before flags",
			args:      []string{"--repository", "ghcr.io/acme/apps"},
			want:      []string{"missing command: say which, e.g. `fleetpush publish --repository ghcr.io/acme/apps`"},
			wantUsage: true,
			wantNil:   true,
		},
		{
			name:      "no arguments outside Actions",
			args:      nil,
			want:      []string{"missing command: run `fleetpush publish` (or detect, validate, promote, verify); `fleetpush help` lists the flags"},
			wantUsage: true,
			wantNil:   true,
		},
		{
			name:    "positional argument",
			args:    []string{"publish", "frontend"},
			want:    []string{`unexpected argument "frontend": every value is given with a flag, e.g. --components frontend`},
			wantNil: true,
		},
		{
			name:    "bool flag followed by a word that is not a boolean",
			args:    []string{"publish", "--all", "components"},
			want:    []string{`unexpected argument "components" after --all, which takes true or false: write --all (true) or --all=false`},
			wantNil: true,
		},
		{
			name:    "bool flag followed by 1",
			args:    []string{"publish", "--provenance", "1"},
			want:    []string{`unexpected argument "1" after --provenance, which takes true or false: write --provenance (true) or --provenance=false`},
			wantNil: true,
		},
		{
			name:    "a boolean word after the end of the flags",
			args:    []string{"publish", "--all", "--", "false"},
			want:    []string{`unexpected argument "false": every value is given with a flag, e.g. --components false`},
			wantNil: true,
		},
		{
			name:    "a boolean word where no boolean flag is",
			args:    []string{"publish", "--repository", "ghcr.io/acme/apps", "false"},
			want:    []string{`unexpected argument "false": every value is given with a flag, e.g. --components false`},
			wantNil: true,
		},
		{
			name: "bad bool",
			args: []string{"publish", "--all=maybe"},
			want: []string{`--all: "maybe" is not a boolean: use true or false`},
		},
		{
			name: "bad int",
			args: []string{"publish", "--sha-length", "eight"},
			want: []string{`--sha-length: "eight" is not a whole number`},
		},
		{
			name: "bad map entry",
			args: []string{"publish", "--annotations", "team=web,oops"},
			want: []string{`--annotations: "oops" is not key=value`},
		},
		{
			name: "map entry without a key",
			args: []string{"publish", "--annotations", " =v"},
			want: []string{`--annotations: "=v" is not key=value`},
		},
		{
			name: "bad size",
			args: []string{"publish", "--max-size", "lots"},
			want: []string{`--max-size: "lots" is not a size: use bytes or a number with Ki, Mi or Gi, e.g. 100Mi`},
		},
		{
			name: "zero size",
			args: []string{"publish", "--max-size", "0"},
			want: []string{`--max-size: "0" is not a size: use bytes or a number with Ki, Mi or Gi, e.g. 100Mi`},
		},
		{
			// A size past int64 once wrapped around to a small number (1024 bytes here).
			name: "size overflow",
			args: []string{"publish", "--max-size", "18014398509481985Ki"},
			want: []string{`--max-size: "18014398509481985Ki" is too large: use at most 8589934591Gi`},
		},
		{
			name: "size overflow in bytes",
			args: []string{"publish", "--max-size", "99999999999999999999"},
			want: []string{`--max-size: "99999999999999999999" is too large: use at most 8589934591Gi`},
		},
		{
			name: "max-file-size overflow",
			args: []string{"publish", "--max-file-size", "18014398509481985Ki"},
			want: []string{`--max-file-size: "18014398509481985Ki" is too large: use at most 8589934591Gi`},
		},
		{
			name: "negative size",
			args: []string{"publish", "--max-file-size", "-1Mi"},
			want: []string{`--max-file-size: "-1Mi" is not a size: use bytes or a number with Ki, Mi or Gi, e.g. 100Mi`},
		},
		{
			name: "size with an unknown unit",
			args: []string{"publish", "--max-size", "1Ti"},
			want: []string{`--max-size: "1Ti" is not a size: use bytes or a number with Ki, Mi or Gi, e.g. 100Mi`},
		},
		{
			name: "int overflow",
			args: []string{"publish", "--concurrency", "99999999999999999999"},
			want: []string{`--concurrency: "99999999999999999999" is out of range: use a smaller number`},
		},
		{
			// GitHub Actions booleans are true or false; yes/1 were once taken for true.
			name: "yes is not a boolean",
			args: []string{"publish", "--all=yes"},
			want: []string{`--all: "yes" is not a boolean: use true or false`},
		},
		{
			name: "1 and 0 are not booleans",
			args: []string{"publish", "--insecure=1", "--validate=0"},
			want: []string{
				`--validate: "0" is not a boolean: use true or false`,
				`--insecure: "1" is not a boolean: use true or false`,
			},
		},
		{
			// A blank repository once fell back to the layout folder without a word.
			name: "blank repository",
			args: []string{"publish", "--repository", " "},
			want: []string{`--repository: empty value: give one, or leave the flag out for the default`},
		},
		{
			name: "empty values of every kind",
			args: []string{"publish", "--components=", "--all=", "--sha-length", "", "--max-size", "\t"},
			want: []string{
				`--components: empty value: give one, or leave the flag out for the default`,
				`--sha-length: empty value: give one, or leave the flag out for the default`,
				`--all: empty value: give one, or leave the flag out for the default`,
				`--max-size: empty value: give one, or leave the flag out for the default`,
			},
		},
		{
			name: "every bad value is reported at once",
			args: []string{"publish", "--all=maybe", "--concurrency", "x", "--validate=2"},
			want: []string{
				`--all: "maybe" is not a boolean: use true or false`,
				`--validate: "2" is not a boolean: use true or false`,
				`--concurrency: "x" is not a whole number`,
			},
		},
		{
			name: "bad inputs name the input",
			env: map[string]string{
				"GITHUB_ACTIONS":    "true",
				"INPUT_ALL":         "sometimes",
				"INPUT_SHA-LENGTH":  "long",
				"INPUT_ANNOTATIONS": "a=1\nb",
				"INPUT_PROVENANCE":  "yes",
				"INPUT_MAX-SIZE":    "18014398509481985Ki",
			},
			want: []string{
				`input annotations: "b" is not key=value`,
				`input sha-length: "long" is not a whole number`,
				`input all: "sometimes" is not a boolean: use true or false`,
				`input provenance: "yes" is not a boolean: use true or false`,
				`input max-size: "18014398509481985Ki" is too large: use at most 8589934591Gi`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var usage bytes.Buffer
			c, err := Load(tt.args, env(tt.env), &usage)
			if err == nil {
				t.Fatalf("Load(%q) = nil error, want %q", tt.args, tt.want)
			}
			if diff := cmp.Diff(tt.want, messages(err)); diff != "" {
				t.Errorf("Load(%q) errors mismatch (-want +got):\n%s", tt.args, diff)
			}
			if got := c == nil; got != tt.wantNil {
				t.Errorf("Load(%q) config nil = %v, want %v", tt.args, got, tt.wantNil)
			}
			if got := usage.Len() > 0; got != tt.wantUsage {
				t.Errorf("Load(%q) wrote usage = %v, want %v", tt.args, got, tt.wantUsage)
			}
			if errors.Is(err, ErrHelp) {
				t.Errorf("Load(%q) error is ErrHelp", tt.args)
			}
		})
	}
}

func TestLoadHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"help"}, {"-h"}, {"--help"}, {"publish", "--help"}, {"detect", "-h"}, {"publish", "--all", "-help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			var usage bytes.Buffer
			c, err := Load(args, env(nil), &usage)
			if !errors.Is(err, ErrHelp) {
				t.Fatalf("Load(%q) = %v, want ErrHelp", args, err)
			}
			if c != nil {
				t.Errorf("Load(%q) returned a config with ErrHelp", args)
			}
			help := usage.String()
			if !strings.HasPrefix(help, "Usage: fleetpush <command> [flags]\n") {
				t.Errorf("help does not start with the usage line:\n%s", help)
			}
			for _, cmd := range Commands {
				if !strings.Contains(help, "\n  "+string(cmd)+"\n") {
					t.Errorf("help does not list command %q", cmd)
				}
			}
			for _, o := range Options {
				if !o.Flag() {
					if strings.Contains(help, "--"+o.Name) {
						t.Errorf("help lists --%s, which is the sub-command on the CLI", o.Name)
					}
					continue
				}
				if !strings.Contains(help, "  --"+o.Name+"\n") {
					t.Errorf("help does not list --%s", o.Name)
				}
			}
			for _, want := range []string{"(default latest-stable)", "(default true when signing in GitHub Actions)", "(default 100Mi)", "(default 16Mi)"} {
				if !strings.Contains(help, want) {
					t.Errorf("help does not show the default %q:\n%s", want, help)
				}
			}
			if strings.Contains(help, "`") {
				t.Errorf("help shows markdown backticks:\n%s", help)
			}
		})
	}
}

// TestLoadHelpNilWriter: callers may pass no writer for the usage text.
func TestLoadHelpNilWriter(t *testing.T) {
	t.Parallel()
	if _, err := Load([]string{"help"}, env(nil), nil); !errors.Is(err, ErrHelp) {
		t.Fatalf("Load(help) = %v, want ErrHelp", err)
	}
}

func TestSplitList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , \n ", nil},
		{"a", []string{"a"}},
		{"a,b", []string{"a", "b"}},
		{"a\nb\r\nc", []string{"a", "b", "c"}},
		{" a , b\n\n c ,", []string{"a", "b", "c"}},
		{"a b", []string{"a b"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, SplitList(tt.in)); diff != "" {
				t.Errorf("SplitList(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestSecretsNeverInString(t *testing.T) {
	t.Parallel()
	getenv := env(map[string]string{
		"GITHUB_ACTIONS":                 "true",
		"GITHUB_REPOSITORY":              "acme/apps",
		"GITHUB_TOKEN":                   "ghs-token-value",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "oidc-request-token",
		"COSIGN_PASSWORD":                "cosign-password-value",
		"INPUT_REGISTRY-USERNAME":        "robot",
		"INPUT_REGISTRY-PASSWORD":        "registry-password-value",
	})
	c, err := Load(nil, getenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"registry-password-value", "cosign-password-value", "ghs-token-value", "oidc-request-token"}
	if diff := cmp.Diff(want, c.Secrets()[:len(want)]); diff != "" {
		t.Errorf("Secrets() mismatch (-want +got):\n%s", diff)
	}
	s := c.String()
	for _, secret := range want {
		if strings.Contains(s, secret) {
			t.Errorf("String() = %q contains the secret %q", s, secret)
		}
	}
	if !strings.Contains(s, "repository=ghcr.io/acme/apps") {
		t.Errorf("String() = %q does not describe the config", s)
	}
}

// TestSecretsCoverBasicHeader: a registry or proxy that echoes the request shows the password
// as base64("user:password") in an Authorization header. Redacting every value of Secrets()
// must leave neither form, whichever user name the registry client pairs the secret with.
func TestSecretsCoverBasicHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		env          map[string]string
		user, secret string // what the registry client sends
	}{
		{
			name: "explicit credentials",
			env:  map[string]string{"INPUT_REGISTRY-USERNAME": "robot", "INPUT_REGISTRY-PASSWORD": "pw-1"},
			user: "robot", secret: "pw-1",
		},
		{
			name: "a token alone goes with the actor on ghcr.io",
			env:  map[string]string{"INPUT_REGISTRY-PASSWORD": "pat-2", "GITHUB_ACTOR": "octocat"},
			user: "octocat", secret: "pat-2",
		},
		{
			name: "GITHUB_TOKEN with the actor",
			env:  map[string]string{"GITHUB_TOKEN": "ghs-3", "GITHUB_ACTOR": "octocat"},
			user: "octocat", secret: "ghs-3",
		},
		{
			name: "GITHUB_TOKEN without an actor",
			env:  map[string]string{"GITHUB_TOKEN": "ghs-4"},
			user: "x-access-token", secret: "ghs-4",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/apps"}
			maps.Copy(m, tt.env)
			c, err := Load(nil, env(m), nil)
			if err != nil {
				t.Fatal(err)
			}
			basic := base64.StdEncoding.EncodeToString([]byte(tt.user + ":" + tt.secret))
			echo := "403 Forbidden: request had Authorization: Basic " + basic + " (password " + tt.secret + ")"
			redacted := echo
			for _, s := range c.Secrets() {
				redacted = strings.ReplaceAll(redacted, s, "***")
			}
			if strings.Contains(redacted, basic) || strings.Contains(redacted, tt.secret) {
				t.Errorf("redacting Secrets() from %q left %q", echo, redacted)
			}
		})
	}
}

func TestSecretsEmpty(t *testing.T) {
	t.Parallel()
	c, err := Load([]string{"publish"}, env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Secrets(); len(got) != 0 {
		t.Errorf("Secrets() = %q, want none", got)
	}
}

func TestLayout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		repo    string
		wantDir string
		wantOK  bool
	}{
		{"oci-layout:dist", "dist", true},
		{"oci-layout:./out/x", "./out/x", true},
		{"oci-layout:", "", true},
		{"ghcr.io/acme/apps", "", false},
		{"127.0.0.1:5000/acme", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.repo, func(t *testing.T) {
			t.Parallel()
			c := &Config{Repository: tt.repo}
			dir, ok := c.Layout()
			if dir != tt.wantDir || ok != tt.wantOK {
				t.Errorf("Layout() = %q, %v, want %q, %v", dir, ok, tt.wantDir, tt.wantOK)
			}
		})
	}
}

// TestActionInputs: the CLI-only options are not inputs, everything else is, in table order.
func TestActionInputs(t *testing.T) {
	t.Parallel()
	var got []string
	for _, o := range ActionInputs() {
		got = append(got, o.Name)
	}
	for _, cliOnly := range []string{"source", "output", "base", "head", "ref"} {
		for _, n := range got {
			if n == cliOnly {
				t.Errorf("ActionInputs() holds the CLI-only option %q", n)
			}
		}
	}
	for _, input := range []string{"command", "repository", "components", "components-dir", "path", "ignore-paths",
		"annotations", "main-branch", "latest-tag", "stable-tag", "sha-length", "version", "channel", "all",
		"validate", "sign", "cosign-key", "fulcio-url", "rekor-url", "fulcio-root", "rekor-public-key",
		"tlog-upload", "dry-run", "registry-username", "registry-password", "insecure",
		"signature-format", "provenance", "trusted-root", "concurrency", "allow-empty", "max-file-size"} {
		found := false
		for _, n := range got {
			found = found || n == input
		}
		if !found {
			t.Errorf("ActionInputs() lacks the documented input %q", input)
		}
	}
}

// messages flattens an errors.Join tree into its messages, as the app prints them.
func messages(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, messages(e)...)
		}
		return out
	}
	return []string{err.Error()}
}

// TestLoadBoolFlagSpellings: every boolean flag takes its value as people
// type it: alone (true), with "=", or as the next argument (`--provenance
// false`), in each spelling a boolean input accepts; a flag's own value that
// looks like a boolean flag is left to that flag.
func TestLoadBoolFlagSpellings(t *testing.T) {
	t.Parallel()
	var bools []Option
	for _, o := range Options {
		if o.Flag() && o.field.isBool() {
			bools = append(bools, o)
		}
	}
	if len(bools) < 5 {
		t.Fatalf("found %d boolean flags, want every one of them (all, validate, provenance, tlog-upload, insecure, ...)", len(bools))
	}
	get := func(c *Config, o Option) bool { return *o.field.(boolField).ptr(c) }
	for _, o := range bools {
		for _, tt := range []struct {
			name string
			args []string
			want bool
		}{
			{"alone", []string{"--" + o.Name}, true},
			{"single dash", []string{"-" + o.Name, "false"}, false},
			{"= false", []string{"--" + o.Name + "=false"}, false},
			{"space false", []string{"--" + o.Name, "false"}, false},
			{"space true", []string{"--" + o.Name, "true"}, true},
			{"space FALSE", []string{"--" + o.Name, "FALSE"}, false},
			{"space False then another flag", []string{"--" + o.Name, "False", "--output", "json"}, false},
			{"space true after another flag", []string{"--output", "json", "--" + o.Name, "true"}, true},
			{"the last one wins", []string{"--" + o.Name, "false", "--" + o.Name, "true"}, true},
		} {
			t.Run(o.Name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				args := append([]string{"publish"}, tt.args...)
				c, err := Load(args, env(nil), nil)
				if err != nil {
					t.Fatalf("Load(%q) = %v", args, err)
				}
				if got := get(c, o); got != tt.want {
					t.Errorf("Load(%q): %s = %v, want %v", args, o.Name, got, tt.want)
				}
			})
		}
	}
	// A flag that takes a value takes the next argument whatever it is, as
	// flag.Parse does: "--all" is the repository here, and "false" after it is
	// not a value of --all.
	args := []string{"publish", "--repository", "--all", "false"}
	if _, err := Load(args, env(nil), nil); err == nil || !strings.Contains(err.Error(), `unexpected argument "false"`) {
		t.Errorf("Load(%q) = %v, want false unexpected", args, err)
	}
}
