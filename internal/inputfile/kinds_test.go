package inputfile

import (
	"os"
	"strings"
	"testing"
)

// TestKindsInReadme: every file an input names has its row in the README's Limits table, with
// its input and its cap on the same line, so the table cannot drift from the code.
func TestKindsInReadme(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## Limits")
	if start < 0 {
		t.Fatal("README has no Limits section")
	}
	limits := readme[start:]
	if end := strings.Index(limits[2:], "\n## "); end >= 0 {
		limits = limits[:end+2]
	}
	for _, k := range Kinds() {
		found := false
		for _, line := range strings.Split(limits, "\n") {
			if strings.Contains(line, "`"+k.Input+"`") && strings.Contains(line, Size(k.Max)) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("the README's Limits table has no row naming `%s` with its cap %s", k.Input, Size(k.Max))
		}
	}
}
