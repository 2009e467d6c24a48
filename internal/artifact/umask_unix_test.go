//go:build unix

package artifact

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Not parallel: the umask is process-wide.
func TestDigestIgnoresUmask(t *testing.T) {
	want := mustBuild(t, canonical(t))
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })

	dir := t.TempDir()
	for p, e := range component() {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(e.Data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scripts/render.sh"), []byte("#!/bin/sh\n"), 0o777); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "base/release.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("umask not applied: mode %o", fi.Mode().Perm())
	}
	if got := mustBuild(t, dir); got.Digest != want.Digest {
		t.Errorf("under umask 077: Digest = %s, want %s", got.Digest, want.Digest)
	}
}
