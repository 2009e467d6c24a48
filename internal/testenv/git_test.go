package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGitRepoIsDeterministic: two repositories built alike have the same commits, so artifacts
// built from them have the same digests on every run and machine.
func TestGitRepoIsDeterministic(t *testing.T) {
	t.Parallel()
	from := t.TempDir()
	if err := os.WriteFile(filepath.Join(from, "a.yaml"), []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build := func() (string, string) {
		g := NewGitRepo(t, from)
		g.Write("b/c.yaml", "c: 2\n")
		return g.Head(), g.Commit("second")
	}
	first1, second1 := build()
	first2, second2 := build()
	if first1 != first2 || second1 != second2 {
		t.Errorf("two repositories built alike differ: %s %s, %s %s", first1, second1, first2, second2)
	}
}

func TestActionsOutputs(t *testing.T) {
	t.Parallel()
	env := Actions(t, "acme/apps", "/checkout", map[string]string{"INPUT_COMMAND": "detect"})
	if env["GITHUB_WORKSPACE"] != "/checkout" || env["INPUT_COMMAND"] != "detect" || env["GITHUB_ACTIONS"] != "true" {
		t.Errorf("Actions = %v", env)
	}
	out := "matrix<<EOF_1\n{\"component\":[]}\nEOF_1\nlist<<EOF_2\na\nb\nEOF_2\n"
	if err := os.WriteFile(env["GITHUB_OUTPUT"], []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	got := Outputs(t, env["GITHUB_OUTPUT"])
	if got["matrix"] != `{"component":[]}` || got["list"] != "a\nb" {
		t.Errorf("Outputs = %q", got)
	}
}
