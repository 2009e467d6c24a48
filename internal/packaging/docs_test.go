package packaging

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var mdLink = regexp.MustCompile(`\]\(([^)\s#]*)(#[^)\s]*)?\)`)

// TestDocsLinks keeps the relative links of docs/ (examples, workflows, other pages) pointing at
// files that exist, so renaming an example cannot quietly break the migration guide.
func TestDocsLinks(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no pages under docs/ (%v)", err)
	}
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(page), filepath.FromSlash(target))); err != nil {
				t.Errorf("%s links to %s, which does not exist", filepath.Base(page), target)
			}
		}
	}
}

// TestREADMEPreviewExample: the README's rendered comment is the preview's golden file (its
// first component), so the example cannot drift from what fleetpush writes.
func TestREADMEPreviewExample(t *testing.T) {
	t.Parallel()
	golden := string(readRepoFile(t, "internal/report/testdata/preview.md"))
	i := strings.Index(golden, "#### metrics")
	if i < 0 {
		t.Fatal("the golden preview no longer has the metrics component the README example stops at")
	}
	if readme := string(readRepoFile(t, "README.md")); !strings.Contains(readme, strings.TrimRight(golden[:i], "\n")+"\n") {
		t.Error("README's preview example differs from internal/report/testdata/preview.md (up to #### metrics): copy it again")
	}
}
