package packaging

import (
	"os"
	"path/filepath"
	"testing"
)

// repoRoot is the module root: the checks read the repository's real delivery files.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func loadAction(t *testing.T) *Action {
	t.Helper()
	a, err := ParseAction(readRepoFile(t, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}
