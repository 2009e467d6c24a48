package artifact

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkBuild builds a typical d2-apps component: base, staging and
// production, 8 YAML files each of a few hundred bytes to a few KiB.
func BenchmarkBuild(b *testing.B) {
	dir := b.TempDir()
	tree := map[string]entry{}
	for _, folder := range []string{"base", "staging", "production"} {
		for i := range 8 {
			doc := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-%d\ndata:\n", folder, i)
			doc += strings.Repeat(fmt.Sprintf("  key%d: some value for %s\n", i, folder), 20*(i+1))
			tree[fmt.Sprintf("%s/file%d.yaml", folder, i)] = entry{Data: doc}
		}
	}
	writeTree(b, dir, tree, nil)
	l := mustBuild(b, dir)
	var raw int
	for _, f := range l.Files {
		raw += len(f.Data)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(dir); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(raw), "content-bytes")
	b.ReportMetric(float64(l.Size), "layer-bytes")
}
