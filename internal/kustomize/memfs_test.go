package kustomize

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// TestMemFSStaysInside: kustomize gets the artifact's files and nothing
// else, however it spells a path, and cannot change them.
func TestMemFSStaysInside(t *testing.T) {
	t.Parallel()
	m := newMemFS()
	m.add("app", nil, true)
	m.add("app/kustomization.yaml", []byte("k"), false)
	m.add("app/with space+@~(,*.yaml", []byte("odd"), false)
	for _, p := range []string{"/../../etc/passwd", "../etc/passwd", "/app/../../etc/passwd", "/etc/passwd", "C:/Windows/win.ini"} {
		if _, err := m.ReadFile(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile(%q) = %v, want not found", p, err)
		}
		if m.Exists(p) {
			t.Errorf("Exists(%q) = true", p)
		}
	}
	if data, err := m.ReadFile("/app/../app/./with space+@~(,*.yaml"); err != nil || string(data) != "odd" {
		t.Errorf("ReadFile of an odd name = %q, %v", data, err)
	}
	dir, name, err := m.CleanedAbs("/app/kustomization.yaml")
	if err != nil || dir != "/app" || name != "kustomization.yaml" {
		t.Errorf("CleanedAbs = %q, %q, %v", dir, name, err)
	}
	if got, err := m.ReadDir("/app"); err != nil || !cmp.Equal(got, []string{"kustomization.yaml", "with space+@~(,*.yaml"}) {
		t.Errorf("ReadDir = %q, %v", got, err)
	}
	var walked []string
	if err := m.Walk("/", func(p string, info os.FileInfo, err error) error {
		walked = append(walked, p)
		return err
	}); err != nil || !cmp.Equal(walked, []string{"/", "/app", "/app/kustomization.yaml", "/app/with space+@~(,*.yaml"}) {
		t.Errorf("Walk = %q, %v", walked, err)
	}
	if got, err := m.Glob("/app/*.yaml"); err != nil || len(got) != 2 {
		t.Errorf("Glob = %q, %v", got, err)
	}
	for name, err := range map[string]error{
		"WriteFile": m.WriteFile("/app/kustomization.yaml", []byte("x")), "MkdirAll": m.MkdirAll("/x"),
		"RemoveAll": m.RemoveAll("/app"), "Mkdir": m.Mkdir("/y"),
	} {
		if !errors.Is(err, errReadOnly) {
			t.Errorf("%s = %v, want refused", name, err)
		}
	}
	if data, _ := m.ReadFile("/app/kustomization.yaml"); string(data) != "k" {
		t.Errorf("the file changed to %q", data)
	}
	view := m.withRoot("app/kustomization.yaml", []byte("patched"))
	if data, _ := view.ReadFile("/app/kustomization.yaml"); string(data) != "patched" {
		t.Errorf("the root view reads %q", data)
	}
	if data, _ := m.ReadFile("/app/kustomization.yaml"); string(data) != "k" {
		t.Errorf("the root view changed the shared file to %q", data)
	}
}

// TestOddFileNames: names git and Flux accept but kyaml's in-memory file
// system refused ("illegal name … in file creation"), with the characters
// a module zip cannot hold, which therefore have no fixture on disk.
func TestOddFileNames(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{
		"kustomization.yaml":  file(kustHeader + "resources:\n  - \"star*.yaml\"\n  - \"quote\\\"d.yaml\"\n  - \"new\\nline.yaml\"\n"),
		"star*.yaml":          file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: star\n"),
		"quote\"d.yaml":       file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: quoted\n"),
		"new\nline.yaml":      file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: newline\n"),
		"question?.txt":       file("?"),
		"tab\there/notes.txt": file("notes"),
	}
	got, err := v.Validate(context.Background(), files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("findings: %v", got)
	}
}

