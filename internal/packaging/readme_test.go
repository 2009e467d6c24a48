package packaging

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's generated inputs section from action.yml")

const (
	readmeBegin = "<!-- BEGIN inputs -->"
	readmeEnd   = "<!-- END inputs -->"
)

// TestReadmeInputs keeps the README's inputs and outputs tables equal to what action.yml says.
// Regenerate them with: go test ./internal/packaging -run TestReadmeInputs -update
func TestReadmeInputs(t *testing.T) {
	path := filepath.Join(repoRoot(t), "README.md")
	old, err := os.ReadFile(path)
	if err != nil && !(os.IsNotExist(err) && *update) {
		t.Fatal(err)
	}
	body := "<!-- Generated from action.yml by `go test ./internal/packaging -run TestReadmeInputs -update`: edit action.yml, not this section. -->\n\n" +
		loadAction(t).MarkdownTables()
	got, err := ReplaceSection(string(old), readmeBegin, readmeEnd, body)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if got != string(old) {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if got != string(old) {
		t.Errorf("README.md's inputs section is out of date with action.yml: run go test ./internal/packaging -run TestReadmeInputs -update")
	}
}

func TestReplaceSection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, want string
		wantErr         bool
	}{
		{name: "appends when missing", doc: "# t\n", want: "# t\n\nB\nx\nE\n"},
		{name: "appends to an empty file", doc: "", want: "B\nx\nE\n"},
		{name: "replaces between markers", doc: "a\nB\nold\nE\nz\n", want: "a\nB\nx\nE\nz\n"},
		{name: "end before begin", doc: "E\nB\n", wantErr: true},
		{name: "end missing", doc: "B\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReplaceSection(tt.doc, "B", "E", "x\n")
			if (err != nil) != tt.wantErr {
				t.Fatalf("ReplaceSection() error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ReplaceSection() = %q, want %q", got, tt.want)
			}
		})
	}
}
