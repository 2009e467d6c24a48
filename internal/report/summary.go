package report

import (
	"fmt"
	"strings"
	"time"
)

// SummaryMarkdown renders the step summary: a table of the components and, when given, the
// verify block to paste into the OCIRepository. Every value is escaped for where it goes (see
// MarkdownText, MarkdownCode, MarkdownCodeBlock): a component's findings and a multi-line error,
// which may quote repository files and server replies, go in fenced code blocks, a one-line
// error is escaped text, so nothing in them renders as markdown or HTML.
func SummaryMarkdown(title string, rs []Result, snippet string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", MarkdownText(title))
	b.WriteString("| component | changed | digest | size | tags | signed | verified | time |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
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
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", MarkdownText(display(r.Component)+status), changed,
			MarkdownCode(short(r.Digest)), size(r.Size), code(r.Tags), signed(r.Signed, r.Attached), verified,
			time.Duration(r.Duration).Round(time.Millisecond))
	}
	for _, r := range rs {
		switch {
		case strings.ContainsAny(r.Error, "\r\n"):
			fmt.Fprintf(&b, "\n**%s**:\n\n%s", MarkdownText(display(r.Component)), MarkdownCodeBlock(r.Error, "text"))
		case r.Error != "":
			fmt.Fprintf(&b, "\n**%s**: %s\n", MarkdownText(display(r.Component)), MarkdownText(r.Error))
		}
		if len(r.Findings) > 0 {
			fmt.Fprintf(&b, "\n%s", MarkdownCodeBlock(strings.Join(r.Findings, "\n"), "text"))
		}
	}
	if snippet != "" {
		fmt.Fprintf(&b, "\nFlux `OCIRepository` verification for these artifacts:\n\n%s", MarkdownCodeBlock(snippet, "yaml"))
	}
	return b.String()
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
