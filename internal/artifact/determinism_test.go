package artifact

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// canonical is the component as a checkout under umask 022 writes it.
func canonical(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	tree := component()
	tree["scripts/render.sh"] = entry{Data: "#!/bin/sh\n", Mode: 0o755}
	writeTree(t, dir, tree, nil)
	chmodDirs(t, dir, 0o755)
	return dir
}

func TestDigestIgnoresFileSystemMetadata(t *testing.T) {
	t.Parallel()
	want := mustBuild(t, canonical(t))

	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
	}{
		{"umask 077 modes", func(t *testing.T, dir string) {
			tree := component()
			for p, e := range tree {
				e.Mode = 0o600
				tree[p] = e
			}
			tree["scripts/render.sh"] = entry{Data: "#!/bin/sh\n", Mode: 0o700}
			writeTree(t, dir, tree, nil)
			chmodDirs(t, dir, 0o700)
		}},
		{"umask 002 modes", func(t *testing.T, dir string) {
			tree := component()
			for p, e := range tree {
				e.Mode = 0o664
				tree[p] = e
			}
			tree["scripts/render.sh"] = entry{Data: "#!/bin/sh\n", Mode: 0o775}
			writeTree(t, dir, tree, nil)
			chmodDirs(t, dir, 0o775)
		}},
		{"only owner exec bit", func(t *testing.T, dir string) {
			tree := component()
			tree["scripts/render.sh"] = entry{Data: "#!/bin/sh\n", Mode: 0o744}
			writeTree(t, dir, tree, nil)
			chmodDirs(t, dir, 0o750)
		}},
		{"mtimes spread over decades", func(t *testing.T, dir string) {
			tree := component()
			tree["scripts/render.sh"] = entry{Data: "#!/bin/sh\n", Mode: 0o755}
			writeTree(t, dir, tree, nil)
			chmodDirs(t, dir, 0o755)
			ts := time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)
			err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
				if err != nil {
					return err
				}
				ts = ts.Add(97 * 24 * time.Hour)
				return os.Chtimes(p, ts, ts)
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"reverse creation order", func(t *testing.T, dir string) {
			tree := component()
			tree["scripts/render.sh"] = entry{Data: "#!/bin/sh\n", Mode: 0o755}
			var order []string
			for p := range tree {
				order = append(order, p)
			}
			slices.Sort(order)
			slices.Reverse(order)
			writeTree(t, dir, tree, order)
			chmodDirs(t, dir, 0o755)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tt.setup(t, dir)
			got := mustBuild(t, dir)
			if got.Digest != want.Digest {
				t.Errorf("Digest = %s, want %s (the canonical checkout's)", got.Digest, want.Digest)
			}
		})
	}
}

func TestDigestChangesWithContent(t *testing.T) {
	t.Parallel()
	base := mustBuild(t, canonical(t))
	tests := []struct {
		name string
		edit func(t *testing.T, dir string)
	}{
		{"one byte", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]entry{"staging/values.yaml": {Data: "replicas: 2\n"}}, nil)
		}},
		{"exec bit dropped", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "scripts/render.sh"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"new empty directory", func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]entry{"extra/": {}}, nil)
		}},
		{"rename", func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "staging/values.yaml"), filepath.Join(dir, "staging/values2.yaml")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := canonical(t)
			tt.edit(t, dir)
			if got := mustBuild(t, dir); got.Digest == base.Digest {
				t.Errorf("Digest unchanged after the edit: %s", got.Digest)
			}
		})
	}
}

// The tests below change process-wide state, so they do not run in parallel;
// Go runs them while the parallel tests are paused.

func TestDigestIgnoresTimeZone(t *testing.T) {
	dir := canonical(t)
	want := mustBuild(t, dir)
	saved := time.Local
	t.Cleanup(func() { time.Local = saved })
	for _, tz := range []*time.Location{time.FixedZone("UTC+9", 9*3600), time.FixedZone("UTC-11", -11*3600)} {
		time.Local = tz
		if got := mustBuild(t, dir); got.Digest != want.Digest {
			t.Errorf("under %s: Digest = %s, want %s", tz, got.Digest, want.Digest)
		}
	}
}

func TestRebuildIsIdentical(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, fluxTree(), nil)
	first := mustBuild(t, dir)
	for range 3 {
		again := mustBuild(t, dir)
		if again.Digest != first.Digest || again.DiffID != first.DiffID || again.Size != first.Size {
			t.Fatalf("rebuild: %s %s %d, first %s %s %d", again.Digest, again.DiffID, again.Size, first.Digest, first.DiffID, first.Size)
		}
	}
}
