//go:build unix

package registry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLayoutManifestReadBounded: a manifest read from an OCI layout folder (which a preview reads,
// and which may sit in the checkout) is capped at ManifestLimit as a registry's answer is, and a
// FIFO, a folder or a link at a manifest's name is refused without being read, never waited on.
func TestLayoutManifestReadBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		replace func(t *testing.T, p string)
		want    string
	}{
		{"larger than a manifest", func(t *testing.T, p string) {
			if err := os.WriteFile(p, make([]byte, ManifestLimit+1), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "more than 4194304 bytes, the most a manifest may weigh"},
		{"a FIFO", func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatalf("mkfifo: %v", err)
			}
		}, "is not a regular file"},
		{"a folder", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "is not a regular file"},
		{"a link", func(t *testing.T, p string) {
			target := filepath.Join(t.TempDir(), "config")
			if err := os.WriteFile(target, []byte(`{"schemaVersion":2}`), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
		}, "is a symlink"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "frontend")
			s, err := New().Open("oci-layout:" + dir)
			if err != nil {
				t.Fatal(err)
			}
			m := mustPush(t, s, fluxImage(t, "one"))
			mustTag(t, s, m, "latest")
			p := filepath.Join(dir, "blobs", "sha256", m.Digest.Hex)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			tt.replace(t, p)
			if _, err := s.Get(ctx, "latest"); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Get(latest) = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestReadLayoutBlob: the preview's read of a published layer from a layout folder: the layer
// whole when it matches its descriptor; refused when it is larger than the bound, does not match
// its digest, or is a link (as the store's manifests).
func TestReadLayoutBlob(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "frontend")
	s, err := New().Open("oci-layout:" + dir)
	if err != nil {
		t.Fatal(err)
	}
	m := mustPush(t, s, fluxImage(t, "one"))
	desc := m.Parsed.Layers[0]
	if b, err := ReadLayoutBlob(dir, desc, desc.Size); err != nil || int64(len(b)) != desc.Size {
		t.Fatalf("ReadLayoutBlob = %d bytes, %v; want the layer", len(b), err)
	}
	if _, err := ReadLayoutBlob(dir, desc, desc.Size-1); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("over the bound: %v", err)
	}
	short := desc
	short.Size--
	if _, err := ReadLayoutBlob(dir, short, desc.Size); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Errorf("a size that does not match: %v", err)
	}
	p := filepath.Join(dir, "blobs", "sha256", desc.Digest.Hex)
	if err := os.Rename(p, p+".real"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(desc.Digest.Hex+".real", p); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLayoutBlob(dir, desc, desc.Size); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("a link: %v", err)
	}
}
