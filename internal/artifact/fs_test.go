package artifact

import (
	"io/fs"
	"testing"
	"testing/fstest"
)

func TestFS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tree := component()
	tree["logo.png"] = entry{Data: "png"}
	tree[".git/HEAD"] = entry{Data: "ref"}
	tree["empty/"] = entry{}
	writeTree(t, dir, tree, nil)
	l := mustBuild(t, dir)
	fsys := l.FS()

	var want []string
	for _, f := range l.Files {
		if f.Path != "." {
			want = append(want, f.Path)
		}
	}
	if err := fstest.TestFS(fsys, want...); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"logo.png", ".git", ".git/HEAD"} {
		if _, err := fs.Stat(fsys, p); err == nil {
			t.Errorf("%q is visible, the artifact does not hold it", p)
		}
	}
	got, err := fs.ReadFile(fsys, "staging/values.yaml")
	if err != nil || string(got) != "replicas: 1\n" {
		t.Errorf("ReadFile = %q, %v", got, err)
	}
	fi, err := fs.Stat(fsys, "empty")
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
		t.Errorf("Stat(empty) = %v, %v; want a 0755 directory", fi, err)
	}
}

func TestFSShowsImplicitDirectories(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]entry{"tmp/keep.yaml": {Data: "k"}, "tmp/drop.yaml": {Data: "d"}}, nil)
	l := mustBuild(t, dir, WithIgnore("tmp/", "!tmp/keep.yaml"))
	if err := fstest.TestFS(l.FS(), "tmp", "tmp/keep.yaml"); err != nil {
		t.Fatal(err)
	}
}
