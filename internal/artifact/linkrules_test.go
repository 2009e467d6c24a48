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

// gitCheckout is a checkout after actions/checkout: .git/config holds the
// job's token, as the extraheader actions/checkout writes.
func gitCheckout() map[string]entry {
	return map[string]entry{
		".git/config":            {Data: "[http]\n\textraheader = AUTHORIZATION: basic c2VjcmV0LXRva2Vu\n"},
		".git/HEAD":              {Data: "ref: refs/heads/main\n"},
		"app/kustomization.yaml": {Data: "resources: [cm.yaml]\n"},
		"app/cm.yaml":            {Data: "kind: ConfigMap\n"},
		"sub/.git/config":        {Data: "[http]\n\textraheader = AUTHORIZATION: basic bmVzdGVkLXRva2Vu\n"},
		"sub/kustomization.yaml": {Data: "resources: []\n"},
		"private/key.yaml":       {Data: "secret: private-key\n"},
		"private/keep.yaml":      {Data: "kind: ConfigMap\n"},
		"logo.png":               {Data: "png-bytes-secret"},
		"notes/secret.yaml":      {Data: "secret: anchored-secret\n"},
		"notes/readme.yaml":      {Data: "kind: ConfigMap\n"},
		"deep/a/b/c/values.yaml": {Data: "v: 1\n"},
		"CaseDir/.GIT/config":    {Data: "[http]\n\textraheader = AUTHORIZATION: basic Y2FzZS10b2tlbg==\n"},
		"CaseDir/values.yaml":    {Data: "v: 2\n"},
	}
}

// gitTokens are what no layer may ever hold, with the content of the file
// every build leaves out by a Flux default.
var gitTokens = []string{"c2VjcmV0LXRva2Vu", "bmVzdGVkLXRva2Vu", "png-bytes-secret"}

func assertNoSecret(t *testing.T, l *Layer, more ...string) {
	t.Helper()
	if l == nil {
		return
	}
	for _, s := range append(more, gitTokens...) {
		if bytes.Contains(l.Compressed, []byte(s)) || bytes.Contains(flatten(l), []byte(s)) {
			t.Errorf("the layer holds %q: %v", s, names(l.Files))
		}
	}
}

func flatten(l *Layer) []byte {
	var b bytes.Buffer
	for _, f := range l.Files {
		b.Write(f.Data)
	}
	return b.Bytes()
}

