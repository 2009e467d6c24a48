package kustomize

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hostileOptions are the validator options of the fixtures that need any.
var hostileOptions = map[string][]Option{
	"empty-allowed": {WithAllowEmpty(true)},
}

// hostileDir maps a case to its fixture folder: a case "x-allowed" reuses
// the files of "x" with other options.
func hostileDir(name string) string {
	return filepath.Join("testdata", "hostile", strings.TrimSuffix(name, "-allowed"))
}

// TestHostile validates each folder of testdata/hostile, a regression case
// of a hostile or careless repository, and compares every finding with
// testdata/hostile/<case>.want (one Go-quoted finding a line; -update
// rewrites them). The bomb-* cases are left to TestBombsUnderMemoryLimit,
// which runs them in a child process under a memory ceiling: a guard that
// let a bomb through would otherwise take this process, and the machine,
// down.
func TestHostile(t *testing.T) {
	t.Parallel()
	for _, name := range hostileCases(t) {
		if strings.HasPrefix(name, "bomb-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkHostile(t, name)
		})
	}
}

func hostileCases(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("testdata", "hostile"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []string{"empty-allowed"}
	for _, e := range entries {
		if e.IsDir() {
			cases = append(cases, e.Name())
		}
	}
	return cases
}

func checkHostile(t *testing.T, name string) {
	t.Helper()
	v, err := New(hostileOptions[name]...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Validate(context.Background(), os.DirFS(hostileDir(name)), Options{Prefix: "components/" + name + "/"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range got {
		b.WriteString(f.Severity.String() + " " + strconv.Quote(f.String()) + "\n")
	}
	want := filepath.Join("testdata", "hostile", name+".want")
	if *update {
		if err := os.WriteFile(want, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(want)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(data), b.String()); diff != "" {
		t.Errorf("findings differ from %s (-want +got):\n%s", want, diff)
	}
}
