package component

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hostile is a checkout whose components folder holds links: "evil" leads out of the checkout
// (the reported attack: ln -s ../../outside components/evil), "alias" to another folder inside.
var hostile = map[string]string{
	"components/good/kustomization.yaml": kust,
	"components/evil":                    "->../../outside",
	"components/abs":                     "->/etc",
	"components/alias":                   "->../shared/app",
	"components/gone":                    "->../nowhere",
	"components/deep":                    "->../shared/../../x",
	"shared/app/kustomization.yaml":      kust,
	"apps":                               "->../elsewhere",
	"links/components":                   "->../components",
	"up":                                 "->..",
}

const outsideFix = "an artifact holds only files of the checkout: replace the link with the folder itself, or remove it"

func TestDiscoverRefusesLinksOutOfTheCheckout(t *testing.T) {
	t.Parallel()
	_, err := Discover(tree(hostile), "components")
	if !errors.Is(err, ErrOutside) {
		t.Fatalf("Discover = %v, want ErrOutside", err)
	}
	want := []string{
		`folder "components/abs": symlink "components/abs" points to the absolute path "/etc", outside the checkout; ` + outsideFix,
		`folder "components/deep": symlink "components/deep" points to "../shared/../../x", outside the checkout; ` + outsideFix,
		`folder "components/evil": symlink "components/evil" points to "../../outside", outside the checkout; ` + outsideFix,
	}
	if diff := cmp.Diff(want, messages(err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestDiscoverFollowsLinksThatStayInside(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	for k, v := range hostile {
		if k != "components/evil" && k != "components/abs" && k != "components/deep" {
			files[k] = v
		}
	}
	for _, dir := range []string{"components", "links/components"} {
		got, err := Discover(tree(files), dir)
		if err != nil {
			t.Fatalf("Discover(%q): %v", dir, err)
		}
		want := []Component{{Name: "alias", Dir: dir + "/alias"}, {Name: "good", Dir: dir + "/good"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Discover(%q) (-want +got):\n%s", dir, diff)
		}
	}
}

func TestInputsThroughLinksOutOfTheCheckout(t *testing.T) {
	t.Parallel()
	fsys := tree(hostile)
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"components-dir is a link out", func() error { _, err := Discover(fsys, "apps"); return err },
			`components-dir "apps": symlink "apps" points to "../elsewhere", outside the checkout: give a folder inside the checkout; ` + outsideFix},
		{"components-dir passes through a link out", func() error { _, err := Discover(fsys, "up/repo/components"); return err },
			`components-dir "up/repo/components": symlink "up" points to "..", outside the checkout: give a folder inside the checkout; ` + outsideFix},
		{"components lists a link out", func() error { _, err := Select(fsys, "components", []string{"good", "evil"}); return err },
			`components: "evil": folder "components/evil": symlink "components/evil" points to "../../outside", outside the checkout: give a folder inside the checkout; ` + outsideFix},
		{"path is a link out", func() error { _, err := Single(fsys, "components/evil"); return err },
			`path: "components/evil": symlink "components/evil" points to "../../outside", outside the checkout: give a folder inside the checkout; ` + outsideFix},
		{"path passes through a link out", func() error { _, err := Single(fsys, "./components/abs/ssl/"); return err },
			`path: "./components/abs/ssl/": symlink "components/abs" points to the absolute path "/etc", outside the checkout: give a folder inside the checkout; ` + outsideFix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.run()
			if !errors.Is(err, ErrOutside) {
				t.Fatalf("error %v, want ErrOutside", err)
			}
			if diff := cmp.Diff([]string{tt.want}, messages(err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// Links that stay inside are followed for every input.
	if c, err := Single(fsys, "components/alias"); err != nil || c.Dir != "components/alias" {
		t.Errorf("Single(components/alias) = %v, %v", c, err)
	}
	if cs, err := Select(fsys, "links/components", []string{"alias"}); err != nil || len(cs) != 1 {
		t.Errorf("Select through links = %v, %v", cs, err)
	}
}

// The same checkout on disk, through os.DirFS as the app reads it.
func TestDiscoverOnDiskRefusesLinksOut(t *testing.T) {
	t.Parallel()
	top := t.TempDir()
	repo := filepath.Join(top, "repo")
	for _, d := range []string{filepath.Join(top, "outside"), filepath.Join(repo, "components", "good")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, data := range map[string]string{
		filepath.Join(top, "outside", "kustomization.yaml"):             kust,
		filepath.Join(top, "outside", "secret.env"):                     "TOKEN=x",
		filepath.Join(repo, "components", "good", "kustomization.yaml"): kust,
	} {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../../outside", filepath.Join(repo, "components", "evil")); err != nil {
		t.Fatal(err)
	}
	_, err := Discover(os.DirFS(repo), "components")
	if !errors.Is(err, ErrOutside) || !strings.Contains(err.Error(), `folder "components/evil"`) {
		t.Errorf("Discover = %v, want ErrOutside naming components/evil", err)
	}
	if _, err := Single(os.DirFS(repo), "components/evil"); !errors.Is(err, ErrOutside) {
		t.Errorf("Single = %v, want ErrOutside", err)
	}
}

func TestRealPath(t *testing.T) {
	t.Parallel()
	fsys := tree(map[string]string{
		"a/b/file":  "x",
		"l1":        "->a/b",
		"a/up":      "->..",
		"a/b/back":  "->../../a",
		"loop1":     "->loop2",
		"loop2":     "->loop1",
		"a/chain":   "->../l1",
		"a/b/twice": "->../up/..",
	})
	tests := []struct{ in, want, err string }{
		{in: ".", want: "."},
		{in: "a/b", want: "a/b"},
		{in: "l1/file", want: "a/b/file"},
		{in: "a/up/l1", want: "a/b"},
		{in: "a/b/back/b/back/b", want: "a/b"},
		{in: "a/chain/file", want: "a/b/file"},
		// ".." applies to where the link led, as in the kernel.
		{in: "l1/../b", want: "a/b"},
		{in: "a/b/twice", err: `symlink "a/up" points to "..", outside the checkout`},
		{in: "loop1", err: "more than 40 symlinks"},
		{in: "missing/x", err: "not exist"},
	}
	for _, tt := range tests {
		got, err := realPath(fsys, tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("realPath(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("realPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
