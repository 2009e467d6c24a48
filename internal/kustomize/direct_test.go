package kustomize

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// TestListingRendersAsKustomize: a kustomization that only lists renders,
// without kustomize, exactly the objects kustomize renders for it, in the
// same order, and the same findings come of it.
func TestListingRendersAsKustomize(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	cm := func(name string) string { return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n" }
	tests := []struct {
		name  string
		files fstest.MapFS
	}{
		{"documents, comments and empty ones", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [a.yaml]\n"),
			"a.yaml": file("# head\n---\n" + cm("a") + "---\n---\n# only a comment\n---\n" + deployment)}},
		{"Lists, nested and empty", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [l.yaml]\n"),
			"l.yaml": file("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMapList, items: [{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}]}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: y}}\n---\napiVersion: v1\nkind: List\nitems: []\n")}},
		{"anchors and merge keys", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [m.yaml]\n"),
			"m.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata: &md\n  name: m\n  labels: &l {a: b}\ndata:\n  <<: *l\n  c: d\n")}},
		{"local-config objects", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [a.yaml]\n"),
			"a.yaml": file(cm("kept") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dropped\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\n")}},
		{"nested folders, bases, other file names", fstest.MapFS{
			"Kustomization":                 file(kustHeader + "resources: [z.json, sub]\nbases: [other]\n"),
			"z.json":                        file(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"z"},"data":{"n":"1"}}`),
			"sub/kustomization.yml":         file(kustHeader + "resources: [b.yaml, deeper]\n"),
			"sub/b.yaml":                    file(cm("b")),
			"sub/deeper/kustomization.yaml": file(kustHeader + "resources: [c.yaml]\n"),
			"sub/deeper/c.yaml":             file("apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: c\r\n"),
			"other/kustomization.yaml":      file(kustHeader + "resources: [o.yaml]\n"),
			"other/o.yaml":                  file(cm("o")),
		}},
		{"separator lines inside a block scalar", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [a.yaml]\n"),
			"a.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: |\n    one\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n")}},
		{"types kustomize keeps", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [a.yaml]\n"),
			"a.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {on: yes, n: 010, f: 1e3, t: ~}\ndata: {a: !!str 1, b: 0x1F}\n")}},
		{"a duplicate, left to kustomize", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [a.yaml, b.yaml]\n"),
			"a.yaml": file(cm("same")), "b.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n  namespace: default\n")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			render := func(viaKustomize bool) (map[string][]string, []Finding) {
				var mu sync.Mutex
				out := map[string][]string{}
				got, err := v.Validate(context.Background(), tt.files, Options{viaKustomize: viaKustomize, observe: func(dir string, _ cost, res buildResult) {
					mu.Lock()
					defer mu.Unlock()
					for _, r := range res.rendered {
						out[dir] = append(out[dir], string(r))
					}
				}})
				if err != nil {
					t.Fatal(err)
				}
				return out, got
			}
			direct, directFindings := render(false)
			kust, kustFindings := render(true)
			if diff := cmp.Diff(kust, direct); diff != "" {
				t.Errorf("rendered objects differ (-kustomize +direct):\n%s", diff)
			}
			if diff := cmp.Diff(kustFindings, directFindings); diff != "" {
				t.Errorf("findings differ (-kustomize +direct):\n%s", diff)
			}
			if len(kust) == 0 && !strings.Contains(tt.name, "duplicate") {
				t.Error("nothing rendered: the case tests nothing")
			}
		})
	}
}
