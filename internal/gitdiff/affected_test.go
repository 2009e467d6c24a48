package gitdiff

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAffected(t *testing.T) {
	t.Parallel()
	components := map[string]string{
		"a":  "components/a",
		"ab": "components/ab",
		"c":  "./components/c/",
		"d":  "components/d",
	}
	for _, tc := range []struct {
		name  string
		paths []string
		roots map[string]string
		want  []string
	}{
		{"nothing changed", nil, components, []string{}},
		{"one file", []string{"components/a/base/deploy.yaml"}, components, []string{"a"}},
		{"a prefix of a name is not a parent", []string{"components/ab/base/x.yaml"}, components, []string{"ab"}},
		{"roots written loosely", []string{"components/c/production/kustomization.yaml"}, components, []string{"c"}},
		{"several, sorted, once each", []string{"components/d/x", "components/a/y", "components/d/z"}, components, []string{"a", "d"}},
		{"outside every component", []string{"README.md", ".github/workflows/push.yaml", "components/README.md"}, components, []string{}},
		{"the root directory itself", []string{"components/a"}, components, []string{"a"}},
		{"deleted component is not a root any more", []string{"components/e/base/kustomization.yaml"}, components, []string{}},
		{"single artifact: README", []string{"README.md"}, map[string]string{"fleet": "."}, []string{"fleet"}},
		{"single artifact: empty root", []string{"clusters/x.yaml"}, map[string]string{"fleet": ""}, []string{"fleet"}},
		{"single artifact: nothing changed", []string{}, map[string]string{"fleet": "."}, []string{}},
		{"single artifact under a folder", []string{"README.md", "clusters/staging/x.yaml"}, map[string]string{"fleet": "clusters"}, []string{"fleet"}},
		{"nested roots", []string{"apps/x/y/file"}, map[string]string{"outer": "apps", "inner": "apps/x"}, []string{"inner", "outer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, Affected(tc.paths, tc.roots)); diff != "" {
				t.Errorf("Affected (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMatrix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		in     []string
		matrix string
		list   string
	}{
		{"nil", nil, `{"component":[]}`, `[]`},
		{"empty", []string{}, `{"component":[]}`, `[]`},
		{"one", []string{"podinfo"}, `{"component":["podinfo"]}`, `["podinfo"]`},
		{"two, order kept", []string{"a", "b"}, `{"component":["a","b"]}`, `["a","b"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			matrix, list := Matrix(tc.in)
			if matrix != tc.matrix {
				t.Errorf("matrix = %s, want %s", matrix, tc.matrix)
			}
			if list != tc.list {
				t.Errorf("list = %s, want %s", list, tc.list)
			}
		})
	}
}
