package kustomize

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
)

// TestSchemaFileNotRegular: a schema location whose file for a kind is a FIFO (which nobody
// writes) or a symlink to an endless device gives a finding for the object, without hanging or
// reading without end.
func TestSchemaFileNotRegular(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{
		"kustomization.yaml": file(kustHeader + "resources:\n  - widget.yaml\n"),
		"widget.yaml":        file("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 1\n"),
	}
	for name, make := range map[string]func(p string) error{
		"fifo":      func(p string) error { return syscall.Mkfifo(p, 0o600) },
		"/dev/zero": func(p string) error { return os.Symlink("/dev/zero", p) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := make(filepath.Join(dir, "widget.json")); err != nil {
				t.Fatal(err)
			}
			got, err := v.Validate(context.Background(), files, Options{SchemaLocations: []string{dir + "/{{ .ResourceKind }}.json"}})
			if err != nil {
				t.Fatal(err)
			}
			var msgs []string
			for _, f := range got {
				msgs = append(msgs, f.Message)
			}
			if all := strings.Join(msgs, "\n"); !strings.Contains(all, "not a regular file") {
				t.Errorf("findings %q do not say the schema file is not a regular file", all)
			}
		})
	}
}
