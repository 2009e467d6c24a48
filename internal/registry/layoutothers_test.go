package registry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

// TestLayoutNeverMixesWithOthersFiles: a folder of a user's own (manifests in dist/) is not made
// a layout: the push is refused, naming the folder and a file in it, and nothing is written.
// A folder that an interrupted layout write left is finished.
func TestLayoutNeverMixesWithOthersFiles(t *testing.T) {
	t.Parallel()
	img, err := random.Image(16, 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files []string
		want  string // "" when the push succeeds
	}{
		{"user's manifests", []string{"install.yaml"}, `the folder holds other files ("install.yaml")`},
		{"user's sub-folder", []string{"charts/x.yaml"}, `("charts")`},
		{"interrupted write", []string{"oci-layout", ".index-123.json", "blobs/sha256/x"}, ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, f := range tt.files {
				p := filepath.Join(dir, filepath.FromSlash(f))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := OpenLayout(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Push(context.Background(), img)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Push: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "oci-layout:DIR") {
				t.Fatalf("Push = %v, want an error saying %q and what to do", err, tt.want)
			}
			for _, f := range []string{"oci-layout", "index.json", "blobs"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%s was written among the user's files", f)
				}
			}
		})
	}
}
