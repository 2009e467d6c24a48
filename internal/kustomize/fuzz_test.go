package kustomize

import (
	"context"
	"fmt"
	"strings"
	"sync"
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

// FuzzEstimate feeds arbitrary kustomizations, over a base folder and
// resource files, to the build estimate: it must never panic or hang, and
// a build it lets through never renders more objects than it estimated
// (the estimate is an upper bound, or fan-out could slip past it).
func FuzzEstimate(f *testing.F) {
	v, err := New(WithMaxFileSize(1 << 16))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(kustHeader+"resources: [base, base, r.yaml]\n", kustHeader+"namePrefix: a-\nresources: [r.yaml]\n", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n")
	f.Add(kustHeader+"components: [comp]\nresources: [base]\n", kustHeader+"resources: [r.yaml]\nconfigMapGenerator:\n- name: g\n  literals: [a=b]\n", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n---\nkind: List\nitems: []\n")
	f.Add(kustHeader+"resources: [r.yaml]\npatches:\n- target: {kind: ConfigMap}\n  patch: '[{op: copy, from: /data, path: /x}]'\n", "", "a: &a {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n---\n<<: *a\n")
	f.Add(kustHeader+"resources: [r.yaml]\n", "", "data: |\n  x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n")
	f.Fuzz(func(t *testing.T, root, base, res string) {
		files := fstest.MapFS{
			"kustomization.yaml":      &fstest.MapFile{Data: []byte(root)},
			"r.yaml":                  &fstest.MapFile{Data: []byte(res)},
			"base/kustomization.yaml": &fstest.MapFile{Data: []byte(base)},
			"base/r.yaml":             &fstest.MapFile{Data: []byte(res)},
			"comp/kustomization.yaml": &fstest.MapFile{Data: []byte("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [r.yaml]\n")},
			"comp/r.yaml":             &fstest.MapFile{Data: []byte(res)},
		}
		var mu sync.Mutex
		var under []string
		budget := NewBudget(Limits{Objects: 1000, RenderedBytes: 1 << 22})
		if _, err := v.Validate(context.Background(), files, Options{Budget: budget, observe: func(dir string, est cost, res buildResult) {
			mu.Lock()
			defer mu.Unlock()
			if res.ok && int64(res.objects) > est.objects {
				under = append(under, fmt.Sprintf("%s: rendered %d objects, estimated %d", dir, res.objects, est.objects))
			}
		}}); err != nil {
			t.Fatalf("Validate returned an internal error: %v", err)
		}
		if len(under) > 0 {
			t.Fatalf("the estimate is not an upper bound:\n%s", strings.Join(under, "\n"))
		}
	})
}

// FuzzDecodedPolicy feeds arbitrary YAML to the helpers that see through
// aliases, merge keys and Lists (the Secret policy and what Flux applies):
// they must never panic or hang, however the anchors and merges loop.
func FuzzDecodedPolicy(f *testing.F) {
	f.Add("a: &a {kind: Secret, <<: *a}\n")
	f.Add("x: &x [*x]\n")
	f.Add("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: List, items: [{kind: Secret, apiVersion: v1, data: {a: b}}]}]\n")
	f.Add("m: &m {apiVersion: v1}\n---\n<<: [*m, {kind: Secret}]\nstringData: {a: b}\n")
	f.Fuzz(func(t *testing.T, text string) {
		docs, err := decodeGuarded([]byte(text))
		if err != nil {
			return
		}
		a := &artifact{secrets: map[string]bool{}, files: map[string]bool{"f": true}}
		for _, d := range docs {
			a.checkSecretObject("f", d, 0, 0)
			appliedObjects(d, 0)
			objectsIn(d, 0)
			scalarBytes(d, 0)
			isObject(resolve(d))
		}
	})
}
