package packaging

import (
	"os"
	"path/filepath"
	"testing"
)

// repoRoot is the module root: the checks read the repository's real delivery files.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
