package packaging

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/fleetpush/fleetpush/internal/config"
)

// actionRef is how the examples call the action: users copy them verbatim.
const actionRef = "fleetpush/fleetpush@v1"

type workflow struct {
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]struct {
		Permissions map[string]string `yaml:"permissions"`
		Steps       []struct {
			Uses string            `yaml:"uses"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// exampleFiles lists the example workflows, slash-separated and relative to examples/.
func exampleFiles(t *testing.T) []string {
	t.Helper()
	root := filepath.Join(repoRoot(t), "examples")
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			rel, _ := filepath.Rel(root, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no example workflows under examples/")
	}
	return files
}

func readWorkflow(t *testing.T, rel string) workflow {
	t.Helper()
	var wf workflow
	if err := yaml.Unmarshal(readRepoFile(t, "examples/"+rel), &wf); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return wf
}

// TestExamplesUseTheAction checks what actionlint cannot see on the published files: every
// example calls the action by its public name, only with the inputs it declares, and with
// the permissions its command needs and no more.
func TestExamplesUseTheAction(t *testing.T) {
	t.Parallel()
	var inputs []string
	for _, o := range config.ActionInputs() {
		inputs = append(inputs, o.Name)
	}
	for _, rel := range exampleFiles(t) {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			wf := readWorkflow(t, rel)
			// Top-level permissions are the floor for every job; a job that needs more asks for it.
			if len(wf.Permissions) > 0 && (len(wf.Permissions) != 1 || wf.Permissions["contents"] != "read") {
				t.Errorf("workflow permissions = %v, want none or only contents: read", wf.Permissions)
			}
			calls := 0
			for name, job := range wf.Jobs {
				for _, step := range job.Steps {
					if !strings.HasPrefix(step.Uses, "fleetpush/fleetpush@") && step.Uses != "./" {
						continue
					}
					calls++
					if step.Uses != actionRef {
						t.Errorf("job %s uses %q, want %q", name, step.Uses, actionRef)
					}
					for k := range step.With {
						if !slices.Contains(inputs, k) {
							t.Errorf("job %s: input %q is not declared in action.yml", name, k)
						}
					}
					// A job's permissions replace the workflow's, they do not add to them.
					perm := func(k string) string {
						if job.Permissions != nil {
							return job.Permissions[k]
						}
						return wf.Permissions[k]
					}
					command := step.With["command"]
					if command == "" {
						command = "publish"
					}
					wantPackages, wantIDToken := "", ""
					switch command {
					case "publish":
						wantPackages, wantIDToken = "write", "write"
					case "promote", "prune":
						wantPackages = "write"
					}
					if command == "validate" && perm("packages") == "read" {
						wantPackages = "read" // the preview reads what a channel serves
					}
					if got := perm("packages"); got != wantPackages {
						t.Errorf("job %s (%s): packages permission = %q, want %q", name, command, got, wantPackages)
					}
					if got := perm("id-token"); got != wantIDToken {
						t.Errorf("job %s (%s): id-token permission = %q, want %q", name, command, got, wantIDToken)
					}
					if got := perm("contents"); got != "read" {
						t.Errorf("job %s (%s): contents permission = %q, want read", name, command, got)
					}
				}
			}
			if calls == 0 {
				t.Errorf("%s does not use %s", rel, actionRef)
			}
		})
	}
}

// TestExamplesShorterThanD2 holds the examples to the promise that they replace the D2 workflows
// with less: lines that are neither blank nor comments, against the D2 reference workflows at the
// time of writing (controlplaneio-fluxcd/d2-apps, d2-infra and d2-fleet, .github/workflows).
// The D2 validate workflow also runs a validation shell script that is not counted.
func TestExamplesShorterThanD2(t *testing.T) {
	t.Parallel()
	d2 := map[string]struct {
		original string
		lines    int
	}{
		"components/push-artifact.yaml":         {"d2-infra push-artifact.yaml (d2-apps: 46)", 44},
		"components/push-artifact-one-job.yaml": {"d2-infra push-artifact.yaml (d2-apps: 46)", 44},
		"components/release-artifact.yaml":      {"d2-infra release-artifact.yaml", 51},
		"components/validate.yaml":              {"d2-infra validate.yaml", 22},
		"fleet/push-artifact.yaml":              {"d2-fleet push-artifact.yaml", 54},
		"fleet/validate.yaml":                   {"d2-infra validate.yaml", 22},
	}
	for rel, orig := range d2 {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", filepath.FromSlash(rel)))
			if err != nil {
				t.Fatal(err)
			}
			if got := codeLines(string(data)); got >= orig.lines {
				t.Errorf("%s has %d lines, want fewer than the %d of %s", rel, got, orig.lines, orig.original)
			}
		})
	}
}

func codeLines(s string) int {
	n := 0
	for _, line := range strings.Split(s, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}
