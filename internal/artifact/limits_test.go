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
		name    string
		limits  Limits
		wantErr string // "" means success
	}{
		{"defaults", Limits{}, ""},
		{"files at the limit", Limits{MaxFiles: 9}, ""},
		{"too many files", Limits{MaxFiles: 8}, "Limits.MaxFiles"},
		{"bytes at the limit", Limits{MaxBytes: 501}, ""},
		{"too many bytes", Limits{MaxBytes: 500}, "Limits.MaxBytes"},
		{"path at the limit", Limits{MaxPathLen: 101}, ""},
		{"path too long", Limits{MaxPathLen: 100}, "Limits.MaxPathLen"},
		{"negative means unlimited", Limits{MaxFiles: -1, MaxBytes: -1, MaxPathLen: -1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, tree, nil)
			_, err := Build(dir, WithLimits(tt.limits))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Build: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Build succeeded, want an error naming %s", tt.wantErr)
			}
			if !errors.Is(err, ErrLimit) {
				t.Errorf("error %q does not wrap ErrLimit", err)
			}
			for _, want := range []string{tt.wantErr, "WithLimits", dir} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
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
