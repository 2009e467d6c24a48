package component

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// gitLinks is a checkout whose inputs lead into .git in every way a link can: a component folder
// linked to .git or a folder in it, through a link to the parent, through a chain, and with other
// letter case. Discovery, components, components-dir and path refuse every one.
var gitLinks = map[string]string{
	".git/config":                        "[http]\n\textraheader = AUTHORIZATION: basic x\n",
	".git/modules/kustomization.yaml":    kust,
	"components/good/kustomization.yaml": kust,
	"components/gitdir":                  "->../.git",
	"components/modules":                 "->../.git/modules",
	"components/viaparent":               "->../up/.git/modules",
	"components/chain":                   "->../hop",
	"hop":                                "->.git/modules",
	"components/upper":                   "->../.GIT/modules",
	"up":                                 "->.",
	"gitlink":                            "->.git",
}

func TestDiscoverRefusesLinksIntoGit(t *testing.T) {
	t.Parallel()
	_, err := Discover(tree(gitLinks), "components")
	if !errors.Is(err, ErrGit) {
		t.Fatalf("Discover = %v, want ErrGit", err)
	}
	got := messages(err)
	if len(got) != 5 {
		t.Errorf("errors %q: want one for each of chain, gitdir, modules, upper, viaparent", got)
	}
	for i, want := range []string{
		`folder "components/chain": symlink "components/chain" points to "../hop", and symlink "hop" points to ".git/modules", inside a .git folder`,
		`folder "components/gitdir": symlink "components/gitdir" points to "../.git", inside a .git folder`,
		`folder "components/modules": symlink "components/modules" points to "../.git/modules", inside a .git folder`,
		`folder "components/upper": symlink "components/upper" points to "../.GIT/modules", inside a .git folder`,
		`folder "components/viaparent": symlink "components/viaparent" points to "../up/.git/modules", and symlink "up" points to ".", inside a .git folder`,
	} {
		if i >= len(got) || !strings.HasPrefix(got[i], want) || !strings.Contains(got[i], "remove the link") {
			t.Errorf("error %d: want %q ... remove the link; got %q", i, want, got)
		}
	}
}

func TestInputsIntoGitAreRefused(t *testing.T) {
	t.Parallel()
	fsys := tree(gitLinks)
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"path is .git", func() error { _, err := Single(fsys, ".git"); return err },
			`path: ".git": ".git", inside a .git folder (".git")`},
		{"path inside .git", func() error { _, err := Single(fsys, "./.git/modules/"); return err },
			`path: "./.git/modules/": ".git/modules", inside a .git folder`},
		{"path through a link", func() error { _, err := Single(fsys, "gitlink/modules"); return err },
			`path: "gitlink/modules": symlink "gitlink" points to ".git", inside a .git folder`},
		{"components-dir inside .git", func() error { _, err := Discover(fsys, ".git"); return err },
			`components-dir ".git": ".git", inside a .git folder`},
		{"components-dir through a link", func() error { _, err := Discover(fsys, "up/gitlink"); return err },
			`components-dir "up/gitlink": symlink "up" points to ".", and symlink "gitlink" points to ".git", inside a .git folder`},
		{"components lists a link into .git", func() error { _, err := Select(fsys, "components", []string{"good", "modules"}); return err },
			`components: "modules": folder "components/modules": symlink "components/modules" points to "../.git/modules", inside a .git folder`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.run()
			if !errors.Is(err, ErrGit) {
				t.Fatalf("error %v, want ErrGit", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, tt.want) || !strings.Contains(msg, "actions/checkout") {
				t.Errorf("error %q, want it to start %q and say why", msg, tt.want)
			}
		})
	}
}

// The same refusals on disk, through os.DirFS as the app reads the checkout.
func TestDiscoverOnDiskRefusesLinksIntoGit(t *testing.T) {
	t.Parallel()
	repo := t.TempDir()
	for p, data := range map[string]string{
		".git/config":                        "[http]\n",
		".git/modules/x/kustomization.yaml":  kust,
		"components/good/kustomization.yaml": kust,
	} {
		full := filepath.Join(repo, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../.git/modules/x", filepath.Join(repo, "components", "x")); err != nil {
		t.Fatal(err)
	}
	_, err := Discover(os.DirFS(repo), "components")
	want := []string{`folder "components/x": symlink "components/x" points to "../.git/modules/x", inside a .git folder (".git/modules/x"), which is never read: git keeps credentials there (actions/checkout writes the job's token to .git/config); remove the link`}
	if diff := cmp.Diff(want, messages(err)); diff != "" || !errors.Is(err, ErrGit) {
		t.Errorf("Discover (-want +got):\n%s", diff)
	}
}
