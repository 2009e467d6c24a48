package kustomize

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// TestRendered: every kustomization folder hands over what it rendered, patched, as JSON, and a
// folder that does not build hands over nothing.
func TestRendered(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{
		"base/kustomization.yaml": file(kustHeader + "resources: [deploy.yaml]\n"),
		"base/deploy.yaml":        file(deployment),
		"prod/kustomization.yaml": file(kustHeader + "resources: [../base]\npatches:\n- patch: |\n    - {op: replace, path: /spec/replicas, value: 5}\n  target: {kind: Deployment}\n"),
		"bad/kustomization.yaml":  file(kustHeader + "resources: [missing.yaml]\n"),
	}
	var mu sync.Mutex
	got := map[string][]string{}
	_, err = v.Validate(context.Background(), files, Options{Rendered: func(dir string, objs [][]byte) {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range objs {
			got[dir] = append(got[dir], string(o))
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	dirs := slices.Sorted(func(yield func(string) bool) {
		for d := range got {
			if !yield(d) {
				return
			}
		}
	})
	if diff := cmp.Diff([]string{"base", "prod"}, dirs); diff != "" {
		t.Errorf("folders (-want +got):\n%s", diff)
	}
	if len(got["prod"]) != 1 || !strings.Contains(got["prod"][0], `"replicas":5`) || strings.Contains(got["prod"][0], patchCheckKey) {
		t.Errorf("prod rendered %q, want the patched Deployment without the patch marks", got["prod"])
	}
	if len(got["base"]) != 1 || !strings.Contains(got["base"][0], `"replicas":2`) {
		t.Errorf("base rendered %q", got["base"])
	}
}
