package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func prunePlanFixture() []Result {
	return []Result{{
		Component: "frontend", Repository: "ghcr.io/acme/apps/frontend", Status: Planned,
		Prune: &PrunePlan{
			Versions: []PruneVersion{
				{Digest: "sha256:" + strings.Repeat("1", 64), Tags: []string{"main-1a2b3c4d"}, AgeHours: 24 * 90, Action: "delete", Reason: "deleted: build older than 30 days"},
				{Digest: "sha256:" + strings.Repeat("2", 64), Tags: []string{"latest", "main-2b3c4d5e"}, AgeHours: 3, Action: "keep", Reason: "kept: tag latest"},
				// A tag name a hostile registry made up, trying to inject markdown and a command.
				{Digest: "sha256:" + strings.Repeat("3", 64), Tags: []string{"x|<img src=x>`"}, AgeHours: -1, Action: "keep", Reason: "kept: tag x|<img>\n::error::owned"},
			},
			Orphans: []PruneOrphan{{Subject: "sha256:" + strings.Repeat("4", 64), Tags: []string{"sha256-" + strings.Repeat("4", 64) + ".sig"}}},
			Deleted: 1, Kept: 2, Attachments: 4, BytesFreed: 2048,
			Failures: []string{"deleting x: 500\n::error::x"},
		},
	}}
}

func TestPruneMarkdown(t *testing.T) {
	t.Parallel()
	doc := NewSummary(NewBudget(SummaryBudget))
	PruneMarkdown(doc, prunePlanFixture(), true)
	md := doc.Close()
	for _, want := range []string{"dry run", "| frontend | 1 | 2 | 0 | 4 | 2.0 KiB | 1 |", "| delete | `sha256:111111111111` | 90d |", "| sweep |"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	// The hostile tag stays inside a code span; the reason's markup is escaped.
	if !strings.Contains(md, "`` x\\|<img src=x>` ``") || !strings.Contains(md, "&lt;img&gt;") || strings.Contains(md, "\n::error") {
		t.Errorf("a hostile tag or reason renders as markup:\n%s", md)
	}
	// The delete rows come first.
	if strings.Index(md, "| delete |") > strings.Index(md, "| keep |") {
		t.Errorf("deleted digests are not listed first:\n%s", md)
	}
}

func TestWritePruneText(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WritePruneText(&b, prunePlanFixture()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"delete 1, keep 2", "main-1a2b3c4d", "orphan", "failed:"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "::") {
			t.Errorf("a line starts a workflow command: %q", line)
		}
	}
}

// TestPruneMarkdownBudget: thousands of versions over many components stay within the summary's
// budget, every plan that is shown closes its <details>, and the cuts say how much they left out.
func TestPruneMarkdownBudget(t *testing.T) {
	t.Parallel()
	var rs []Result
	for c := 0; c < 40; c++ {
		p := &PrunePlan{}
		for v := 0; v < 3000; v++ {
			p.Versions = append(p.Versions, PruneVersion{Digest: fmt.Sprintf("sha256:%064x", c*10000+v), Tags: []string{fmt.Sprintf("main-%08x", v)},
				AgeHours: 24 * 90, Action: "delete", Reason: strings.Repeat("deleted: build older than 30 days ", 20)})
		}
		rs = append(rs, Result{Component: fmt.Sprintf("c%02d", c), Prune: p})
	}
	for _, budget := range []int{0, 300, 4 << 10, 64 << 10, SummaryBudget} {
		doc := NewSummary(NewBudget(budget))
		PruneMarkdown(doc, rs, false)
		md := doc.Close()
		if len(md) > budget {
			t.Errorf("budget %d: wrote %d bytes", budget, len(md))
		}
		if open, closed := strings.Count(md, "<details>"), strings.Count(md, "</details>"); open != closed {
			t.Errorf("budget %d: %d <details> but %d closed", budget, open, closed)
		}
		if budget == SummaryBudget && !strings.Contains(md, "more rows not shown") {
			t.Errorf("budget %d: no cut says how many rows were left out", budget)
		}
	}
}

// TestPruneResultShrinks: the plan of a repository of thousands of versions stays in the result
// output, shrunk to the rows the summary shows with its counts whole, instead of its entry being
// left out whole for want of room.
func TestPruneResultShrinks(t *testing.T) {
	t.Parallel()
	p := &PrunePlan{Deleted: 5000}
	for i := range 5000 {
		p.Versions = append(p.Versions, PruneVersion{Digest: fmt.Sprintf("sha256:%064x", i), Tags: []string{fmt.Sprintf("main-%08x", i)},
			Action: "delete", Reason: "older than the newest 10"})
		p.Left = append(p.Left, strings.Repeat("x", 4<<10))
	}
	out := ResultJSON([]Result{{Component: "frontend", Status: Pruned, Prune: p}}, OutputsBudget)
	var rs []Result
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if len(rs) != 1 || rs[0].Component != "frontend" || rs[0].Prune == nil {
		t.Fatalf("the component's entry is left out of the result output: %.300s", out)
	}
	got := rs[0].Prune
	if got.Deleted != 5000 || len(got.Versions) != maxPruneRows {
		t.Errorf("shrunk plan: deleted %d, %d versions; want 5000, %d", got.Deleted, len(got.Versions), maxPruneRows)
	}
	if n := len(got.Left); n < 2 || n > maxPruneRows || !strings.Contains(got.Left[n-1], "not shown") || len(got.Left[0]) > resultText+200 {
		t.Errorf("shrunk plan: %d left, want a few cut texts and a last line counting the rest", n)
	}
	if len(p.Versions) != 5000 {
		t.Errorf("shrinking changed the plan itself")
	}
}
