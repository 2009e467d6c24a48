package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/registry"
)

// TestWritePreviewFileHostileCheckout: the pull request controls the checkout, so whatever it
// committed at the comment file's name (a link to a runner file, a link into the checkout, a
// file) is replaced, never written through.
func TestWritePreviewFileHostileCheckout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, ws, outside string)
	}{
		{"nothing there", func(*testing.T, string, string) {}},
		{"a file", func(t *testing.T, ws, _ string) { write(t, filepath.Join(ws, previewFile), "old") }},
		{"a link out of the checkout", func(t *testing.T, ws, outside string) { link(t, outside, filepath.Join(ws, previewFile)) }},
		{"a link into the checkout", func(t *testing.T, ws, _ string) {
			write(t, filepath.Join(ws, "kustomization.yaml"), "keep")
			link(t, "kustomization.yaml", filepath.Join(ws, previewFile))
		}},
		{"a dangling link", func(t *testing.T, ws, _ string) { link(t, "/nonexistent/x", filepath.Join(ws, previewFile)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws, other := t.TempDir(), t.TempDir()
			outside := filepath.Join(other, "GITHUB_OUTPUT")
			write(t, outside, "keep")
			tt.setup(t, ws, outside)
			p, err := writePreviewFile(ws, "preview")
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(filepath.Join(ws, p))
			if err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("%s: %v, %v; want a regular file", p, fi, err)
			}
			if b, _ := os.ReadFile(filepath.Join(ws, p)); string(b) != "preview" {
				t.Errorf("%s holds %q", p, b)
			}
			for _, f := range []string{outside, filepath.Join(ws, "kustomization.yaml")} {
				if b, err := os.ReadFile(f); err == nil && string(b) != "keep" {
					t.Errorf("%s was written through a link: %q", f, b)
				}
			}
		})
	}
	// A folder at the name cannot be replaced: an error (a warning of the run), nothing written.
	ws := t.TempDir()
	write(t, filepath.Join(ws, previewFile, "x"), "keep")
	if _, err := writePreviewFile(ws, "preview"); err == nil {
		t.Error("a folder at the name: no error")
	}
}

func write(t testing.TB, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// TestPreviewBlobLimitIsTheRegistrys: the published layer a preview reads is bounded as every
// blob the registry client reads (max-size, or its default), from a layout folder too.
func TestPreviewBlobLimitIsTheRegistrys(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		max  int64
		want int64
	}{
		{"max-size", 10 << 20, registry.BlobLimit(10 << 20)},
		{"default", 0, registry.BlobLimit(artifact.DefaultMaxBytes)},
		{"unbounded", -1, registry.BlobLimit(artifact.DefaultMaxBytes)},
	} {
		if got := previewBlobLimit(artifact.Limits{MaxBytes: tt.max}); got != tt.want {
			t.Errorf("%s: the preview reads up to %d bytes, the registry client %d", tt.name, got, tt.want)
		}
	}
}
