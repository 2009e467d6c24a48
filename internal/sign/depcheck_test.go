package sign_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestSigstoreStaysInSign holds the line that internal/sign is the only way into sigstore:
// from any package of the module, every path to a github.com/sigstore package must go through
// internal/sign. (The idea of go-containerregistry's depcheck tests, adapted to one allowed
// gateway.) It reads the import graph with `go list`, so packages added later are checked too.
func TestSigstoreStaysInSign(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	cmd := exec.Command("go", "list", "-e", "-deps", "-json=ImportPath,Imports,Module,Standard", "../../...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}

	const gateway = "github.com/fleetpush/fleetpush/internal/sign"
	imports := map[string][]string{}
	var own []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
			Module     *struct{ Path string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list: %v", err)
		}
		imports[p.ImportPath] = p.Imports
		if p.Module != nil && p.Module.Path == "github.com/fleetpush/fleetpush" {
			own = append(own, p.ImportPath)
		}
	}
	if len(own) == 0 {
		t.Fatal("go list found no package of the module")
	}

	// The gateway itself must reach sigstore, or the check below proves nothing.
	if pathTo(gateway, imports, "") == nil {
		t.Fatal("internal/sign does not import sigstore: go list output not understood")
	}
	for _, root := range own {
		if root == gateway || strings.HasPrefix(root, gateway+"/") {
			continue
		}
		if path := pathTo(root, imports, gateway); path != nil {
			t.Errorf("%s reaches sigstore without going through internal/sign: %s", root, strings.Join(path, " -> "))
		}
	}
}

// pathTo finds an import path from root to a sigstore package that avoids gateway.
func pathTo(root string, imports map[string][]string, gateway string) []string {
	seen := map[string]bool{}
	var walk func(pkg string) []string
	walk = func(pkg string) []string {
		if seen[pkg] || pkg == gateway {
			return nil
		}
		seen[pkg] = true
		if strings.HasPrefix(pkg, "github.com/sigstore/") {
			return []string{pkg}
		}
		for _, imp := range imports[pkg] {
			if p := walk(imp); p != nil {
				return append([]string{pkg}, p...)
			}
		}
		return nil
	}
	return walk(root)
}
