package checkout

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
)

// mapFS builds a MapFS; a value starting with "->" is a symlink to the rest.
func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for p, data := range files {
		if t, ok := strings.CutPrefix(data, "->"); ok {
			m[p] = &fstest.MapFile{Mode: fs.ModeSymlink, Data: []byte(t)}
			continue
		}
		m[p] = &fstest.MapFile{Data: []byte(data)}
	}
	return m
}

var fixture = map[string]string{
	".git/config":   "token",
	"a/b/file.yaml": "x",
	"a/up":          "->..",
	"l1":            "->a/b",
	"abs":           "->/root/a/b/file.yaml",
	"absout":        "->/etc/passwd",
	"absclimb":      "->/root/../etc",
	"loop1":         "->loop2",
	"loop2":         "->loop1",
	"g1":            "->g2",
	"g2":            "->.git/config",
	"upper":         "->.Git/config",
	"skip/x":        "->../l1/file.yaml",
	"ign.png":       "->a/b/file.yaml",
	"toign":         "->ign.png",
	"dangling":      "->nothing",
	"a/b/f2":        "->file.yaml/x",
}

func TestResolve(t *testing.T) {
	t.Parallel()
	fsys := mapFS(fixture)
	ignored := func(p string, dir bool) string {
		if strings.HasSuffix(p, ".png") {
			return `"*.png"`
		}
		return ""
	}
	tests := []struct {
		in, want string
		dir      bool
		links    int
		err      error
		msg      string
	}{
		{in: ".", want: ".", dir: true},
		{in: "l1", want: "a/b", dir: true, links: 1},
		{in: "l1/file.yaml", want: "a/b/file.yaml", links: 1},
		{in: "l1/../b", want: "a/b", dir: true, links: 1},
		{in: "a/up/l1/file.yaml", want: "a/b/file.yaml", links: 2},
		{in: "abs", want: "a/b/file.yaml", links: 1},
		{in: "skip/x", want: "a/b/file.yaml", links: 2},
		{in: "absout", err: ErrOutside, msg: `symlink "absout" points to the absolute path "/etc/passwd", outside the checkout`},
		{in: "absclimb", err: ErrOutside},
		{in: "a/up/..", err: ErrOutside, msg: `symlink "a/up" points to "..", outside the checkout`},
		{in: "..", err: ErrOutside, msg: `".." climbs above the checkout`},
		{in: "loop1", err: ErrLoop, msg: "more than 40 symlinks"},
		{in: ".git/config", err: ErrGit, msg: `".git/config", inside a .git folder (".git/config")`},
		{in: "g1", err: ErrGit, msg: `symlink "g1" points to "g2", and symlink "g2" points to ".git/config", inside a .git folder`},
		{in: "upper", err: ErrGit},
		{in: "a/.GIT", err: ErrGit},
		{in: "toign", err: ErrIgnored, msg: `symlink "toign" points to "ign.png", and symlink "ign.png" points to "a/b/file.yaml", and "ign.png" is left out of the checkout by the ignore rule "*.png"`},
		{in: "ign.png", want: "a/b/file.yaml", links: 1}, // the first link is the caller's to judge
		{in: "dangling", err: fs.ErrNotExist, msg: `symlink "dangling" points to "nothing", which does not exist`},
		{in: "missing/x", err: fs.ErrNotExist},
		{in: "a/b/f2", err: syscall.ENOTDIR, msg: `symlink "a/b/f2" points to "file.yaml/x"`},
	}
	for _, tt := range tests {
		got, err := Resolve(fsys, tt.in, Options{Root: "/root", Ignored: ignored})
		if tt.err != nil {
			if !errors.Is(err, tt.err) || !strings.Contains(errString(err), tt.msg) {
				t.Errorf("Resolve(%q) = %+v, %v; want %v saying %q", tt.in, got, err, tt.err, tt.msg)
			}
			continue
		}
		if err != nil || got.Path != tt.want || got.Dir != tt.dir || len(got.Links) != tt.links {
			t.Errorf("Resolve(%q) = %+v, %v; want %q dir %v with %d links", tt.in, got, err, tt.want, tt.dir, tt.links)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestRealPath(t *testing.T) {
	t.Parallel()
	top, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"x/y", "dist"} {
		if err := os.MkdirAll(filepath.Join(top, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// link -> x/y: "link/.." is x, not top, though its text says so.
	if err := os.Symlink("x/y", filepath.Join(top, "link")); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, want string }{
		{top + "/dist", top + "/dist"},
		{top + "/./dist/", top + "/dist"},
		{top + "/x/../dist", top + "/dist"},
		{top + "/link/../dist2", top + "/x/dist2"},
		{top + "/link/new/../out", top + "/x/y/out"},
		{top + "/missing/../dist", top + "/dist"},
		{top + "/link", top + "/x/y"},
	}
	for _, tt := range tests {
		if got, err := RealPath(tt.in); err != nil || got != tt.want {
			t.Errorf("RealPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if !Within(top, top+"/x") || !Within(top, top) || Within(top+"/x", top) || Within(top+"/x", top+"/xy") {
		t.Error("Within is wrong")
	}
}

// FuzzResolve: whatever the links say, a resolved path stays inside the
// root, holds no "..", and never names a .git folder.
func FuzzResolve(f *testing.F) {
	f.Add("l1/../a/b/file.yaml", "../a", "a/up/.GIT")
	f.Add("x", "/root/a", ".git")
	f.Add("x/y/z", "x/../../..", "a/b")
	f.Fuzz(func(t *testing.T, p, t1, t2 string) {
		files := map[string]string{}
		for k, v := range fixture {
			files[k] = v
		}
		files["x"] = "->" + t1
		files["a/y"] = "->" + t2
		fsys := mapFS(files)
		got, err := Resolve(fsys, p, Options{Root: "/root"})
		if err != nil {
			return
		}
		for _, seg := range strings.Split(got.Path, "/") {
			if seg == ".." || seg == "" || IsGitName(seg) {
				t.Fatalf("Resolve(%q) = %q", p, got.Path)
			}
		}
		if len(got.Links) > MaxLinks {
			t.Fatalf("Resolve(%q) followed %d links", p, len(got.Links))
		}
	})
}
