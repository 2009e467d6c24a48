package kustomize

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// exampleArtifacts lists the example repositories' artifacts: one per
// component in the apps and infra examples, the whole fleet example.
func exampleArtifacts(t testing.TB) map[string]string {
	t.Helper()
	root := filepath.Join("..", "..", "testdata")
	out := map[string]string{}
	for _, repo := range []string{"apps", "infra"} {
		entries, err := os.ReadDir(filepath.Join(root, repo, "components"))
		if err != nil {
			t.Fatalf("example repository %s is missing: %v", repo, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				out[repo+"/components/"+e.Name()+"/"] = filepath.Join(root, repo, "components", e.Name())
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root, "fleet")); err != nil {
		t.Fatalf("example repository fleet is missing: %v", err)
	}
	out["fleet/"] = filepath.Join(root, "fleet")
	return out
}

func TestExamplesPass(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for prefix, dir := range exampleArtifacts(t) {
		t.Run(prefix, func(t *testing.T) {
			t.Parallel()
			got, err := v.Validate(context.Background(), os.DirFS(dir), Options{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, f := range got {
				b.WriteString(f.Severity.String() + " " + f.String() + "\n")
			}
			if HasErrors(got) {
				t.Errorf("example %s has errors:\n%s", prefix, b.String())
			}
			golden := filepath.Join("testdata", "golden", strings.ReplaceAll(strings.TrimSuffix(prefix, "/"), "/", "_")+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("findings differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}
