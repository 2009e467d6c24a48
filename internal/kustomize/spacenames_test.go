package kustomize

import (
	"context"
	"testing"
	"testing/fstest"
)

// TestNamesWithSpacesBuild: kustomize builds files and folders whose names
// start or end with a space, or hold other letters; the checks before the
// build take each reference as kustomize does, not trimmed.
func TestNamesWithSpacesBuild(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	cm := func(name string) *fstest.MapFile {
		return file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n")
	}
	tests := []struct {
		name  string
		files fstest.MapFS
	}{
		{"leading space", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources:\n  - \" cm.yaml\"\n"), " cm.yaml": cm("a")}},
		{"trailing space", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources:\n  - \"cm.yaml \"\n"), "cm.yaml ": cm("a")}},
		{"only spaces around", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [\"  cm  .yaml  \"]\n"), "  cm  .yaml  ": cm("a")}},
		{"folder with a leading space", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources:\n  - \" base\"\n"),
			" base/kustomization.yaml": file(kustHeader + "resources: [\"cm.yaml\"]\n"), " base/cm.yaml": cm("a")}},
		{"patch with a leading space", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [cm.yaml]\npatches:\n  - path: \" p.yaml\"\n"),
			"cm.yaml": cm("a"), " p.yaml": file("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n")}},
		{"generator file with a leading space", fstest.MapFS{"kustomization.yaml": file(kustHeader + "configMapGenerator:\n  - name: g\n    files:\n      - \" settings.txt\"\n      - \"key= other.txt\"\n"),
			" settings.txt": file("x"), " other.txt": file("y")}},
		{"unicode and spaces", fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources:\n  - \" café ☃.yaml \"\n"), " café ☃.yaml ": cm("a")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Validate(context.Background(), tt.files, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if HasErrors(got) {
				t.Errorf("findings: %v", got)
			}
		})
	}
	// The same name without its space is still missing: nothing is trimmed.
	got, err := v.Validate(context.Background(), fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources:\n  - \" cm.yaml\"\n"), "cm.yaml": cm("a")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !HasErrors(got) {
		t.Errorf("findings %v: want \" cm.yaml\" reported missing", got)
	}
}
