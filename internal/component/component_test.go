package component

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

const notDNS = `is not a DNS-1123 label: use lower-case letters, digits and '-', starting and ending with a letter or digit`

// tree builds a MapFS from file paths; a path ending in "/" is an empty folder, and a value
// starting with "->" is a symlink to the rest.
func tree(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for p, data := range files {
		switch {
		case strings.HasSuffix(p, "/"):
			m[strings.TrimSuffix(p, "/")] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
		case strings.HasPrefix(data, "->"):
			m[p] = &fstest.MapFile{Mode: fs.ModeSymlink, Data: []byte(strings.TrimPrefix(data, "->"))}
		default:
			m[p] = &fstest.MapFile{Data: []byte(data), Mode: 0o644}
		}
	}
	return m
}

const kust = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"

// d2Apps is a d2-apps-style checkout.
var d2Apps = map[string]string{
	"README.md": "# apps",
	"components/podinfo/base/kustomization.yaml":    kust,
	"components/podinfo/staging/kustomization.yaml": kust,
	"components/backend/base/kustomization.yml":     kust,
	"components/backend/production/Kustomization":   kust,
	"components/api-2/kustomization.yaml":           kust,
	"components/docs/README.md":                     "not a component",
	"components/README.md":                          "a file, not a folder",
	"components/.github/kustomization.yaml":         kust,
	"components/.cache/x/kustomization.yaml":        kust,
	"clusters/staging/kustomization.yaml":           kust,
}

