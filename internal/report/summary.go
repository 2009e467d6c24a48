package report

import (
	"fmt"
	"strings"
	"time"
)

// SummaryMarkdown renders the step summary: a table of the components and, when given, the
// verify block to paste into the OCIRepository.
func SummaryMarkdown(title string, rs []Result, snippet string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", title)
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
		fmt.Fprintf(&b, "| %s%s | %s | `%s` | %s | %s | %s | %s | %s |\n", display(r.Component), status, changed, short(r.Digest),
			size(r.Size), code(r.Tags), dash(r.Signed), verified, time.Duration(r.Duration).Round(time.Millisecond))
	}
	for _, r := range rs {
		if r.Error != "" {
			fmt.Fprintf(&b, "\n**%s**: %s\n", display(r.Component), r.Error)
		}
		if len(r.Findings) > 0 {
			fmt.Fprintf(&b, "\n```\n%s\n```\n", strings.Join(r.Findings, "\n"))
		}
	}
	if snippet != "" {
		fmt.Fprintf(&b, "\nFlux `OCIRepository` verification for these artifacts:\n\n```yaml\n%s\n```\n", strings.TrimRight(snippet, "\n"))
	}
	return b.String()
}

func code(tags []string) string {
	if len(tags) == 0 {
		return "-"
	}
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = "`" + t + "`"
	}
	return strings.Join(out, " ")
}
