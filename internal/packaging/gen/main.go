// Command gen writes action.yml and the README's inputs and outputs tables from the option and
// output tables of internal/config. Run it with `go generate ./internal/packaging`; CI runs it
// and fails when the committed files differ.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fleetpush/fleetpush/internal/packaging"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := packaging.ModuleRoot(".")
	if err != nil {
		return err
	}
	files, err := packaging.Generate(root)
	if err != nil {
		return err
	}
	for _, f := range files {
		path := filepath.Join(root, f.Path)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, f.Data) {
			continue
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "gen: wrote %s\n", f.Path)
	}
	return nil
}
