package artifact

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ociLayout is what a run leaves in a layout folder.
func ociLayout(prefix string) map[string]entry {
	return map[string]entry{
		prefix + "oci-layout":            {Data: `{"imageLayoutVersion":"1.0.0"}`},
		prefix + "index.json":            {Data: `{"schemaVersion":2,"manifests":[]}`},
		prefix + "blobs/sha256/0123abcd": {Data: "the first run's layer"},
	}
}

// The layout folder is recognised by its real path however the repository
// input spells it: with ".." after a symlink (which path cleaning gets
// wrong), with "." and doubled or trailing slashes, absolute, or through a
// link to it. It is left out, and Layer.LeftOut says so for the log.
func TestLayoutDirIsRecognisedHoweverSpelled(t *testing.T) {
	t.Parallel()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tree := component()
	for k, v := range ociLayout("components/out/") {
		tree[k] = v
	}
	tree["components/app/kustomization.yaml"] = entry{Data: "resources: []\n"}
	writeTree(t, dir, tree, nil)
	for p, target := range map[string]string{"lnk": "components/app", "outlink": "components/out"} {
		if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	for _, layout := range []string{
		dir + "/components/out",
		dir + "/lnk/../out", // lnk is components/app: its ".." is components
		dir + "/components/app/../out",
		dir + "/./components//out/",
		dir + "/outlink",
		dir + "/base/../components/out",
	} {
		l := mustBuild(t, dir, WithLayoutDir(layout), WithWorkspace(dir))
		for _, f := range l.Files {
			if strings.HasPrefix(f.Path, "components/out") || strings.HasPrefix(f.Path, "outlink") {
				t.Errorf("layout %q: %q packed", layout, f.Path)
			}
		}
		// outlink is a link to the layout: left out too, under its own name.
		if diff := cmp.Diff([]string{"components/out", "outlink"}, l.LeftOut); diff != "" {
			t.Errorf("layout %q: LeftOut (-want +got):\n%s", layout, diff)
		}
	}
	// Spelled by text only, "lnk/../out" would be dir/out: a folder that is
	// not the layout, so nothing is left out there.
	l := mustBuild(t, dir, WithLayoutDir(dir+"/out"), WithWorkspace(dir))
	if len(l.LeftOut) != 0 || !contains(names(l.Files), "components/out/index.json") {
		t.Errorf("another layout folder: LeftOut %v, entries %v", l.LeftOut, names(l.Files))
	}
}

// A user's own folder named like the layout folder is published: only the
// layout fleetpush writes is left out (a folder with an "oci-layout" file,
// or an empty one it is about to fill).
func TestUsersDistIsPublished(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tree    map[string]entry
		leftOut []string
		packed  []string
	}{
		{"manifests", map[string]entry{"dist/install.yaml": {Data: "kind: List\n"}}, nil, []string{"dist/install.yaml"}},
		{"an index.json of the user's", map[string]entry{"dist/index.json": {Data: "{}"}, "dist/blobs/x": {Data: "x"}}, nil, []string{"dist/index.json", "dist/blobs/x"}},
		{"empty", map[string]entry{"dist/": {}}, []string{"dist"}, nil},
		{"the run's layout", ociLayout("dist/"), []string{"dist"}, nil},
		{"layouts of components", func() map[string]entry {
			t := ociLayout("dist/app/")
			for k, v := range ociLayout("dist/web/") {
				t[k] = v
			}
			t["dist/notes.yaml"] = entry{Data: "kind: ConfigMap\n"}
			return t
		}(), []string{"dist/app", "dist/web"}, []string{"dist/notes.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tree := component()
			for k, v := range tt.tree {
				tree[k] = v
			}
			writeTree(t, dir, tree, nil)
			l := mustBuild(t, dir, WithLayoutDir(filepath.Join(dir, "dist")), WithWorkspace(dir))
			if diff := cmp.Diff(tt.leftOut, l.LeftOut); diff != "" {
				t.Errorf("LeftOut (-want +got):\n%s", diff)
			}
			for _, p := range tt.packed {
				if !contains(names(l.Files), p) {
					t.Errorf("entries %v: the user's %q was left out", names(l.Files), p)
				}
			}
		})
	}
}

// A folder that is, or lies inside, the layout it is written to is
// refused: every run would pack the one before. Spelled with "..", the
// same folder is refused.
func TestFolderInsideItsOwnLayoutIsRefused(t *testing.T) {
	t.Parallel()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]entry{"components/app/kustomization.yaml": {Data: "resources: []\n"}}, nil)
	app := filepath.Join(dir, "components", "app")
	tests := []struct {
		name           string
		build          string
		layout, target string
	}{
		{"path ./ with oci-layout:.", dir, dir, ""},
		{"path is the layout, spelled with ..", app, dir + "/components/app/../app", ""},
		{"components-dir is the layout", app, dir + "/components", dir + "/components/app"},
		{"components-dir is the layout, spelled with ..", app, dir + "/components/app/..", dir + "/components/app/../app"},
		{"inside the layout", app, dir + "/components", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := []Option{WithLayoutDir(tt.layout), WithWorkspace(dir)}
			if tt.target != "" {
				opts = append(opts, WithLayoutTarget(tt.target))
			}
			l, err := Build(tt.build, opts...)
			if !errors.Is(err, ErrLayoutInside) {
				t.Fatalf("Build = %v, %v; want ErrLayoutInside", files(l), err)
			}
			for _, want := range []string{"repository oci-layout:", "give a layout folder outside it"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
	// Another component's layout beside this one is no reason to refuse.
	if _, err := Build(app, WithLayoutDir(dir+"/components"), WithLayoutTarget(dir+"/components/web"), WithWorkspace(dir)); err != nil {
		t.Errorf("Build beside its layout: %v", err)
	}
}
