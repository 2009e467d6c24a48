package packaging

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/fleetpush/fleetpush/internal/config"
)

// TestGeneratedFilesUpToDate: action.yml and the README's tables are what the generator writes
// from the option and output tables now. hack/test.sh checks the same with git diff after
// running the generator; this test says it in go test.
func TestGeneratedFilesUpToDate(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	files, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		old, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(strings.Split(string(old), "\n"), strings.Split(string(f.Data), "\n")); diff != "" {
			t.Errorf("%s differs from what the generator writes: run `%s` and commit the result (-committed +generated):\n%s", f.Path, GenerateCommand, diff)
		}
	}
}

// The interface of the design: input and output names are a public contract that workflows,
// the CLI flags and the docs depend on. Adding one is a design change; renaming one breaks users.
var (
	contractInputs = []string{
		"command", "repository", "components", "components-dir", "path", "ignore-paths", "annotations",
		"main-branch", "latest-tag", "stable-tag", "sha-length", "version", "channel", "all", "validate",
		"sign", "signature-format", "provenance", "cosign-key", "fulcio-url", "rekor-url", "fulcio-root",
		"rekor-public-key", "trusted-root", "tlog-upload", "dry-run", "registry-username",
		"registry-password", "insecure", "concurrency", "diff-against",
	}
	contractOutputs = []string{"result", "matrix", "components", "any-changed", "pushed", "digests", "verify-snippet", "preview"}

	// Defaults that are constants of the design. The others depend on the event or the
	// environment (sign: keyless in Actions, none elsewhere) and are computed by the binary, so
	// action.yml leaves them empty.
	contractDefaults = map[string]string{
		"command": "publish", "components-dir": "components", "latest-tag": "latest",
		"stable-tag": "latest-stable", "sha-length": "8", "channel": "latest-stable", "all": "false",
		"validate": "true", "tlog-upload": "true", "dry-run": "auto", "insecure": "false",
		"signature-format": "both", "concurrency": "8", "allow-empty": "false",
		"provenance": "", "sign": "", "repository": "", "diff-against": "latest",
	}
)

// actionFile is the part of action.yml the checks read, keeping the order of inputs and outputs.
type actionFile struct {
	Name, Description string
	Inputs            []actionInput
	Outputs           []actionInput
	Runs              struct {
		Using      string            `yaml:"using"`
		Image      string            `yaml:"image"`
		Args       []string          `yaml:"args"`
		Entrypoint string            `yaml:"entrypoint"`
		Env        map[string]string `yaml:"env"`
	}
}

type actionInput struct {
	Name        string
	Description string  `yaml:"description"`
	Default     *string `yaml:"default"`
	Required    bool    `yaml:"required"`
}

// parseAction reads action.yml as the runner does, but keeps the order of the mappings.
func parseAction(t *testing.T, data []byte) actionFile {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("action.yml does not parse: %v", err)
	}
	var a actionFile
	top := doc.Content[0]
	entries := func(m *yaml.Node) []actionInput {
		var out []actionInput
		for i := 0; i+1 < len(m.Content); i += 2 {
			in := actionInput{Name: m.Content[i].Value}
			if err := m.Content[i+1].Decode(&in); err != nil {
				t.Fatalf("%s: %v", in.Name, err)
			}
			out = append(out, in)
		}
		return out
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i].Value, top.Content[i+1]
		switch key {
		case "name":
			a.Name = val.Value
		case "description":
			a.Description = val.Value
		case "inputs":
			a.Inputs = entries(val)
		case "outputs":
			a.Outputs = entries(val)
		case "runs":
			if err := val.Decode(&a.Runs); err != nil {
				t.Fatal(err)
			}
		}
	}
	return a
}

