package report

import (
	"fmt"
	"strings"
	"time"
)

// Bounds of the step summary's parts, within SummaryBudget: one component's findings or error
// cannot crowd out the others', and one cell or line cannot fill a screen.
const (
	summaryCell     = 512      // a table cell's text (a component's name), escaped
	summaryLine     = 2 << 10  // a line of an error or a finding in a code block, or a one-line error
	summaryBlock    = 32 << 10 // one component's findings, or its multi-line error
	summarySnippet  = 16 << 10 // the verify block
	summaryDetected = 64 << 10 // detect's list of changed components
)

// NewSummary starts a document of the step summary on b (a Log's SummaryBudget): sections land
// in it in order, and its trailer says how many parts of it did not fit. Log.Summary writes it.
// Other renderers (a pull-request preview) add their own sections to a document of the same
// budget, so the run's summary as a whole stays within SummaryBudget.
func NewSummary(b *Budget) *Cut {
	return b.Section(0, func(n int) string {
		if n == 0 {
			return ""
		}
		return fmt.Sprintf("\n_%s of this summary not shown (fleetpush writes at most %d KiB to a step summary): the complete result is in the file the `result-file` output names._\n",
			plural(n, "more part", "more parts"), SummaryBudget>>10)
	})
}

// SummaryMarkdown adds the run's step summary to doc: a table of the components, the verify
// block to paste into the OCIRepository when given, and each component's error and findings.
// Every value is escaped for where it goes (see MarkdownText, MarkdownCode, MarkdownCodeBlock): a
// component's findings and a multi-line error, which may quote repository files and server
// replies, go in fenced code blocks, a one-line error is escaped text, so nothing in them renders
// as markdown or HTML. Past the budget, rows and lines are left out whole and counted, so a cut
// summary still renders: tables whole, every fence closed.
func SummaryMarkdown(doc *Cut, title string, rs []Result, snippet string) {
	doc.Add(fmt.Sprintf("### %s\n\n", clip(title, summaryCell, MarkdownText)))
	// The verify block is small and what a reader comes for: it takes its room before the
	// table, and lands after it (sections land in the order they close).
	var verify *Cut
	if snippet != "" {
		verify = doc.Section(summarySnippet, nil)
		verify.Add(fmt.Sprintf("\nFlux `OCIRepository` verification for these artifacts:\n\n%s", MarkdownCodeBlock(snippet, "yaml")))
	}
	table := doc.Section(0, func(n int) string {
		if n == 0 {
			return ""
		}
		return fmt.Sprintf("\n_%s not shown in this table: the complete result is in the file the `result-file` output names._\n",
			plural(n, "more component", "more components"))
	})
	table.Add("| component | changed | digest | size | tags | signed | verified | time |\n" +
		"|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		changed := "no"
		switch {
		case r.Status == Valid || r.Status == Invalid || r.Status == Verified || r.Status == Promoted:
			changed = "-" // these modes do not compare with the registry's content
		case r.Changed:
			changed = "yes"
		}
		verified := "-"
		if r.Verified {
			verified = "yes"
		}
		status := ""
		if r.Status == Failed || r.Status == Invalid || r.Status == Planned {
			status = fmt.Sprintf(" (%s)", r.Status)
		}
		table.Add(fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", clip(display(r.Component)+status, summaryCell, MarkdownText), changed,
			MarkdownCode(short(r.Digest)), size(r.Size), code(r.Tags), signed(r.Signed, r.Attached), verified,
			time.Duration(r.Duration).Round(time.Millisecond)))
	}
	table.Close()
	if verify != nil {
		verify.Close()
	}
	summaryErrors(doc, rs)
}

// PruneSummary is prune's step summary: the title, the retention tables (PruneMarkdown) in place
// of the publish table, whose columns say nothing of a prune, and each component's error.
func PruneSummary(doc *Cut, title string, rs []Result, dryRun bool) {
	doc.Add(fmt.Sprintf("### %s\n", clip(title, summaryCell, MarkdownText)))
	PruneMarkdown(doc, rs, dryRun)
	summaryErrors(doc, rs)
}

// summaryErrors adds each component's error and findings.
func summaryErrors(doc *Cut, rs []Result) {
	for _, r := range rs {
		name := clip(display(r.Component), summaryCell, MarkdownText)
		switch {
		case strings.ContainsAny(r.Error, "\r\n"):
			codeBlock(doc, fmt.Sprintf("\n**%s**:\n\n", name), r.Error, "text")
		case r.Error != "":
			doc.Add(fmt.Sprintf("\n**%s**: %s\n", name, clip(r.Error, summaryLine, MarkdownText)))
		}
		if len(r.Findings) > 0 {
			codeBlock(doc, "\n", strings.Join(r.Findings, "\n"), "text")
		}
	}
}

// codeBlock adds text as a fenced code block (MarkdownCodeBlock) after prefix, as a section of
// doc of at most summaryBlock bytes: lines that do not fit are counted inside the block, whose
// closing fence is part of the trailer and so always written.
func codeBlock(doc *Cut, prefix, text, lang string) {
	text = strings.TrimRight(strings.ReplaceAll(text, "\x00", "\uFFFD"), "\r\n")
	// The fence is longer than any run of backticks in the whole text, so in any part of it.
	fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	block := doc.Section(summaryBlock, func(n int) string {
		if n == 0 {
			return fence + "\n"
		}
		return fmt.Sprintf("… %s not shown\n%s\n", plural(n, "more line", "more lines"), fence)
	})
	block.Add(prefix + fence + lang + "\n")
	for _, line := range strings.Split(text, "\n") {
		// Inside the block only a fence could end it: the line is cut at a rune, not escaped.
		block.Add(clip(line, summaryLine, func(s string) string { return s }) + "\n")
	}
	block.Close()
}

// DetectSummary adds detect's report to doc: why these components, and which.
func DetectSummary(doc *Cut, reason, list string) {
	doc.Add(fmt.Sprintf("### fleetpush detect\n\n%s\n\n", clip(reason, summaryLine, MarkdownText)))
	doc.Add(fmt.Sprintf("Changed: %s\n", clip(list, summaryDetected, MarkdownCode)))
}

// signed is the signature status with what is attached, e.g. "new (legacy, bundle, provenance)".
func signed(s string, attached map[string]string) string {
	if s == "" {
		return "-"
	}
	return MarkdownText(s + Attachments(attached))
}

// Attachments lists the kinds attached to a digest in a fixed order, " (legacy, bundle,
// provenance)", or "" when none are known.
func Attachments(attached map[string]string) string {
	var kinds []string
	for _, k := range []string{"legacy", "bundle", "provenance"} {
		if attached[k] != "" {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return ""
	}
	return " (" + strings.Join(kinds, ", ") + ")"
}

func code(tags []string) string {
	if len(tags) == 0 {
		return "-"
	}
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = MarkdownCode(t)
	}
	return strings.Join(out, " ")
}