func join(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestDiscover(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		dir   string
		want  []Component
	}{
		{
			name:  "sorted; folders without kustomization, hidden folders and files skipped",
			files: d2Apps,
			dir:   "components",
			want: []Component{
				{Name: "api-2", Dir: "components/api-2"},
				{Name: "backend", Dir: "components/backend"},
				{Name: "podinfo", Dir: "components/podinfo"},
			},
		},
		{
			name:  "dir is cleaned",
			files: d2Apps,
			dir:   "./components/",
			want: []Component{
				{Name: "api-2", Dir: "components/api-2"},
				{Name: "backend", Dir: "components/backend"},
				{Name: "podinfo", Dir: "components/podinfo"},
			},
		},
		{
			name: "nested components-dir",
			files: map[string]string{
				"deploy/components/web/base/kustomization.yaml": kust,
			},
			dir:  "deploy/components",
			want: []Component{{Name: "web", Dir: "deploy/components/web"}},
		},
		{
			name: "the checkout root as components-dir",
			files: map[string]string{
				"web/kustomization.yaml":  kust,
				".git/kustomization.yaml": kust,
				"notes/todo.txt":          "",
			},
			dir:  ".",
			want: []Component{{Name: "web", Dir: "web"}},
		},
		{
			name: "d2-infra layout: kustomizations two levels down",
			files: map[string]string{
				"components/cert-manager/controllers/base/kustomization.yaml":    kust,
				"components/cert-manager/configs/production/kustomization.yaml":  kust,
				"components/monitoring/controllers/staging/kustomization.yaml":   kust,
				"components/monitoring/configs/base/cluster-issuers/issuer.yaml": "kind: ClusterIssuer",
				"components/only-hidden/.backup/kustomization.yaml":              kust,
				"components/Invalid_Without_Kustomization/notes.md":              "",
			},
			dir: "components",
			want: []Component{
				{Name: "cert-manager", Dir: "components/cert-manager"},
				{Name: "monitoring", Dir: "components/monitoring"},
			},
		},
		{
			name: "a symlinked component folder is followed",
			files: map[string]string{
				"shared/web/kustomization.yaml":     kust,
				"components/web":                    "->../shared/web",
				"components/api/kustomization.yaml": kust,
			},
			dir: "components",
			want: []Component{
				{Name: "api", Dir: "components/api"},
				{Name: "web", Dir: "components/web"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Discover(tree(tt.files), tt.dir)
			if err != nil {
				t.Fatalf("Discover(%q) = %v", tt.dir, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Discover(%q) mismatch (-want +got):\n%s", tt.dir, diff)
			}
		})
	}
}

func TestDiscoverErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		dir   string
		want  []string
	}{
		{
			name:  "missing components-dir",
			files: map[string]string{"clusters/kustomization.yaml": kust},
			dir:   "components",
			want: []string{`components-dir "components" does not exist in the checkout: ` +
				`set components-dir to the folder holding your components, or path for a single artifact`},
		},
		{
			name:  "missing components-dir is named as given, cleaned",
			files: map[string]string{},
			dir:   "./apps/",
			want: []string{`components-dir "apps" does not exist in the checkout: ` +
				`set components-dir to the folder holding your components, or path for a single artifact`},
		},
		{
			name:  "empty components-dir",
			files: map[string]string{"components/": ""},
			dir:   "components",
			want: []string{`components-dir "components" holds no component (a sub-folder with a kustomization.yaml): ` +
				`check components-dir, or use path for a single artifact`},
		},
		{
			name: "components-dir with folders but no kustomization",
			files: map[string]string{
				"components/docs/README.md":              "",
				"components/.hidden/kustomization.yaml":  kust,
				"components/web/.old/kustomization.yaml": kust,
				"components/kustomization.yaml":          kust,
			},
			dir: "components",
			want: []string{`components-dir "components" holds no component (a sub-folder with a kustomization.yaml): ` +
				`check components-dir, or use path for a single artifact`},
		},
		{
			name: "invalid folder names holding kustomizations are all reported",
			files: join(d2Apps, map[string]string{
				"components/My_App/base/kustomization.yaml": kust,
				"components/Web/kustomization.yaml":         kust,
				"components/bad-/kustomization.yaml":        kust,
			}),
			dir: "components",
			want: []string{
				`folder "components/My_App": component name "My_App" ` + notDNS + ` (rename the folder)`,
				`folder "components/Web": component name "Web" ` + notDNS + ` (rename the folder)`,
				`folder "components/bad-": component name "bad-" ` + notDNS + ` (rename the folder)`,
			},
		},
		{
			name: "a folder name longer than a DNS label",
			files: map[string]string{
				"components/" + strings.Repeat("a", 64) + "/kustomization.yaml": kust,
			},
			dir: "components",
			want: []string{`folder "components/` + strings.Repeat("a", 64) + `": component name "` +
				strings.Repeat("a", 64) + `" is longer than 63 characters (rename the folder)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Discover(tree(tt.files), tt.dir)
			if err == nil {
				t.Fatalf("Discover(%q) = %v, nil; want an error", tt.dir, got)
			}
			if got != nil {
				t.Errorf("Discover(%q) returned components with an error: %v", tt.dir, got)
			}
			if diff := cmp.Diff(tt.want, messages(err)); diff != "" {
				t.Errorf("Discover(%q) errors mismatch (-want +got):\n%s", tt.dir, diff)
			}
		})
	}
}

// TestDiscoverNotAFolder: components-dir naming a file is an error that names it.
func TestDiscoverNotAFolder(t *testing.T) {
	t.Parallel()
	_, err := Discover(tree(d2Apps), "README.md")
	if err == nil || !strings.HasPrefix(err.Error(), `reading components-dir "README.md": `) {
		t.Errorf("Discover(README.md) = %v, want a reading components-dir error", err)
	}
}

func TestSelect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		dir   string
		names []string
		want  []Component
	}{
		{
			name:  "sorted",
			dir:   "components",
			names: []string{"podinfo", "backend"},
			want:  []Component{{Name: "backend", Dir: "components/backend"}, {Name: "podinfo", Dir: "components/podinfo"}},
		},
		{
			name:  "duplicates are published once",
			dir:   "components",
			names: []string{"podinfo", "podinfo", "backend", "podinfo"},
			want:  []Component{{Name: "backend", Dir: "components/backend"}, {Name: "podinfo", Dir: "components/podinfo"}},
		},
		{
			name:  "dir is cleaned",
			dir:   "./components/",
			names: []string{"api-2"},
			want:  []Component{{Name: "api-2", Dir: "components/api-2"}},
		},
		{
			name:  "a folder discovery would skip can be named explicitly",
			dir:   "components",
			names: []string{"docs"},
			want:  []Component{{Name: "docs", Dir: "components/docs"}},
		},
		{
			name:  "no names",
			dir:   "components",
			names: nil,
			want:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Select(tree(d2Apps), tt.dir, tt.names)
			if err != nil {
				t.Fatalf("Select(%q, %q) = %v", tt.dir, tt.names, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Select(%q, %q) mismatch (-want +got):\n%s", tt.dir, tt.names, diff)
			}
		})
	}
}

func TestSelectErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		dir   string
		names []string
		want  []string
	}{
		{
			name:  "unknown name",
			dir:   "components",
			names: []string{"podinfo", "nope"},
			want:  []string{`components: "nope" has no folder "components/nope" in the checkout: check the name or components-dir`},
		},
		{
			name:  "a file, not a folder",
			dir:   "clusters/staging",
			names: []string{"kustomization"},
			want: []string{`components: "kustomization" has no folder "clusters/staging/kustomization" in the checkout: ` +
				`check the name or components-dir`},
		},
		{
			name:  "wrong components-dir",
			dir:   "apps",
			names: []string{"podinfo"},
			want:  []string{`components: "podinfo" has no folder "apps/podinfo" in the checkout: check the name or components-dir`},
		},
		{
			name:  "path-like name leaving the folder",
			dir:   "components",
			names: []string{"../clusters"},
			want:  []string{`components: component name "../clusters" is a path: give the folder name under the components folder only`},
		},
		{
			name:  "nested path",
			dir:   "components",
			names: []string{"podinfo/base"},
			want:  []string{`components: component name "podinfo/base" is a path: give the folder name under the components folder only`},
		},
		{
			name:  "backslash path",
			dir:   "components",
			names: []string{`..\clusters`},
			want:  []string{`components: component name "..\\clusters" is a path: give the folder name under the components folder only`},
		},
		{
			name:  "dot",
			dir:   "components",
			names: []string{"."},
			want:  []string{`components: component name "." is a path: give the folder name under the components folder only`},
		},
		{
			name:  "hidden folder",
			dir:   "components",
			names: []string{".github"},
			want:  []string{`components: component name ".github" ` + notDNS},
		},
		{
			name:  "upper case",
			dir:   "components",
			names: []string{"PodInfo"},
			want:  []string{`components: component name "PodInfo" ` + notDNS},
		},
		{
			name:  "empty name",
			dir:   "components",
			names: []string{""},
			want:  []string{`components: empty component name`},
		},
		{
			name:  "every bad name is reported",
			dir:   "components",
			names: []string{"Web", "podinfo", "../x", "missing"},
			want: []string{
				`components: component name "Web" ` + notDNS,
				`components: component name "../x" is a path: give the folder name under the components folder only`,
				`components: "missing" has no folder "components/missing" in the checkout: check the name or components-dir`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Select(tree(d2Apps), tt.dir, tt.names)
			if err == nil {
				t.Fatalf("Select(%q, %q) = %v, nil; want an error", tt.dir, tt.names, got)
			}
			if got != nil {
				t.Errorf("Select(%q, %q) returned components with an error: %v", tt.dir, tt.names, got)
			}
			if diff := cmp.Diff(tt.want, messages(err)); diff != "" {
				t.Errorf("Select(%q, %q) errors mismatch (-want +got):\n%s", tt.dir, tt.names, diff)
			}
		})
	}
}

func TestSingle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path    string
		want    Component
		wantErr string
	}{
		{path: ".", want: Component{Dir: "."}},
		{path: "./", want: Component{Dir: "."}},
		{path: " . ", want: Component{Dir: "."}},
		{path: "clusters", want: Component{Dir: "clusters"}},
		{path: "./clusters/staging/", want: Component{Dir: "clusters/staging"}},
		{path: `clusters\staging`, want: Component{Dir: "clusters/staging"}},
		{path: "clusters/../components", want: Component{Dir: "components"}},
		{path: "", wantErr: `path: empty path`},
		{path: "../", wantErr: `path: "../" leaves the checkout: give a folder inside it`},
		{path: "..", wantErr: `path: ".." leaves the checkout: give a folder inside it`},
		{path: "../d2-fleet/clusters", wantErr: `path: "../d2-fleet/clusters" leaves the checkout: give a folder inside it`},
		{path: "clusters/../../x", wantErr: `path: "clusters/../../x" leaves the checkout: give a folder inside it`},
		{path: `..\x`, wantErr: `path: "..\\x" leaves the checkout: give a folder inside it`},
		{path: "/clusters", wantErr: `path: "/clusters" is absolute: give a path relative to the checkout`},
		{path: `\clusters`, wantErr: `path: "\\clusters" is absolute: give a path relative to the checkout`},
		{path: "fleet", wantErr: `path: folder "fleet" does not exist in the checkout`},
		{path: "README.md", wantErr: `path: folder "README.md" does not exist in the checkout`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			got, err := Single(tree(d2Apps), tt.path)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Single(%q) = %v, %v; want error %q", tt.path, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Single(%q) = %v", tt.path, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Single(%q) mismatch (-want +got):\n%s", tt.path, diff)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want string // "" = valid
	}{
		{"a", ""},
		{"podinfo", ""},
		{"cert-manager", ""},
		{"0day", ""},
		{"app2", ""},
		{strings.Repeat("a", 63), ""},
		{"", "empty component name"},
		{strings.Repeat("a", 64), `component name "` + strings.Repeat("a", 64) + `" is longer than 63 characters`},
		{"a/b", `component name "a/b" is a path: give the folder name under the components folder only`},
		{`a\b`, `component name "a\\b" is a path: give the folder name under the components folder only`},
		{"..", `component name ".." is a path: give the folder name under the components folder only`},
		{".", `component name "." is a path: give the folder name under the components folder only`},
		{"-a", `component name "-a" ` + notDNS},
		{"a-", `component name "a-" ` + notDNS},
		{"A", `component name "A" ` + notDNS},
		{"a.b", `component name "a.b" ` + notDNS},
		{"a_b", `component name "a_b" ` + notDNS},
		{"a b", `component name "a b" ` + notDNS},
		{"é", `component name "é" ` + notDNS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidName(tt.name)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("ValidName(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestValidDir(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dir  string
		want string // "" = valid
	}{
		{"components", ""},
		{".", ""},
		{"./deploy/components/", ""},
		{"a/../b", ""},
		{"", "empty path"},
		{"  ", "empty path"},
		{"..", `".." leaves the checkout: give a folder inside it`},
		{"a/../..", `"a/../.." leaves the checkout: give a folder inside it`},
		{"/abs", `"/abs" is absolute: give a path relative to the checkout`},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			t.Parallel()
			err := ValidDir(tt.dir)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("ValidDir(%q) = %q, want %q", tt.dir, got, tt.want)
			}
		})
	}
}

func TestIsKustomization(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base string
		want bool
	}{
		{"kustomization.yaml", true},
		{"kustomization.yml", true},
		{"Kustomization", true},
		{"Kustomization.yaml", false},
		{"kustomization.json", false},
		{"kustomization", false},
		{"my-kustomization.yaml", false},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			t.Parallel()
			if got := IsKustomization(tt.base); got != tt.want {
				t.Errorf("IsKustomization(%q) = %v, want %v", tt.base, got, tt.want)
			}
		})
	}
}

// messages flattens an errors.Join tree into its messages, as the app prints them.
func messages(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, messages(e)...)
		}
		return out
	}
	return []string{err.Error()}
}
