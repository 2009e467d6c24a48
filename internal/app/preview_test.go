package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/registry"
)

func write(t testing.TB, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
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
