package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// entry describes one thing to create in a test tree. A path ending in "/"
// is a directory; Link makes a symlink with that target.
type entry struct {
	Data string
	Mode os.FileMode // 0 means 0644 for files, 0755 for directories
	Link string
}

// writeTree creates the entries under dir in the order given by order (or
// sorted when nil), with exact modes whatever the umask.
func writeTree(t testing.TB, dir string, tree map[string]entry, order []string) {
	t.Helper()
	if order == nil {
		for p := range tree {
			order = append(order, p)
		}
		sort.Strings(order)
	}
	for _, p := range order {
		e := tree[p]
		full := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(p, "/")))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case e.Link != "":
			if err := os.Symlink(e.Link, full); err != nil {
				t.Fatal(err)
			}
			continue
		case strings.HasSuffix(p, "/"):
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			mode := e.Mode
			if mode == 0 {
				mode = 0o755
			}
			if err := os.Chmod(full, mode); err != nil {
				t.Fatal(err)
			}
		default:
			mode := e.Mode
			if mode == 0 {
				mode = 0o644
			}
			if err := os.WriteFile(full, []byte(e.Data), mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(full, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// chmodDirs sets every directory under dir (dir included) to mode; parents
// made by MkdirAll get the umask's mode otherwise.
func chmodDirs(t testing.TB, dir string, mode os.FileMode) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return os.Chmod(p, mode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

type tarEntry struct {
	Name  string
	Type  byte
	Mode  int64
	Data  string
	Hdr   *tar.Header
	Bytes int // header position in the stream, for debugging
}

// readLayer decompresses and lists a layer.
func readLayer(t testing.TB, compressed []byte) []tarEntry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []tarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{Name: h.Name, Type: h.Typeflag, Mode: h.Mode, Data: string(data), Hdr: h})
	}
	return out
}

func names(files []File) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}

func mustBuild(t testing.TB, dir string, opts ...Option) *Layer {
	t.Helper()
	l, err := Build(dir, opts...)
	if err != nil {
		t.Fatalf("Build(%q): %v", dir, err)
	}
	return l
}

// component is a small d2-apps-style component.
func component() map[string]entry {
	return map[string]entry{
		"base/kustomization.yaml":       {Data: "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - release.yaml\n"},
		"base/release.yaml":             {Data: "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n"},
		"staging/kustomization.yaml":    {Data: "resources:\n  - ../base\npatches:\n  - path: values.yaml\n"},
		"staging/values.yaml":           {Data: "replicas: 1\n"},
		"production/kustomization.yaml": {Data: "resources:\n  - ../base\n"},
	}
}
