package kustomize

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// TestSchemaLinkIntoGitIsNotRead: a schema location in the checkout whose schema file is a link
// into .git (or that lies in .git) is not read; the finding says why. A link elsewhere is read.
func TestSchemaLinkIntoGitIsNotRead(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile(filepath.Join("testdata", "schemas", "example.com", "widget_v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{
		"kustomization.yaml": file(kustHeader + "resources:\n  - widget.yaml\n"),
		"widget.yaml":        file("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  color: 3\n"),
	}
	for _, tt := range []struct {
		name, link string // link: the schema file's target, relative to schemas/example.com
		loc        string
		refused    bool
	}{
		{"link into .git", "../../.git/widget.json", "schemas", true},
		{"link into .GIT", "../../.GIT/widget.json", "schemas", true},
		{"location in .git", "", ".git/schemas", true},
		{"link elsewhere", "../../shared/widget.json", "schemas", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			top := t.TempDir()
			for _, d := range []string{".git", ".GIT", "shared", "schemas/example.com", ".git/schemas/example.com"} {
				if err := os.MkdirAll(filepath.Join(top, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range []string{".git/widget.json", ".GIT/widget.json", "shared/widget.json", ".git/schemas/example.com/widget_v1.json"} {
				if err := os.WriteFile(filepath.Join(top, p), schema, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.link != "" {
				if err := os.Symlink(tt.link, filepath.Join(top, "schemas", "example.com", "widget_v1.json")); err != nil {
					t.Fatal(err)
				}
			}
			got, err := v.Validate(context.Background(), files, Options{SchemaLocations: []string{filepath.Join(top, tt.loc)}})
			if err != nil {
				t.Fatal(err)
			}
			var msgs []string
			for _, f := range got {
				msgs = append(msgs, f.Message)
			}
			all := strings.Join(msgs, "\n")
			if tt.refused != strings.Contains(all, "leads into a .git folder") {
				t.Errorf("findings %q: refused = %v, want %v", msgs, !tt.refused, tt.refused)
			}
			if !tt.refused && !strings.Contains(all, "spec.color: expected string") {
				t.Errorf("findings %q: the schema behind the link was not applied", msgs)
			}
		})
	}
}
