package artifact

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestLimits(t *testing.T) {
	t.Parallel()
	tree := map[string]entry{}
	for i := range 5 {
		tree[fmt.Sprintf("d/f%d.yaml", i)] = entry{Data: strings.Repeat("x", 100)}
	}
	tree[strings.Repeat("p", 50)+"/"+strings.Repeat("q", 50)] = entry{Data: "y"}

	tests := []struct {
		name   string
		limits Limits
		// want are the words the error must hold: the input that raises
		// the limit, and what else to do; nil means success.
		want []string
	}{
		{"defaults", Limits{}, nil},
		{"files at the limit", Limits{MaxFiles: 9}, nil},
		{"too many files", Limits{MaxFiles: 8}, []string{"raise max-files", "ignore-paths"}},
		{"bytes at the limit", Limits{MaxBytes: 501}, nil},
		{"too many bytes", Limits{MaxBytes: 500}, []string{"raise max-size", "ignore-paths"}},
		{"file at the limit", Limits{MaxFileSize: 100}, nil},
		{"file too large", Limits{MaxFileSize: 99}, []string{`"d/f0.yaml": 100 bytes`, "raise max-file-size", "ignore-paths"}},
		{"path at the limit", Limits{MaxPathLen: 101}, nil},
		// No input raises the path limit (it is the OS's): the error does
		// not suggest raising anything.
		{"path too long", Limits{MaxPathLen: 100}, []string{"shorten it", "ignore-paths"}},
		{"negative means unlimited", Limits{MaxFiles: -1, MaxBytes: -1, MaxPathLen: -1, MaxFileSize: -1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, tree, nil)
			_, err := Build(dir, WithLimits(tt.limits))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Build: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Build succeeded, want an error saying %q", tt.want)
			}
			if !errors.Is(err, ErrLimit) {
				t.Errorf("error %q does not wrap ErrLimit", err)
			}
			for _, want := range append(tt.want, dir) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "WithLimits") || strings.Contains(err.Error(), "Limits.") {
				t.Errorf("error %q names the Go API, not the input", err)
			}
		})
	}
}

// The default per-file limit is the validator's, 16 MiB: a 17 MB file is
// refused by name, and max-file-size lets it through.
func TestMaxFileSizeDefault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]entry{"big.bin": {Data: strings.Repeat("z", 17_000_000)}}, nil)
	_, err := Build(dir)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "max-file-size (16777216 bytes)") {
		t.Fatalf("Build = %v, want the max-file-size limit of 16777216 bytes", err)
	}
	if _, err := Build(dir, WithLimits(Limits{MaxFileSize: 32 << 20})); err != nil {
		t.Errorf("Build with max-file-size 32 MiB: %v", err)
	}
}

func TestBuildRejectsNonDirectories(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]entry{"file.yaml": {Data: "x"}}, nil)
	for _, p := range []string{dir + "/file.yaml", dir + "/missing"} {
		if _, err := Build(p); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", p)) {
			t.Errorf("Build(%q) = %v, want an error naming the path", p, err)
		}
	}
}