// Links are refused when they lead into a .git folder, whatever way they
// are written: relative, absolute, from a sub-folder, through a chain,
// through a link to a parent folder, to the folder itself, or with other
// letter case.
func TestLinkIntoGitIsRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		links map[string]string // path -> target; "<root>" is the root's absolute path
		want  []string          // in the error, beside the sentinel
	}{
		{"relative", map[string]string{"cfg.yaml": ".git/config"}, []string{`symlink "cfg.yaml" points to ".git/config"`, `.git/config`}},
		{"absolute", map[string]string{"cfg.yaml": "<root>/.git/config"}, []string{`symlink "cfg.yaml" points to the absolute path`}},
		{"from a sub-folder", map[string]string{"app/cfg.yaml": "../.git/config"}, []string{`symlink "app/cfg.yaml" points to "../.git/config"`}},
		{"chain", map[string]string{"a.yaml": "b.yaml", "b.yaml": "c.yaml", "c.yaml": ".git/config"},
			[]string{`symlink "a.yaml" points to "b.yaml", and symlink "b.yaml" points to "c.yaml", and symlink "c.yaml" points to ".git/config"`}},
		{"folder link", map[string]string{"gitdir": ".git"}, []string{`symlink "gitdir" points to ".git"`}},
		// tmp/ is ignored: its link to the parent is not walked (it would be
		// a loop), but is followed on the way to the target.
		{"through a link to the parent", map[string]string{"cfg.yaml": "tmp/up/.git/config", "tmp/up": ".."}, []string{`symlink "tmp/up" points to ".."`}},
		{"nested repository", map[string]string{"app/nested.yaml": "../sub/.git/config"}, []string{`"sub/.git/config"`}},
		{"through .git and back out", map[string]string{"app/x.yaml": "../.git/../app/cm.yaml"}, []string{`symlink "app/x.yaml"`}},
		{"other letter case", map[string]string{"cfg.yaml": "CaseDir/.GIT/config"}, []string{`"CaseDir/.GIT/config"`}},
		// view is walked first: the link inside the folder it shows is met there.
		{"inside a linked folder", map[string]string{"view": "zzz", "zzz/cfg.yaml": "../.git/config"}, []string{`symlink "zzz/cfg.yaml" points to "../.git/config"`}},
		{"link named .git", map[string]string{"app/.git": "../private"}, []string{`symlink "app/.git" is named ".git"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, gitCheckout(), nil)
			root, err := filepath.EvalSymlinks(dir)
			if err != nil {
				t.Fatal(err)
			}
			for p, target := range tt.links {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(strings.ReplaceAll(target, "<root>", root), filepath.Join(dir, p)); err != nil {
					t.Fatal(err)
				}
			}
			l, err := Build(dir, WithWorkspace(dir), WithIgnore("tmp/"))
			assertNoSecret(t, l, "private-key")
			if !errors.Is(err, ErrSymlinkGit) {
				t.Fatalf("Build = %v, %v; want ErrSymlinkGit", files(l), err)
			}
			for _, want := range append(tt.want, ".git", "remove the link", "actions/checkout") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// The ignore rules apply to what a link resolves to and to every link on
// the way: a link whose own name is kept cannot publish what the rules
// leave out, whether a Flux default or the user's pattern leaves it out.
func TestLinkToIgnoredIsRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		links  map[string]string
		ignore []string
		want   []string
	}{
		{"user pattern, folder", map[string]string{"key.yaml": "private/key.yaml"}, []string{"private/"},
			[]string{`symlink "key.yaml" points to "private/key.yaml"`, `"private/key.yaml" is left out of the artifact by the ignore rule "private/" (ignore-paths)`, "remove the link"}},
		{"user pattern, file", map[string]string{"key.yaml": "private/key.yaml"}, []string{"key.yaml"},
			nil}, // the link's own name matches too: left out, nothing to refuse
		{"anchored user pattern", map[string]string{"app/s.yaml": "../notes/secret.yaml"}, []string{"/notes/secret.yaml"},
			[]string{`"notes/secret.yaml" is left out of the artifact by the ignore rule "/notes/secret.yaml" (ignore-paths)`}},
		{"Flux default *.png", map[string]string{"logo.yaml": "logo.png"}, nil,
			[]string{`"logo.png" is left out of the artifact by the ignore rule "*.png" (a Flux default)`, `re-include "logo.png"`}},
		{"folder link to an ignored folder", map[string]string{"public": "private"}, []string{"private/"},
			[]string{`symlink "public" points to "private"`, `"private/" (ignore-paths)`}},
		{"absolute link to an ignored file", map[string]string{"logo.yaml": "<root>/logo.png"}, nil,
			[]string{`"*.png" (a Flux default)`}},
		{"chain through an ignored link", map[string]string{"a.yaml": "tmp.yaml", "tmp.yaml": "app/cm.yaml"}, []string{"tmp.yaml"},
			[]string{`symlink "a.yaml" points to "tmp.yaml", and symlink "tmp.yaml" points to "app/cm.yaml"`, `"tmp.yaml" is left out`, `"tmp.yaml" (ignore-paths)`}},
		{"through a folder link into an ignored folder", map[string]string{"p": "private", "key.yaml": "p/key.yaml"}, []string{"private/"},
			[]string{`"private/key.yaml" is left out`}},
		{"user glob over the target", map[string]string{"app/values.yaml": "../deep/a/b/c/values.yaml"}, []string{"deep/**/c/"},
			[]string{`"deep/**/c/" (ignore-paths)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, gitCheckout(), nil)
			root, err := filepath.EvalSymlinks(dir)
			if err != nil {
				t.Fatal(err)
			}
			for p, target := range tt.links {
				if err := os.Symlink(strings.ReplaceAll(target, "<root>", root), filepath.Join(dir, p)); err != nil {
					t.Fatal(err)
				}
			}
			ignore := append([]string{"CaseDir/"}, tt.ignore...)
			l, err := Build(dir, WithIgnore(ignore...), WithWorkspace(dir))
			assertNoSecret(t, l)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Build: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrSymlinkIgnored) {
				t.Fatalf("Build = %v, %v; want ErrSymlinkIgnored", files(l), err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// What the rules keep, a link may publish: a negated pattern brings a file
// back for links as for the file itself.
func TestLinkToReincludedFileIsFollowed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]entry{
		"private/keep.yaml": {Data: "kind: ConfigMap\n"},
		"private/key.yaml":  {Data: "secret: private-key\n"},
		"keep.yaml":         {Link: "private/keep.yaml"},
		"logo.yaml":         {Link: "logo.png"},
		"logo.png":          {Data: "png"},
	}, nil)
	l := mustBuild(t, dir, WithIgnore("private/", "!private/keep.yaml", "!logo.png"))
	want := []string{".", "keep.yaml", "logo.png", "logo.yaml", "private/keep.yaml"}
	if diff := cmp.Diff(want, names(l.Files)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

// A folder reached through a link shows what the folder itself would
// publish: its .git folder and the files the rules leave out at their own
// path are not in the layer, under either name.
func TestLinkedFolderKeepsTheRulesOfItsTarget(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, gitCheckout(), nil)
	if err := os.Symlink("notes", filepath.Join(dir, "docs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub", filepath.Join(dir, "mirror")); err != nil {
		t.Fatal(err)
	}
	l := mustBuild(t, dir, WithIgnore("/notes/secret.yaml", "CaseDir/"), WithWorkspace(dir))
	assertNoSecret(t, l, "anchored-secret")
	got := names(l.Files)
	for _, want := range []string{"docs/readme.yaml", "notes/readme.yaml", "mirror/kustomization.yaml"} {
		if !contains(got, want) {
			t.Errorf("entries %v: %q missing", got, want)
		}
	}
	for _, no := range []string{"docs/secret.yaml", "notes/secret.yaml", "mirror/.git", "mirror/.git/config", "sub/.git"} {
		if contains(got, no) {
			t.Errorf("entries %v: %q packed", got, no)
		}
	}
}

// A .git folder is never packed, even when a pattern re-includes it: the
// token actions/checkout writes there must not reach a registry.
func TestGitFolderIsNeverPacked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, gitCheckout(), nil)
	for _, ignore := range [][]string{nil, {"!.git/"}, {"!.git/config", "!**/.git/**"}} {
		l := mustBuild(t, dir, WithIgnore(append([]string{"CaseDir/"}, ignore...)...))
		assertNoSecret(t, l)
		for _, f := range l.Files {
			if strings.Contains("/"+f.Path+"/", "/.git/") {
				t.Errorf("ignore %q: %q packed", ignore, f.Path)
			}
		}
	}
	// On a case-sensitive file system ".GIT" is an ordinary folder, not
	// git's: packed like any other unless ignored.
	l := mustBuild(t, dir)
	if !contains(names(l.Files), "CaseDir/.GIT/config") {
		t.Errorf("entries %v: a folder named .GIT on a case-sensitive file system is content", names(l.Files))
	}
}

