package artifact

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatcher(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		patterns []string
		path     string
		dir      bool
		want     bool
	}{
		{"default .git dir", DefaultIgnore, ".git", true, true},
		{"default .git content", DefaultIgnore, ".git/objects/ab/cd", false, true},
		{"default .git dir nested", DefaultIgnore, "sub/.git/config", false, true},
		{"file named .git is kept", DefaultIgnore, ".git", false, false},
		{"default .gitignore anywhere", DefaultIgnore, "a/b/.gitignore", false, true},
		{"default png", DefaultIgnore, "docs/img/logo.png", false, true},
		{"default png is case sensitive", DefaultIgnore, "logo.PNG", false, false},
		{"default tar.gz", DefaultIgnore, "charts/x-1.0.0.tar.gz", false, true},
		{"default keeps .tgz", DefaultIgnore, "charts/x-1.0.0.tgz", false, false},
		{"default keeps yaml", DefaultIgnore, "base/kustomization.yaml", false, false},
		{"default dir named x.zip and below", DefaultIgnore, "a.zip/inner.yaml", false, true},
		{"name matches any segment", []string{"tmp"}, "a/tmp/b.yaml", false, true},
		{"dir-only skips file", []string{"build/"}, "build", false, false},
		{"dir-only matches dir", []string{"build/"}, "x/build", true, true},
		{"dir-only matches below", []string{"build/"}, "build/out.yaml", false, true},
		{"anchored", []string{"/secrets"}, "secrets", false, true},
		{"anchored not nested", []string{"/secrets"}, "a/secrets", false, false},
		{"path pattern anchored", []string{"a/b"}, "a/b", false, true},
		{"path pattern below", []string{"a/b"}, "a/b/c.yaml", false, true},
		{"path pattern not nested", []string{"a/b"}, "x/a/b", false, false},
		{"star does not cross /", []string{"docs/*.md"}, "docs/x/y.md", false, false},
		{"star one level", []string{"docs/*.md"}, "docs/y.md", false, true},
		{"leading **", []string{"**/values.yaml"}, "x/y/values.yaml", false, true},
		{"leading ** at root", []string{"**/values.yaml"}, "values.yaml", false, true},
		{"middle **", []string{"a/**/z"}, "a/b/c/z", false, true},
		{"middle ** zero dirs", []string{"a/**/z"}, "a/z", false, true},
		{"middle ** no match", []string{"a/**/z"}, "a/b/c", false, false},
		{"trailing **", []string{"a/**"}, "a/b/c", false, true},
		{"trailing ** matches the dir", []string{"a/**"}, "a", true, true},
		{"bad ** in segment", []string{"a/x**/z"}, "a/x/z", false, false},
		{"negation wins when later", []string{"*.yaml", "!keep.yaml"}, "keep.yaml", false, false},
		{"negation loses when earlier", []string{"!keep.yaml", "*.yaml"}, "keep.yaml", false, true},
		{"negated default", append(append([]string{}, DefaultIgnore...), "!logo.png"), "logo.png", false, false},
		{"question mark", []string{"v?.yaml"}, "v1.yaml", false, true},
		{"class", []string{"[ab].yaml"}, "b.yaml", false, true},
		{"malformed matches nothing", []string{"[.yaml"}, "[.yaml", false, false},
		{"escaped star is literal", []string{`\*.yaml`}, "x.yaml", false, false},
		{"escaped star matches star", []string{`\*.yaml`}, "*.yaml", false, true},
		{"trailing spaces dropped", []string{"a.yaml   "}, "a.yaml", false, true},
		{"comment skipped", []string{"# a.yaml"}, "# a.yaml", false, false},
		{"multi-line value", []string{"x.yaml\n\n# c\ny.yaml"}, "y.yaml", false, true},
		{"crlf value", []string{"x.yaml\r\ny.yaml\r\n"}, "x.yaml", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := newMatcher(tt.patterns).ignored(tt.path, tt.dir); got != tt.want {
				t.Errorf("ignored(%q, dir=%v) with %q = %v, want %v", tt.path, tt.dir, tt.patterns, got, tt.want)
			}
		})
	}
}

func TestBuildIgnore(t *testing.T) {
	t.Parallel()
	tree := map[string]entry{
		"base/kustomization.yaml": {Data: "k"},
		"base/logo.png":           {Data: "png"},
		"base/notes.md":           {Data: "md"},
		"tmp/a.yaml":              {Data: "a"},
		"tmp/keep.yaml":           {Data: "keep"},
		".git/HEAD":               {Data: "h"},
	}
	tests := []struct {
		name string
		opts []Option
		want []string
	}{
		{"defaults", nil, []string{".", "base", "base/kustomization.yaml", "base/notes.md", "tmp", "tmp/a.yaml", "tmp/keep.yaml"}},
		{"user patterns add to defaults", []Option{WithIgnore("*.md", "tmp/")},
			[]string{".", "base", "base/kustomization.yaml"}},
		{"options add up", []Option{WithIgnore("*.md"), WithIgnore("tmp/")},
			[]string{".", "base", "base/kustomization.yaml"}},
		{"negation brings back a default", []Option{WithIgnore("!logo.png")},
			[]string{".", "base", "base/kustomization.yaml", "base/logo.png", "base/notes.md", "tmp", "tmp/a.yaml", "tmp/keep.yaml"}},
		// As in Flux: each path is matched on its own, so the file comes
		// back and its ignored directory does not get an entry.
		{"negation under an ignored dir", []Option{WithIgnore("tmp/\n!tmp/keep.yaml")},
			[]string{".", "base", "base/kustomization.yaml", "base/notes.md", "tmp/keep.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, tree, nil)
			chmodDirs(t, dir, 0o755)
			l := mustBuild(t, dir, tt.opts...)
			if diff := cmp.Diff(tt.want, names(l.Files)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			// Same walk, same filter, Flux's algorithm: same bytes.
			var patterns []string
			patterns = append(patterns, DefaultIgnore...)
			o := options{}
			for _, opt := range tt.opts {
				opt(&o)
			}
			m := newMatcher(append(patterns, o.ignore...))
			if ref := fluxReference(t, dir, m.ignored); string(ref) != string(l.Compressed) {
				t.Errorf("layer differs from the reference builder with the same patterns")
			}
		})
	}
}
