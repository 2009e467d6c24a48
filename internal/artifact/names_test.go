package artifact

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

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

// TestNamesFluxAccepts: every name Flux's builder packs and its untar
// unpacks is packed, byte for byte as Flux packs it: leading and trailing
// spaces, only spaces, letters beyond ASCII, control characters, names
// that look like options or globs.
func TestNamesFluxAccepts(t *testing.T) {
	t.Parallel()
	tree := map[string]entry{}
	accepted := []string{" cm.yaml", "cm.yaml ", "   ", " lead dir/ x.yaml", "trail dir /a.yaml", "ünï cødé ☃.yaml",
		"ctl\x01\x7f.yaml", "-rf.yaml", "[x].yaml", "a..b.yaml", "..dots", "file..", "#hash.yaml", "new\nline.yaml", "crlf\r.yaml"}
	for _, n := range accepted {
		tree[n] = entry{Data: "kind: ConfigMap\n"}
	}
	dir := t.TempDir()
	writeTree(t, dir, tree, nil)
	chmodDirs(t, dir, 0o755)
	l := mustBuild(t, dir)
	for _, want := range accepted {
		if !contains(names(l.Files), want) {
			t.Errorf("%q is not in the layer: %q", want, names(l.Files))
		}
	}
	ref := fluxReference(t, dir, func(string, bool) bool { return false })
	if !bytes.Equal(l.Compressed, ref) {
		t.Fatalf("layer differs from Flux's builder:\n%s", cmp.Diff(names(entriesToFiles(readLayer(t, ref))), names(l.Files)))
	}
	for _, f := range l.Files {
		if !f.Dir {
			if _, err := fs.ReadFile(l.FS(), f.Path); err != nil {
				t.Errorf("reading %q through FS: %v", f.Path, err)
			}
		}
	}
}

// TestNamesFluxRefuses: the only names refused are those a Flux artifact
// cannot carry: source-controller's untar fails the whole artifact on a
// backslash or a "../" in a path, and names that are not UTF-8 have no
// PAX form and cannot be opened for validation. Each error names the file
// and says what to do; ignoring the file lets the build pass.
func TestNamesFluxRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, want string
	}{
		{"backslash", `back\slash.yaml`, "backslash"},
		{"backslash folder", `win\dir/a.yaml`, "backslash"},
		{"folder ending in ..", "up../a.yaml", `"../"`},
		{"folder named ...", ".../a.yaml", `"../"`},
		{"not UTF-8", "caf\xe9.yaml", "not valid UTF-8"},
		{"link not UTF-8", "link\xff.yaml", "not valid UTF-8"},
		{"link with a backslash", `link\here.yaml`, "backslash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			e := entry{Data: "a: 1\n"}
			if strings.HasPrefix(tt.file, "link") {
				e = entry{Link: "ok.yaml"}
			}
			writeTree(t, dir, map[string]entry{"ok.yaml": {Data: "a: 1\n"}, tt.file: e}, nil)
			l, err := Build(dir)
			if !errors.Is(err, ErrName) {
				t.Fatalf("Build = %v, %v; want ErrName", files(l), err)
			}
			for _, want := range []string{tt.want, "rename", "ignore-paths"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if !utf8.ValidString(err.Error()) {
				t.Errorf("error %q is not UTF-8", err)
			}
			// Left out, it is no error.
			top := strings.SplitN(tt.file, "/", 2)[0]
			if _, err := Build(dir, WithIgnore("/"+globEscape(top))); err != nil {
				t.Errorf("Build ignoring %q: %v", top, err)
			}
		})
	}
}

// globEscape quotes the glob characters of a name for an ignore pattern.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ { // bytes: a name need not be UTF-8
		if strings.IndexByte(`*?[\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
