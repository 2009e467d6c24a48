package packaging

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The interface table of the design: input and output names are a public contract that
// workflows, the CLI flags and the docs depend on. Adding one is a design change; renaming one
// breaks users.
var (
	contractInputs = []string{
		"command", "repository", "components", "components-dir", "path", "ignore-paths", "annotations",
		"main-branch", "latest-tag", "stable-tag", "sha-length", "version", "channel", "all", "validate",
		"sign", "cosign-key", "fulcio-url", "rekor-url", "fulcio-root", "rekor-public-key", "tlog-upload",
		"dry-run", "registry-username", "registry-password", "insecure",
	}
	contractOutputs = []string{"result", "matrix", "components", "any-changed", "pushed", "digests", "verify-snippet"}

	// Defaults that are constants of the design. The others depend on the event or the
	// environment (sign: keyless in Actions, none elsewhere) and are computed by the binary, so
	// action.yml leaves them empty.
	contractDefaults = map[string]string{
		"command": "publish", "components-dir": "components", "latest-tag": "latest",
		"stable-tag": "latest-stable", "sha-length": "8", "channel": "latest-stable", "all": "false",
		"validate": "true", "tlog-upload": "true", "dry-run": "auto", "insecure": "false",
	}
)

func TestActionContract(t *testing.T) {
	t.Parallel()
	a := loadAction(t)
	// Every input of the design, in the design's order; inputs added later may follow.
	var designed []string
	for _, name := range a.InputNames() {
		if slices.Contains(contractInputs, name) {
			designed = append(designed, name)
		}
	}
	if diff := cmp.Diff(contractInputs, designed); diff != "" {
		t.Errorf("action.yml inputs differ from the design's interface (-design +action.yml):\n%s", diff)
	}
	if diff := cmp.Diff(contractOutputs, a.OutputNames()); diff != "" {
		t.Errorf("action.yml outputs differ from the design's interface (-design +action.yml):\n%s", diff)
	}
	if a.Name == "" || a.Description == "" {
		t.Error("action.yml needs a name and a description (the Marketplace shows them)")
	}
	for _, in := range a.Inputs {
		if strings.TrimSpace(in.Description) == "" {
			t.Errorf("input %q has no description", in.Name)
		}
		if in.Required {
			// The D2 case is `uses:` plus at most one `with:` line: nothing may be required.
			t.Errorf("input %q is required; give it a default instead", in.Name)
		}
		if want, ok := contractDefaults[in.Name]; ok && in.Default != want {
			t.Errorf("input %q default = %q, want %q", in.Name, in.Default, want)
		}
		if strings.Contains(in.Description, "${{") {
			t.Errorf("input %q: an expression in a description may be evaluated by the runner; describe it in words", in.Name)
		}
	}
	for _, out := range a.Outputs {
		if strings.TrimSpace(out.Description) == "" {
			t.Errorf("output %q has no description", out.Name)
		}
	}
}

var pinnedActionImage = regexp.MustCompile(`^docker://ghcr\.io/[a-z0-9._-]+/fleetpush@sha256:[0-9a-f]{64}$`)

func TestActionRuns(t *testing.T) {
	t.Parallel()
	r := loadAction(t).Runs
	if r.Using != "docker" {
		t.Errorf("runs.using = %q, want docker", r.Using)
	}
	// On the main branch the runner builds the Dockerfile; a release commit pins the signed image.
	if r.Image != "Dockerfile" && !pinnedActionImage.MatchString(r.Image) {
		t.Errorf("runs.image = %q, want Dockerfile or docker://ghcr.io/<owner>/fleetpush@sha256:<digest>", r.Image)
	}
	// The binary reads its inputs from INPUT_* variables; arguments would be a second, drifting
	// interface, and an entrypoint override would bypass the image's.
	if len(r.Args) > 0 || r.Entrypoint != "" {
		t.Errorf("runs has args %q / entrypoint %q; the binary reads inputs from the environment", r.Args, r.Entrypoint)
	}
	if got, want := r.Env["GITHUB_TOKEN"], "${{ github.token }}"; got != want {
		t.Errorf("runs.env.GITHUB_TOKEN = %q, want %q: the ghcr.io default login needs it", got, want)
	}
}
