package artifact

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// withHook sets the test hook that runs before the root and each file are
// opened.
func withHook(h func(real string)) Option {
	return func(o *options) { o.hook = h }
}

// hostileCheckout is a checkout next to a folder outside it that holds a
// secret, the layout of the reported attack:
//
//	outside/secret.env
//	outside/nested/kustomization.yaml
//	repo/components/good/kustomization.yaml
//	repo/shared/kustomization.yaml
func hostileCheckout(t *testing.T) (repo, outside string) {
	t.Helper()
	top := t.TempDir()
	repo, outside = filepath.Join(top, "repo"), filepath.Join(top, "outside")
	writeTree(t, outside, map[string]entry{
		"secret.env":                {Data: "TOKEN=hunter2\n"},
		"kustomization.yaml":        {Data: "resources: []\n"},
		"nested/kustomization.yaml": {Data: "resources: []\n"},
	}, nil)
	writeTree(t, repo, map[string]entry{
		"components/good/kustomization.yaml": {Data: "resources: []\n"},
		"shared/kustomization.yaml":          {Data: "resources: []\n"},
	}, nil)
	return repo, outside
}

func TestWorkspaceRefusesFoldersThatLeaveIt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		link string // components/<name> -> link, relative to repo/components
		// build is the folder given to Build, relative to repo.
		build string
	}{
		// ln -s ../../outside components/evil
		{"component folder is a relative link out", "../../outside", "components/evil"},
		{"component folder is an absolute link out", "<outside>", "components/evil"},
		// --path components/evil/nested passes through the link.
		{"path through a link", "../../outside", "components/evil/nested"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo, outside := hostileCheckout(t)
			link := strings.ReplaceAll(tt.link, "<outside>", outside)
			if err := os.Symlink(link, filepath.Join(repo, "components", "evil")); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(repo, filepath.FromSlash(tt.build))
			l, err := Build(dir, WithWorkspace(repo))
			if !errors.Is(err, ErrOutsideWorkspace) {
				t.Fatalf("Build = %v, %v; want ErrOutsideWorkspace", files(l), err)
			}
			for _, want := range []string{dir, "outside the checkout", "replace the symlink"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestWorkspaceAllowsLinksThatStayInside(t *testing.T) {
	t.Parallel()
	repo, _ := hostileCheckout(t)
	// The checkout itself is reached through a link, and a component is a
	// link to another folder of the checkout.
	alias := filepath.Join(t.TempDir(), "workspace")
	if err := os.Symlink(repo, alias); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../shared", filepath.Join(repo, "components", "alias")); err != nil {
		t.Fatal(err)
	}
	for _, ws := range []string{repo, alias} {
		for _, c := range []string{"components/good", "components/alias", "."} {
			dir := filepath.Join(ws, filepath.FromSlash(c))
			if _, err := Build(dir, WithWorkspace(ws)); err != nil {
				t.Errorf("Build(%q) in %q: %v", c, ws, err)
			}
		}
	}
}

// A link inside a component keeps the component's rule: it may point
// anywhere inside the component, not elsewhere in the checkout.
func TestWorkspaceKeepsTheComponentRuleForInnerLinks(t *testing.T) {
	t.Parallel()
	repo, _ := hostileCheckout(t)
	if err := os.Symlink("../../shared/kustomization.yaml", filepath.Join(repo, "components", "good", "peer.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err := Build(filepath.Join(repo, "components", "good"), WithWorkspace(repo))
	if !errors.Is(err, ErrSymlinkEscapes) || !strings.Contains(err.Error(), `"peer.yaml"`) {
		t.Errorf("Build = %v, want ErrSymlinkEscapes naming peer.yaml", err)
	}
}

// A file swapped for a link to outside between the walk's check and the
// read (a concurrent process racing the build) is not read: the read goes
// through a handle that the kernel confines to the root.
func TestSwappedFileIsNotReadOutsideTheRoot(t *testing.T) {
	t.Parallel()
	repo, outside := hostileCheckout(t)
	comp := filepath.Join(repo, "components", "good")
	victim := filepath.Join(comp, "kustomization.yaml")
	swap := func(real string) {
		if real != victim {
			return
		}
		if err := os.Remove(victim); err != nil {
			t.Error(err)
		}
		if err := os.Symlink(filepath.Join("..", "..", "..", "outside", "secret.env"), victim); err != nil {
			t.Error(err)
		}
	}
	for _, opts := range [][]Option{{withHook(swap)}, {withHook(swap), WithWorkspace(repo)}} {
		l, err := Build(comp, opts...)
		if err == nil {
			t.Fatalf("Build = %v, want an error", files(l))
		}
		if l != nil && bytes.Contains(l.Compressed, []byte("hunter2")) {
			t.Fatal("the secret from outside was packed")
		}
		// Restore for the next round.
		os.Remove(victim)
		writeTree(t, comp, map[string]entry{"kustomization.yaml": {Data: "resources: []\n"}}, nil)
	}
	_ = outside
}

// The component folder swapped for a link out after it was resolved: the
// folder is opened through the checkout's handle, which refuses it.
func TestSwappedRootIsNotOpenedOutsideTheWorkspace(t *testing.T) {
	t.Parallel()
	repo, outside := hostileCheckout(t)
	comp := filepath.Join(repo, "components", "good")
	swap := func(real string) {
		if real != "" {
			return
		}
		if err := os.RemoveAll(comp); err != nil {
			t.Error(err)
		}
		if err := os.Symlink(outside, comp); err != nil {
			t.Error(err)
		}
	}
	l, err := Build(comp, WithWorkspace(repo), withHook(swap))
	if !errors.Is(err, ErrOutsideWorkspace) {
		t.Fatalf("Build = %v, %v; want ErrOutsideWorkspace", files(l), err)
	}
}

func files(l *Layer) []string {
	if l == nil {
		return nil
	}
	return names(l.Files)
}

// layoutTree is a checkout after one run of "publish --path ./": its dist/
// holds the OCI layout that run wrote.
func layoutTree() map[string]entry {
	tree := component()
	tree["dist/oci-layout"] = entry{Data: `{"imageLayoutVersion":"1.0.0"}`}
	tree["dist/index.json"] = entry{Data: `{"schemaVersion":2,"manifests":[]}`}
	tree["dist/blobs/sha256/abcd"] = entry{Data: "blob"}
	return tree
}

func TestLayoutDirIsNeverPacked(t *testing.T) {
	t.Parallel()
	clean := t.TempDir()
	writeTree(t, clean, component(), nil)
	want := mustBuild(t, clean)

	dir := t.TempDir()
	writeTree(t, dir, layoutTree(), nil)
	for _, layout := range []string{filepath.Join(dir, "dist"), filepath.Join(dir, "base", "..", "dist")} {
		got := mustBuild(t, dir, WithLayoutDir(layout), WithWorkspace(dir))
		if got.Digest != want.Digest {
			t.Errorf("WithLayoutDir(%q): entries %v, want the checkout without its layout folder", layout, names(got.Files))
		}
	}
	// Reached through a link, the layout folder is still recognised.
	alias := filepath.Join(t.TempDir(), "out")
	if err := os.Symlink(filepath.Join(dir, "dist"), alias); err != nil {
		t.Fatal(err)
	}
	if got := mustBuild(t, dir, WithLayoutDir(alias)); got.Digest != want.Digest {
		t.Errorf("layout through a link: entries %v", names(got.Files))
	}
	// Pushing to a registry, a folder named dist is content like any other.
	if got := mustBuild(t, dir, WithLayoutDir("")); !contains(names(got.Files), "dist/oci-layout") {
		t.Errorf("WithLayoutDir(\"\"): entries %v, want dist/ packed", names(got.Files))
	}
	// A layout folder elsewhere leaves dist/ alone.
	if got := mustBuild(t, dir, WithLayoutDir(t.TempDir())); !contains(names(got.Files), "dist/oci-layout") {
		t.Errorf("layout elsewhere: entries %v, want dist/ packed", names(got.Files))
	}
}

// Without WithLayoutDir, the default layout folder (dist, relative to the
// working directory) is left out when it holds an OCI layout, and kept when
// it is a folder of the user's own. Not parallel: it changes directory.
func TestDefaultLayoutDir(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, layoutTree(), nil)
	writeTree(t, dir, map[string]entry{"sub/dist/install.yaml": {Data: "kind: List\n"}}, nil)
	t.Chdir(dir)
	got := mustBuild(t, ".")
	if contains(names(got.Files), "dist") {
		t.Errorf("entries %v: the default layout folder was packed", names(got.Files))
	}
	if !contains(names(got.Files), "sub/dist/install.yaml") {
		t.Errorf("entries %v: a dist folder that is not the layout was left out", names(got.Files))
	}
	// The user's own dist/ with manifests, not a layout, is packed.
	if err := os.Remove(filepath.Join(dir, "dist", "oci-layout")); err != nil {
		t.Fatal(err)
	}
	if got := mustBuild(t, "."); !contains(names(got.Files), "dist/index.json") {
		t.Errorf("entries %v: the user's dist/ was left out", names(got.Files))
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestPublishTwiceGivesTheSameLayer is the reported failure: the second
// "publish --path ./" with the default layout folder packed the first run's
// output, so its digest differed and the release looked like new content.
func TestPublishTwiceGivesTheSameLayer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, component(), nil)
	layout := filepath.Join(dir, DefaultLayoutDir)
	first := mustBuild(t, dir, WithLayoutDir(layout), WithWorkspace(dir))
	writeTree(t, layout, map[string]entry{"oci-layout": {Data: "{}"}, "blobs/sha256/" + first.Digest.Hex: {Data: string(first.Compressed)}}, nil)
	second := mustBuild(t, dir, WithLayoutDir(layout), WithWorkspace(dir))
	if diff := cmp.Diff(names(first.Files), names(second.Files)); diff != "" || first.Digest != second.Digest {
		t.Errorf("second build differs (-first +second):\n%s", diff)
	}
}