// A component's link to its checkout's .git leaves the component: refused
// as outside the artifact before anything is read.
func TestComponentLinkToCheckoutGitIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, gitCheckout(), nil)
	if err := os.Symlink("../.git/config", filepath.Join(dir, "app", "cfg.yaml")); err != nil {
		t.Fatal(err)
	}
	l, err := Build(filepath.Join(dir, "app"), WithWorkspace(dir))
	assertNoSecret(t, l)
	if !errors.Is(err, ErrSymlinkEscapes) || !strings.Contains(err.Error(), `symlink "cfg.yaml" points to "../.git/config", outside the artifact`) {
		t.Errorf("Build = %v, want ErrSymlinkEscapes naming the link and its target", err)
	}
}

// A link that the rules leave out by its own name is never resolved, so it
// is no error even when it leads into .git: it is not published.
func TestIgnoredLinkIntoGitIsLeftOut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, gitCheckout(), nil)
	if err := os.Symlink(".git/config", filepath.Join(dir, "shot.png")); err != nil {
		t.Fatal(err)
	}
	l := mustBuild(t, dir, WithIgnore("CaseDir/"))
	assertNoSecret(t, l)
}

// A file swapped for a link into .git between the walk's check and the
// read (a link that stays inside the root, which the root handle would
// follow) is not read: the file opened must be the file checked.
func TestSwappedFileIsNotReadThroughALinkIntoGit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, gitCheckout(), nil)
	victim := filepath.Join(dir, "app", "cm.yaml")
	swap := func(real string) {
		if filepath.Base(real) != "cm.yaml" {
			return
		}
		if err := os.Remove(victim); err != nil {
			t.Error(err)
		}
		if err := os.Symlink("../.git/config", victim); err != nil {
			t.Error(err)
		}
	}
	l, err := Build(dir, WithIgnore("CaseDir/"), withHook(swap))
	assertNoSecret(t, l)
	if err == nil || !strings.Contains(err.Error(), "changed while the artifact was built") {
		t.Errorf("Build = %v, %v; want the change reported", files(l), err)
	}
}
