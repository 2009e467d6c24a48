package artifact

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSymlinksInsideAreFollowed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]entry{
		"base/kustomization.yaml": {Data: "resources: [a.yaml]\n"},
		"base/a.yaml":             {Data: "a: 1\n"},
		"shared/common.yaml":      {Data: "common: true\n"},
		"staging/common.yaml":     {Link: "../shared/common.yaml"},
		"staging/base":            {Link: "../base"},
		"prod":                    {Link: "staging"},
	}, nil)
	chmodDirs(t, dir, 0o755)
	l := mustBuild(t, dir)

	want := []string{".", "base", "base/a.yaml", "base/kustomization.yaml",
		"prod", "prod/base", "prod/base/a.yaml", "prod/base/kustomization.yaml", "prod/common.yaml",
		"shared", "shared/common.yaml",
		"staging", "staging/base", "staging/base/a.yaml", "staging/base/kustomization.yaml", "staging/common.yaml"}
	if diff := cmp.Diff(want, names(l.Files)); diff != "" {
		t.Fatalf("entries (-want +got):\n%s", diff)
	}
	for _, e := range readLayer(t, l.Compressed) {
		if e.Name == "staging/common.yaml" && (e.Type != '0' || e.Data != "common: true\n" || e.Mode != 0o644) {
			t.Errorf("staging/common.yaml: type %q mode %o data %q, want the target's content as a regular 0644 file", e.Type, e.Mode, e.Data)
		}
		if e.Name == "staging/base" && (e.Type != '5' || e.Mode != 0o755) {
			t.Errorf("staging/base: type %q mode %o, want a 0755 directory", e.Type, e.Mode)
		}
	}

	// The same content without links gives the same layer as the links do.
	plain := t.TempDir()
	tree := map[string]entry{}
	for _, f := range l.Files {
		if f.Path == "." {
			continue
		}
		if f.Dir {
			tree[f.Path+"/"] = entry{}
		} else {
			tree[f.Path] = entry{Data: string(f.Data)}
		}
	}
	writeTree(t, plain, tree, nil)
	chmodDirs(t, plain, 0o755)
	if got := mustBuild(t, plain); got.Digest != l.Digest {
		t.Errorf("copy without links: Digest %s, want %s", got.Digest, l.Digest)
	}
}

func TestSymlinkErrors(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		tree    map[string]entry
		wantIs  error
		wantMsg string
	}{
		{"file outside", map[string]entry{"base/leak.yaml": {Link: filepath.Join(outside, "secret.yaml")}}, ErrSymlinkEscapes, `"base/leak.yaml"`},
		{"dir outside by ..", map[string]entry{"base/up": {Link: "../.."}}, ErrSymlinkEscapes, `"base/up"`},
		{"dir outside absolute", map[string]entry{"ext": {Link: outside}}, ErrSymlinkEscapes, `"ext"`},
		{"loop to root", map[string]entry{"a/b/root": {Link: "../.."}}, ErrSymlinkLoop, `"a/b/root"`},
		{"loop to self dir", map[string]entry{"a/self": {Link: "."}}, ErrSymlinkLoop, `"a/self"`},
		{"link chain cycle", map[string]entry{"x": {Link: "y"}, "y": {Link: "x"}}, ErrSymlinkLoop, `"x"`},
		{"dangling", map[string]entry{"base/gone.yaml": {Link: "nothing-here.yaml"}}, os.ErrNotExist, `"base/gone.yaml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, tt.tree, nil)
			_, err := Build(dir)
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not wrap %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not name the link %s", err, tt.wantMsg)
			}
		})
	}
}

func TestIgnoredSymlinkIsNotResolved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]entry{
		"a.yaml":    {Data: "a: 1\n"},
		"logo.png":  {Link: "/nonexistent/logo.png"},
		"build/out": {Link: "/"},
	}, nil)
	l := mustBuild(t, dir, WithIgnore("build/"))
	if diff := cmp.Diff([]string{".", "a.yaml"}, names(l.Files)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

func TestRootMayBeASymlink(t *testing.T) {
	t.Parallel()
	real := t.TempDir()
	writeTree(t, real, component(), nil)
	link := filepath.Join(t.TempDir(), "component")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if got, want := mustBuild(t, link).Digest, mustBuild(t, real).Digest; got != want {
		t.Errorf("through a link: %s, direct: %s", got, want)
	}
}

// Links that fan out below an ignored directory would multiply the walk
// without adding entries (so without meeting Limits.MaxFiles); the walk
// does not follow links into ignored directories.
func TestIgnoredSymlinkFanOutIsNotWalked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tree := map[string]entry{"keep.yaml": {Data: "k"}}
	const levels = 40 // 2^40 paths if followed
	for i := range levels {
		tree[fmt.Sprintf("tmp/d%d/x", i)] = entry{Link: fmt.Sprintf("../d%d", i+1)}
		tree[fmt.Sprintf("tmp/d%d/y", i)] = entry{Link: fmt.Sprintf("../d%d", i+1)}
	}
	tree[fmt.Sprintf("tmp/d%d/", levels)] = entry{}
	writeTree(t, dir, tree, nil)
	l := mustBuild(t, dir, WithIgnore("tmp/", "!keep.yaml"))
	if diff := cmp.Diff([]string{".", "keep.yaml"}, names(l.Files)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	// Not ignored, the same fan-out meets the entry limit.
	if _, err := Build(dir, WithLimits(Limits{MaxFiles: 500})); !errors.Is(err, ErrLimit) {
		t.Errorf("Build without ignores = %v, want ErrLimit", err)
	}
}
