package report

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func moreTrailer(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("… %d more not shown\n", n)
}

// checkCut holds the budgeted writer's promises for one section over units: the text is a prefix
// of the units, whole, then the trailer when some were left out; it never passes the budget, and
// the budget is charged exactly what was written.
func checkCut(t *testing.T, units []string, budget, limit int) {
	t.Helper()
	b := NewBudget(budget)
	c := b.Section(limit, moreTrailer)
	for _, u := range units {
		c.Add(u)
	}
	got := c.Close()
	if len(got) > budget || (limit > 0 && len(got) > limit) {
		t.Fatalf("%d bytes written, over the budget %d (limit %d): %q", len(got), budget, limit, got)
	}
	if left := b.Left(); left != budget-len(got) {
		t.Fatalf("budget left %d after writing %d of %d", left, len(got), budget)
	}
	if got == "" {
		return // not one unit fit beside the trailer: the section is silent, its parent counts it
	}
	whole := false
	for k := 0; k <= len(units); k++ {
		if got == strings.Join(units[:k], "")+moreTrailer(len(units)-k) {
			whole = true
			break
		}
	}
	if !whole {
		t.Fatalf("text %q is not whole units followed by the trailer for the rest", got)
	}
	if utf8.ValidString(strings.Join(units, "")) && !utf8.ValidString(got) {
		t.Fatalf("invalid UTF-8 from valid units: %q", got)
	}
}

func TestCut(t *testing.T) {
	t.Parallel()
	rows := []string{"| a | b |\n", "| ü | ç |\n", "| 😀 | x |\n", "| long long long row |\n"}
	for budget := 0; budget <= 120; budget++ {
		for _, limit := range []int{0, 30, 60} {
			checkCut(t, rows, budget, limit)
		}
	}
}

// TestCutSections: sections inside a document share its budget, land where they close, and one
// that could show nothing is counted by the document.
func TestCutSections(t *testing.T) {
	t.Parallel()
	b := NewBudget(200)
	doc := b.Section(0, moreTrailer)
	doc.Add("title\n")
	first := doc.Section(0, nil)
	first.Add("first\n")
	second := doc.Section(0, moreTrailer)
	second.Add(strings.Repeat("x", 100) + "\n")
	second.Add(strings.Repeat("y", 20) + "\n")
	second.Close()
	first.Close()
	dead := doc.Section(0, moreTrailer)
	dead.Add(strings.Repeat("z", 50))
	dead.Close()
	got := doc.Close()
	want := "title\n" + strings.Repeat("x", 100) + "\n… 1 more not shown\n" + "first\n" + "… 1 more not shown\n"
	if len(want) > 200 {
		t.Fatalf("the test's own text is over its budget: %d", len(want))
	}
	if got != want {
		t.Errorf("document:\n%q\nwant\n%q", got, want)
	}
	if left := b.Left(); left != 200-len(got) {
		t.Errorf("budget left %d, want %d", left, 200-len(got))
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, s string
		esc     func(string) string
	}{
		{"log escapes", strings.Repeat("\x1b[31m\u2028é", 12), logLine},
		{"markdown", strings.Repeat("<b>|*`x`*|</b>", 12), MarkdownText},
		{"code span", strings.Repeat("a`b|", 12), MarkdownCode},
		{"runes", strings.Repeat("😀ü", 20), func(s string) string { return s }},
		{"invalid UTF-8", strings.Repeat("\xff\xfe", 20), logLine},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for limit := 0; limit <= len(tc.esc(tc.s))+1; limit++ {
				got := clip(tc.s, limit, tc.esc)
				if len(got) > limit {
					t.Fatalf("clip(limit %d) = %d bytes", limit, len(got))
				}
				if got == "" {
					continue
				}
				if got == tc.esc(tc.s) {
					continue
				}
				// A cut is the escape of a prefix of whole runes, then the note: never a
				// part of an escape sequence.
				body, _, ok := strings.Cut(got, "… (")
				if !ok {
					t.Fatalf("clip(limit %d) = %q: cut without a note", limit, got)
				}
				found := false
				for i := 0; i <= len(tc.s); i++ {
					if (i == len(tc.s) || utf8.RuneStart(tc.s[i])) && tc.esc(tc.s[:i]) == body {
						found = true
						break
					}
				}
				if !found {
					t.Fatalf("clip(limit %d) = %q: not the escape of a prefix", limit, got)
				}
			}
		})
	}
}

// FuzzCut is the budgeted writer's contract for any units, budget and limit: never over the
// budget, whole units only (so valid UTF-8 in, valid UTF-8 out), and the trailer when a unit was
// left out.
func FuzzCut(f *testing.F) {
	f.Add("| a |\n| b |\n| ü |", 20, 0)
	f.Add("😀😀😀\nx\n\n", 7, 5)
	f.Add("", 0, 0)
	f.Fuzz(func(t *testing.T, text string, budget, limit int) {
		if budget < 0 || budget > 1<<16 || limit < 0 || limit > 1<<16 {
			t.Skip()
		}
		units := strings.SplitAfter(text, "\n")
		checkCut(t, units, budget, limit)
	})
}

// FuzzClip: a clipped text fits, keeps whole runes and whole escapes.
func FuzzClip(f *testing.F) {
	f.Add("\x1b[31mred\u2028", 10)
	f.Add("😀😀😀", 5)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		if limit < 0 || limit > 1<<16 {
			t.Skip()
		}
		for _, esc := range []func(string) string{logLine, MarkdownText, commandData} {
			got := clip(s, limit, esc)
			if len(got) > limit {
				t.Fatalf("clip = %d bytes, limit %d", len(got), limit)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("clip = %q: invalid UTF-8", got)
			}
		}
	})
}
