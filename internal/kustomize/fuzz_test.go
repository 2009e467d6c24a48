package kustomize

import (
	"context"
	"testing"
	"testing/fstest"
)

// FuzzValidate feeds arbitrary kustomization and resource files to
// Validate: it must return findings, never panic or hang.
func FuzzValidate(f *testing.F) {
	v, err := New(WithMaxFileSize(1 << 16))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(kustHeader+"resources:\n  - r.yaml\n", deployment)
	f.Add(kustHeader+"resources:\n  - r.yaml\npatches:\n  - target:\n      kind: Deployment\n    patch: |\n      - op: remove\n        path: /spec\n", helmRelease)
	f.Add(kustHeader+"resources: [r.yaml, ../x, https://e.com/a]\n", "a: &a [*a]\n")
	f.Add("resources: r.yaml", "- [\n")
	f.Add(kustHeader+"resources:\n  - r.yaml\n", "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b, *b]\n")
	f.Add(kustHeader+"configMapGenerator:\n  - name: c\n    files: [r.yaml]\n", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: '!!'}\n")
	f.Fuzz(func(t *testing.T, kust, res string) {
		files := fstest.MapFS{
			"kustomization.yaml": &fstest.MapFile{Data: []byte(kust)},
			"r.yaml":             &fstest.MapFile{Data: []byte(res)},
			"sub/other.yaml":     &fstest.MapFile{Data: []byte(res)},
		}
		if _, err := v.Validate(context.Background(), files, Options{Prefix: "c/"}); err != nil {
			t.Fatalf("Validate returned an internal error: %v", err)
		}
	})
}
