package artifact

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzBuild creates a tree described by spec, one entry a line:
//
//	f path=content   a 0644 file
//	x path=content   a 0755 file
//	d path           a directory
//	l path>target    a symlink
//
// and checks that Build does not panic, is deterministic, lists exactly what
// it writes, gives a walkable FS and, without symlinks, writes the same bytes
// as Flux's algorithm with the same ignore patterns.
func FuzzBuild(f *testing.F) {
	f.Add("f base/kustomization.yaml=resources: []\nd staging\nf a.b/c=1\nf a/b=2\nf a-b=3", "")
	f.Add("f ünïcode/日本語/ファイル.yaml=x\nf sp ace/ta\tb=y\nf new\\line=z", "*.md")
	f.Add("f "+strings.Repeat("deep/", 60)+"leaf=1", "")
	f.Add("f "+strings.Repeat("n", 200)+"/"+strings.Repeat("m", 200)+"=long", "")
	f.Add("f tmp/keep.yaml=k\nf tmp/drop.yaml=d\nf logo.png=p", "tmp/\n!tmp/keep.yaml\n!*.png")
	f.Add("f a/x=1\nl b>a\nl a/loop>..\nl c>/etc/passwd", "")
	f.Add("x run.sh=#!/bin/sh\nf .git/HEAD=ref\nd .git/objects", "**/x\na/**/b\n[\n\\!x")
	f.Add("f sub/.git/config=token\nf .git=gitdir: x\nf  lead.yaml=1\nf trail.yaml =2", "!.git/\n!**/.git/**")
	f.Add("f a/x=1\nl cfg>.git/config\nf .git/config=t\nl p>a\nf b\\c=1", "")
	f.Fuzz(func(t *testing.T, spec, patterns string) {
		dir := t.TempDir()
		hasLinks := createSpec(t, dir, spec)
		opts := []Option{WithIgnore(patterns), WithLimits(Limits{MaxFiles: 2000, MaxBytes: 1 << 20})}

		l1, err1 := Build(dir, opts...)
		l2, err2 := Build(dir, opts...)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("non-deterministic outcome: %v then %v", err1, err2)
		}
		if err1 != nil {
			if err1.Error() != err2.Error() {
				t.Fatalf("non-deterministic error: %q then %q", err1, err2)
			}
			return
		}
		if l1.Digest != l2.Digest || !bytes.Equal(l1.Compressed, l2.Compressed) {
			t.Fatalf("non-deterministic layer: %s then %s", l1.Digest, l2.Digest)
		}
		var tarNames []string
		for _, e := range readLayer(t, l1.Compressed) {
			tarNames = append(tarNames, e.Name)
		}
		if diff := cmp.Diff(tarNames, names(l1.Files)); diff != "" {
			t.Fatalf("Files differ from the tar (-tar +Files):\n%s", diff)
		}
		if err := fs.WalkDir(l1.FS(), ".", func(string, fs.DirEntry, error) error { return nil }); err != nil {
			t.Fatalf("walking FS: %v", err)
		}
		if !hasLinks {
			m := newMatcher(append(append([]string(nil), DefaultIgnore...), patterns))
			// Flux's algorithm, but a .git folder is never packed, whatever the patterns say.
			ignored := func(rel string, isDir bool) bool { return m.ignored(rel, isDir) || inGitDir(rel, isDir) }
			if ref := fluxReference(t, dir, ignored); !bytes.Equal(ref, l1.Compressed) {
				t.Fatalf("layer differs from Flux's algorithm")
			}
		}
	})
}

// inGitDir reports whether rel is a folder named .git or lies inside one.
func inGitDir(rel string, isDir bool) bool {
	segs := strings.Split(rel, "/")
	for i, s := range segs {
		if s == ".git" && (i < len(segs)-1 || isDir) {
			return true
		}
	}
	return false
}

// createSpec makes what it can of spec under dir; entries the file system
// refuses are skipped. It reports whether a symlink was made.
func createSpec(t *testing.T, dir, spec string) (links bool) {
	t.Helper()
	lines := strings.Split(spec, "\n")
	if len(lines) > 64 {
		lines = lines[:64]
	}
	for _, line := range lines {
		if len(line) < 3 || line[1] != ' ' {
			continue
		}
		kind, rest := line[0], line[2:]
		var arg string
		switch kind {
		case 'f', 'x':
			rest, arg, _ = strings.Cut(rest, "=")
		case 'l':
			rest, arg, _ = strings.Cut(rest, ">")
		}
		rel := cleanSpecPath(rest)
		if rel == "" {
			continue
		}
		full := filepath.Join(dir, filepath.FromSlash(rel))
		if os.MkdirAll(filepath.Dir(full), 0o755) != nil {
			continue
		}
		switch kind {
		case 'f', 'x':
			mode := os.FileMode(0o644)
			if kind == 'x' {
				mode = 0o755
			}
			if os.WriteFile(full, []byte(arg), mode) == nil {
				_ = os.Chmod(full, mode)
			}
		case 'd':
			_ = os.MkdirAll(full, 0o755)
		case 'l':
			if arg != "" && !strings.ContainsRune(arg, 0) && os.Symlink(arg, full) == nil {
				links = true
			}
		}
	}
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return links
}

// cleanSpecPath keeps a relative path inside the tree: no empty, "." or ".."
// segments, no NUL, segments of at most 255 bytes, at most 64 segments.
func cleanSpecPath(p string) string {
	var segs []string
	for _, s := range strings.Split(strings.ReplaceAll(p, "\x00", ""), "/") {
		if s == "" || s == "." || s == ".." {
			continue
		}
		if len(s) > 255 {
			s = s[:255]
		}
		segs = append(segs, s)
		if len(segs) == 64 {
			break
		}
	}
	return strings.Join(segs, "/")
}
