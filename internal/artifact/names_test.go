package artifact

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOddFileNamesMatchFlux packs the file names git and Flux accept and
// that once failed validation (a space, non-ASCII letters, + @ ~ ( , *):
// every one is in the layer, and the layer is still byte for byte Flux's.
// The fixture holds the names a Go module may carry; "*" is made here.
func TestOddFileNamesMatchFlux(t *testing.T) {
	t.Parallel()
	tree := map[string]entry{}
	src := filepath.Join("testdata", "hostile", "odd-names")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		tree[filepath.ToSlash(rel)] = entry{Data: string(data)}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tree["glob*star.yaml"] = entry{Data: "kind: ConfigMap\n"}
	tree["tab\there.yaml"] = entry{Data: "kind: ConfigMap\n"}
	dir := t.TempDir()
	writeTree(t, dir, tree, nil)
	chmodDirs(t, dir, 0o755)

	l := mustBuild(t, dir)
	for _, want := range []string{"with space.yaml", "café.yaml", "values+prod.yaml", "user@host.yaml", "~backup.yaml",
		"(draft).yaml", "a,b.yaml", "sub dir (copy)/naïve ~1.yaml", "glob*star.yaml", "tab\there.yaml"} {
		if !contains(names(l.Files), want) {
			t.Errorf("%q is not in the layer: %q", want, names(l.Files))
		}
	}
	ref := fluxReference(t, dir, func(string, bool) bool { return false })
	if !bytes.Equal(l.Compressed, ref) {
		t.Fatalf("layer differs from Flux's builder:\n%s", cmp.Diff(names(entriesToFiles(readLayer(t, ref))), names(l.Files)))
	}
	if _, err := fs.ReadFile(l.FS(), "sub dir (copy)/naïve ~1.yaml"); err != nil {
		t.Errorf("reading through FS: %v", err)
	}
}
