package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fluxReference builds a layer the way Flux 2.9's "flux push artifact"
// builder does (fluxcd/pkg oci Build), step by step: filepath.Walk over the
// absolute source dir, skip what is neither a regular file nor a directory,
// skip what the ignore filter says, header from tar.FileInfoHeader with the
// name replaced by the path relative to the source dir, owners and times
// zeroed, content copied from the file, gzip at the default level. It is
// kept independent of Build's code on purpose.
func fluxReference(t testing.TB, sourceDir string, ignored func(rel string, isDir bool) bool) []byte {
	t.Helper()
	abs, err := filepath.Abs(sourceDir)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gw)
	err = filepath.Walk(abs, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if m := fi.Mode(); !(m.IsRegular() || m.IsDir()) {
			return nil
		}
		rel, err := filepath.Rel(abs, p)
		if err != nil {
			return err
		}
		if rel != "." && ignored(filepath.ToSlash(rel), fi.IsDir()) {
			return nil
		}
		header, err := tar.FileInfoHeader(fi, p)
		if err != nil {
			return err
		}
		header.Name = rel
		header.Gid = 0
		header.Uid = 0
		header.Uname = ""
		header.Gname = ""
		header.ModTime = time.Time{}
		header.AccessTime = time.Time{}
		header.ChangeTime = time.Time{}
		if err := tw.WriteHeader(header); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fluxTree is a checkout with 0644 files and 0755 directories holding what
// the defaults ignore, names that sort differently as paths and as walk
// order, a path too long for a plain USTAR name, non-ASCII names, an empty
// file, an empty directory and an executable.
func fluxTree() map[string]entry {
	long := strings.Repeat("d", 60) + "/" + strings.Repeat("e", 60) + "/" + strings.Repeat("f", 90) + ".yaml"
	tree := component()
	for p, e := range map[string]entry{
		".git/HEAD":                   {Data: "ref: refs/heads/main\n"},
		".git/objects/ab/cdef":        {Data: "blob"},
		".gitignore":                  {Data: "*.tmp\n"},
		".gitattributes":              {Data: "* text=auto\n"},
		"logo.png":                    {Data: "\x89PNG"},
		"charts/podinfo-6.0.0.tar.gz": {Data: "gz"},
		"docs/bundle.zip":             {Data: "PK"},
		"a":                           {Data: "file a"},
		"a.b/x.yaml":                  {Data: "x: 1\n"},
		"a-b/y.yaml":                  {Data: "y: 2\n"},
		"a0":                          {Data: ""},
		"B/upper.yaml":                {Data: "upper: true\n"},
		"empty/":                      {},
		"scripts/run.sh":              {Data: "#!/bin/sh\necho hi\n", Mode: 0o755},
		"ünïcode/日本.yaml":             {Data: "k: v\n"},
		long:                          {Data: strings.Repeat("z", 1000)},
		"big.yaml":                    {Data: strings.Repeat("line of yaml: value\n", 5000)},
	} {
		tree[p] = e
	}
	return tree
}

// fluxIgnored is what Flux's default ignore list leaves out of fluxTree,
// written out by hand from Flux's matcher rules.
var fluxIgnored = map[string]bool{
	".git": true, ".git/HEAD": true, ".git/objects": true, ".git/objects/ab": true, ".git/objects/ab/cdef": true,
	".gitignore": true, ".gitattributes": true, "logo.png": true,
	"charts/podinfo-6.0.0.tar.gz": true, "docs/bundle.zip": true,
}

func TestBuildMatchesFluxByteForByte(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, fluxTree(), nil)
	chmodDirs(t, dir, 0o755)

	want := fluxReference(t, dir, func(rel string, _ bool) bool { return fluxIgnored[rel] })
	got := mustBuild(t, dir)

	if !bytes.Equal(got.Compressed, want) {
		t.Fatalf("layer differs from Flux's builder (got %d bytes, want %d)\n%s", len(got.Compressed), len(want),
			cmp.Diff(names(entriesToFiles(readLayer(t, want))), names(got.Files)))
	}
	sum := sha256.Sum256(want)
	if got, want := got.Digest.String(), "sha256:"+hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Digest = %s, want %s", got, want)
	}
	if got.Size != int64(len(want)) {
		t.Errorf("Size = %d, want %d", got.Size, len(want))
	}
	zr, err := gzip.NewReader(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	diff := sha256.Sum256(raw)
	if got, want := got.DiffID.Hex, hex.EncodeToString(diff[:]); got != want {
		t.Errorf("DiffID = %s, want %s", got, want)
	}
}

func entriesToFiles(es []tarEntry) []File {
	out := make([]File, len(es))
	for i, e := range es {
		out[i] = File{Path: e.Name, Dir: e.Type == tar.TypeDir, Mode: e.Mode, Data: []byte(e.Data)}
	}
	return out
}

func TestLayerFormat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, fluxTree(), nil)
	l := mustBuild(t, dir)

	// gzip: magic, deflate, no flags, mtime 0, no extra flags, OS unknown.
	if got, want := hex.EncodeToString(l.Compressed[:10]), "1f8b08000000000000ff"; got != want {
		t.Errorf("gzip header = %s, want %s", got, want)
	}

	entries := readLayer(t, l.Compressed)
	var gotNames []string
	for _, e := range entries {
		gotNames = append(gotNames, e.Name)
		h := e.Hdr
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%q: owner %d:%d %q:%q, want 0:0 and empty names", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if h.ModTime.Unix() != 0 || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%q: times %v %v %v, want mtime 0 and no atime/ctime", h.Name, h.ModTime, h.AccessTime, h.ChangeTime)
		}
		if h.Typeflag != tar.TypeDir && h.Typeflag != tar.TypeReg {
			t.Errorf("%q: type %q, want only directories and regular files", h.Name, h.Typeflag)
		}
		if strings.HasPrefix(h.Name, "./") || (h.Name != "." && strings.HasSuffix(h.Name, "/")) {
			t.Errorf("%q: want no ./ prefix and no trailing /", h.Name)
		}
		wantMode := int64(0o644)
		if h.Typeflag == tar.TypeDir || h.Name == "scripts/run.sh" {
			wantMode = 0o755
		}
		if h.Mode != wantMode {
			t.Errorf("%q: mode %o, want %o", h.Name, h.Mode, wantMode)
		}
		if h.Name == "base/kustomization.yaml" && h.Format != tar.FormatUSTAR {
			t.Errorf("%q: format %v, want USTAR", h.Name, h.Format)
		}
	}
	// filepath.Walk order: names sorted byte-wise within each directory,
	// depth first ("a.b/x.yaml" before "a0", after "a-b/y.yaml").
	wantPrefix := []string{".", "B", "B/upper.yaml", "a", "a-b", "a-b/y.yaml", "a.b", "a.b/x.yaml", "a0", "base", "base/kustomization.yaml", "base/release.yaml", "big.yaml", "charts", "dddd"}
	if diff := cmp.Diff(wantPrefix, trimTo(gotNames, len(wantPrefix))); diff != "" {
		t.Errorf("entry order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(gotNames, names(l.Files)); diff != "" {
		t.Errorf("Files differ from the tar entries (-tar +Files):\n%s", diff)
	}
	for _, n := range gotNames {
		if fluxIgnored[n] {
			t.Errorf("%q is in the layer, the defaults ignore it", n)
		}
	}
}

func trimTo(ss []string, n int) []string {
	out := make([]string, 0, n)
	for i, s := range ss {
		if i == n {
			break
		}
		if len(s) > 4 && strings.Count(s, "d") == len(s) {
			s = s[:4]
		}
		out = append(out, s)
	}
	return out
}