// TestActionYAML reads the generated action.yml back as YAML: the runner hands the binary
// exactly these inputs, with these defaults, so they must say what the option table says; and
// the text the generator wrote must come back unchanged (no escaping mistake).
func TestActionYAML(t *testing.T) {
	t.Parallel()
	data, err := ActionYAML(DefaultImage)
	if err != nil {
		t.Fatal(err)
	}
	a := parseAction(t, data)
	if a.Name == "" || a.Description == "" {
		t.Error("action.yml needs a name and a description (the Marketplace shows them)")
	}
	var want []actionInput
	for _, o := range config.ActionInputs() {
		in := actionInput{Name: o.Name, Description: InputDescription(o)}
		if o.Default != "" {
			in.Default = &o.Default
		}
		want = append(want, in)
	}
	if diff := cmp.Diff(want, a.Inputs); diff != "" {
		t.Errorf("action.yml inputs differ from the option table (-table +action.yml):\n%s", diff)
	}
	var wantOut []actionInput
	for _, o := range config.Outputs {
		wantOut = append(wantOut, actionInput{Name: o.Name, Description: o.Description})
	}
	if diff := cmp.Diff(wantOut, a.Outputs); diff != "" {
		t.Errorf("action.yml outputs differ from the output table (-table +action.yml):\n%s", diff)
	}

	// The interface of the design, each input in a fixed order (grouped by concern: signing
	// inputs stay together); inputs added later may come between.
	var designed []string
	for _, in := range a.Inputs {
		if slices.Contains(contractInputs, in.Name) {
			designed = append(designed, in.Name)
		}
	}
	if diff := cmp.Diff(contractInputs, designed); diff != "" {
		t.Errorf("inputs differ from the design's interface (-design +action.yml):\n%s", diff)
	}
	// Outputs added later (result-file) may come between, as inputs may.
	var designedOut []string
	for _, name := range config.OutputNames() {
		if slices.Contains(contractOutputs, name) {
			designedOut = append(designedOut, name)
		}
	}
	if diff := cmp.Diff(contractOutputs, designedOut); diff != "" {
		t.Errorf("outputs differ from the design's interface (-design +table):\n%s", diff)
	}
	for _, in := range a.Inputs {
		if want, ok := contractDefaults[in.Name]; ok {
			got := ""
			if in.Default != nil {
				got = *in.Default
			}
			if got != want {
				t.Errorf("input %q default = %q, want %q", in.Name, got, want)
			}
		}
		if in.Required {
			// The D2 case is `uses:` plus at most one `with:` line: nothing may be required.
			t.Errorf("input %q is required; give it a default instead", in.Name)
		}
	}
}

func TestActionRuns(t *testing.T) {
	t.Parallel()
	for _, image := range []string{DefaultImage, "docker://ghcr.io/fleetpush/fleetpush@sha256:" + strings.Repeat("ab", 32)} {
		data, err := ActionYAML(image)
		if err != nil {
			t.Fatal(err)
		}
		r := parseAction(t, data).Runs
		if r.Using != "docker" || r.Image != image {
			t.Errorf("runs = %s %s, want docker %s", r.Using, r.Image, image)
		}
		// The binary reads its inputs from INPUT_* variables; arguments would be a second,
		// drifting interface, and an entrypoint override would bypass the image's.
		if len(r.Args) > 0 || r.Entrypoint != "" {
			t.Errorf("runs has args %q / entrypoint %q; the binary reads inputs from the environment", r.Args, r.Entrypoint)
		}
		if got, want := r.Env["GITHUB_TOKEN"], "${{ github.token }}"; got != want {
			t.Errorf("runs.env.GITHUB_TOKEN = %q, want %q: the ghcr.io default login needs it", got, want)
		}
		// The release workflow pins the image with sed on this one line; the generator must
		// keep what it wrote there.
		if got := currentImage(data); got != image {
			t.Errorf("currentImage() = %q, want %q", got, image)
		}
	}
}

func TestCurrentImage(t *testing.T) {
	t.Parallel()
	pinned := "docker://ghcr.io/acme/fleetpush@sha256:" + strings.Repeat("0", 64)
	tests := []struct{ name, file, want string }{
		{"main branch", "runs:\n  using: docker\n  image: Dockerfile\n", DefaultImage},
		{"release commit", "runs:\n  using: docker\n  image: " + pinned + "\n", pinned},
		{"hand-edited tag is not kept", "runs:\n  image: docker://ghcr.io/acme/fleetpush:v1\n", DefaultImage},
		{"no file yet", "", DefaultImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := currentImage([]byte(tt.file)); got != tt.want {
				t.Errorf("currentImage() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestReadmeTables: every input, CLI-only flag and output has its row, one line each.
func TestReadmeTables(t *testing.T) {
	t.Parallel()
	tables := ReadmeTables()
	for _, o := range config.Options {
		name := "`" + o.Name + "`"
		if o.CLIOnly {
			name = "`--" + o.Name + "`"
		}
		if !strings.Contains(tables, "\n| "+name+" | ") {
			t.Errorf("no row for %s", name)
		}
	}
	for _, o := range config.Outputs {
		if !strings.Contains(tables, "\n| `"+o.Name+"` | ") {
			t.Errorf("no row for output %s", o.Name)
		}
	}
	if !strings.Contains(tables, "| `provenance` | `true` when signing in GitHub Actions |") {
		t.Errorf("the provenance row does not show its computed default:\n%s", tables)
	}
}

func TestReplaceSection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, want string
		wantErr         bool
	}{
		{name: "appends when missing", doc: "# t\n", want: "# t\n\nB\nx\nE\n"},
		{name: "appends to an empty file", doc: "", want: "B\nx\nE\n"},
		{name: "replaces between markers", doc: "a\nB\nold\nE\nz\n", want: "a\nB\nx\nE\nz\n"},
		{name: "end before begin", doc: "E\nB\n", wantErr: true},
		{name: "end missing", doc: "B\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReplaceSection(tt.doc, "B", "E", "x\n")
			if (err != nil) != tt.wantErr {
				t.Fatalf("ReplaceSection() error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ReplaceSection() = %q, want %q", got, tt.want)
			}
		})
	}
}