// TestNoDownloads: a transformer configuration that names a URL is refused
// before kustomize, which would fetch it with no timeout or size limit,
// runs at all.
func TestNoDownloads(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  from: network\n"))
	}))
	defer srv.Close()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	cm := file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n")
	pt := "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: fetch\npath: " + srv.URL + "/patch.yaml\n"
	for name, files := range map[string]fstest.MapFS{
		"file": {"kustomization.yaml": file(kustHeader + "resources: [cm.yaml]\ntransformers: [pt.yaml]\n"), "cm.yaml": cm, "pt.yaml": file(pt)},
		"inline": {"kustomization.yaml": file(kustHeader + "resources: [cm.yaml]\ntransformers:\n  - |\n" +
			"    " + strings.ReplaceAll(strings.TrimSpace(pt), "\n", "\n    ") + "\n"), "cm.yaml": cm},
		"folder": {"kustomization.yaml": file(kustHeader + "resources: [cm.yaml]\ntransformers: [t]\n"), "cm.yaml": cm,
			"t/kustomization.yaml": file(kustHeader + "resources: [pt.yaml]\n"), "t/pt.yaml": file(pt)},
		"resource": {"kustomization.yaml": file(kustHeader + "resources: [" + srv.URL + "/cm.yaml]\n")},
		"patch":    {"kustomization.yaml": file(kustHeader + "resources: [cm.yaml]\npatches:\n  - path: " + srv.URL + "/p.yaml\n"), "cm.yaml": cm},
	} {
		got, err := v.Validate(context.Background(), files, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !HasErrors(got) || !strings.Contains(got[0].Message, srv.URL) {
			t.Errorf("%s: findings %v, want the URL refused", name, got)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("kustomize made %d requests", n)
	}
}

// TestPluginFolder: a folder of transformer configurations that loads
// only from the artifact works as in kustomize.
func TestPluginFolder(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{
		"kustomization.yaml":   file(kustHeader + "resources: [deploy.yaml]\ntransformers: [t]\n"),
		"deploy.yaml":          file(deployment),
		"t/kustomization.yaml": file(kustHeader + "resources: [pt.yaml]\n"),
		"t/pt.yaml":            file("apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: replicas\npath: replicas.yaml\ntarget:\n  kind: Deployment\n"),
		"replicas.yaml":        file("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: wrong\n"),
	}
	got, err := v.Validate(context.Background(), files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	errs := errorStrings(got)
	// The patch was applied: its wrong type is found in the build.
	want := []string{`deploy.yaml:6: Deployment/web: spec.replicas: wrong type: got string "wrong", want integer`}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}

	// Folders that cannot be checked stop the build that uses them.
	for name, tc := range map[string]struct {
		files fstest.MapFS
		want  []string
	}{
		"broken": {
			files: fstest.MapFS{"kustomization.yaml": file(kustHeader + "transformers: [t]\n"), "t/kustomization.yaml": file("resources: [\n")},
			want:  []string{"t/kustomization.yaml:2: malformed YAML: did not find expected node content"},
		},
		"cycle": {
			files: fstest.MapFS{"kustomization.yaml": file(kustHeader + "transformers: [t]\n"), "t/kustomization.yaml": file(kustHeader + "transformers: [.]\n")},
			want: []string{
				"t/kustomization.yaml:1: this folder configures generators or transformers of a build that it uses itself: kustomize would loop",
			},
		},
		"component": {
			files: fstest.MapFS{"kustomization.yaml": file(kustHeader + "transformers: [t]\n"), "t/kustomization.yaml": file("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n")},
			want:  []string{"t/kustomization.yaml:1: a Component cannot configure generators, transformers or validators: make it a Kustomization"},
		},
	} {
		got, err := v.Validate(context.Background(), tc.files, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, errorStrings(got)); diff != "" {
			t.Errorf("%s: errors (-want +got):\n%s", name, diff)
		}
	}
}

func errorStrings(fs []Finding) []string {
	var errs []string
	for _, f := range fs {
		if f.Severity == Error {
			errs = append(errs, f.String())
		}
	}
	return errs
}

// TestEmptyArtifact: ignore-paths '*' leaves no file at all.
func TestEmptyArtifact(t *testing.T) {
	t.Parallel()
	for _, allow := range []bool{false, true} {
		v, err := New(WithAllowEmpty(allow))
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Validate(context.Background(), fstest.MapFS{}, Options{Prefix: "components/web/"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].File != "components/web" || HasErrors(got) == allow ||
			!strings.Contains(got[0].Message, "no Kubernetes object") {
			t.Errorf("allow-empty %t: findings %v", allow, got)
		}
	}
}
