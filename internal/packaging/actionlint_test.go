package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const actionlintInstall = "bash hack/tools.sh (or: GOBIN=$HOME/.cache/fleetpush/tools/bin go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12)"

// findTool looks a test tool up in the tools cache first, then on PATH. A missing tool fails the
// test in CI (the suite must not pass by skipping) and skips it elsewhere with the install line.
func findTool(t *testing.T, name, install string) string {
	t.Helper()
	dir := os.Getenv("FLEETPUSH_TOOLS")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".cache", "fleetpush", "tools")
		}
	}
	if dir != "" {
		p := filepath.Join(dir, "bin", name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found in the tools cache or on PATH; install it with: %s", name, install)
	}
	t.Skipf("%s not found; install it with: %s", name, install)
	return ""
}

func runActionlint(t *testing.T, bin, dir string, files ...string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-no-color"}, files...)...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("actionlint %s: %v\n%s", strings.Join(files, " "), err, out.String())
	}
}

// TestActionlint lints the project's own workflows and the examples as published, then lints the
// examples once more with `uses: ./` against a copy of this action.yml, which makes actionlint
// check every `with:` key against the inputs the action really declares.
func TestActionlint(t *testing.T) {
	t.Parallel()
	bin := findTool(t, "actionlint", actionlintInstall)
	root := repoRoot(t)
	examples := exampleFiles(t)

	t.Run("workflows", func(t *testing.T) {
		t.Parallel()
		files, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.y*ml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no workflows under .github/workflows (%v)", err)
		}
		runActionlint(t, bin, root, files...)
	})

	t.Run("examples", func(t *testing.T) {
		t.Parallel()
		var files []string
		for _, rel := range examples {
			files = append(files, filepath.Join("examples", filepath.FromSlash(rel)))
		}
		runActionlint(t, bin, root, files...)
	})

	t.Run("examples against action.yml", func(t *testing.T) {
		t.Parallel()
		// actionlint resolves `uses: ./` from the project root: the folder holding both .git and
		// .github/workflows. The action needs its Dockerfile beside it.
		proj := t.TempDir()
		wfDir := filepath.Join(proj, ".github", "workflows")
		for _, d := range []string{filepath.Join(proj, ".git"), wfDir} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []string{"action.yml", "Dockerfile"} {
			if err := os.WriteFile(filepath.Join(proj, f), readRepoFile(t, f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var files []string
		for _, rel := range examples {
			src := string(readRepoFile(t, "examples/"+rel))
			local := strings.ReplaceAll(src, "uses: "+actionRef, "uses: ./")
			if local == src {
				t.Fatalf("%s has no `uses: %s` to check", rel, actionRef)
			}
			name := strings.ReplaceAll(rel, "/", "-")
			if err := os.WriteFile(filepath.Join(wfDir, name), []byte(local), 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, filepath.Join(".github", "workflows", name))
		}
		runActionlint(t, bin, proj, files...)
	})
}
