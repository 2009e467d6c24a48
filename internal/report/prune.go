package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Pruned status: prune deleted (or, in a dry run, planned) what its plan says.
const Pruned Status = "pruned"

// PrunePlan is what prune decides for one repository, and after a real run how it went.
type PrunePlan struct {
	Versions []PruneVersion `json:"versions"`
	// Orphans are subjects gone from the registry (404) whose signatures, referrers or fallback
	// index are swept.
	Orphans []PruneOrphan `json:"orphans,omitempty"`
	// Claims are withdrawn or lapsed release-claim tags swept.
	Claims []string `json:"claims,omitempty"`
	// Counts, after a real run of what was done, in a dry run of what would be.
	Deleted     int   `json:"deleted"`     // digests deleted
	Kept        int   `json:"kept"`        // digests kept
	TagsDeleted int   `json:"tagsDeleted"` // tags deleted alone from kept digests
	Attachments int   `json:"attachments"` // signatures, referrers and fallback indexes deleted
	BytesFreed  int64 `json:"bytesFreed"`  // manifests and blobs no kept version references
	// Failures are the deletions that failed, each with why; the others were still tried.
	Failures []string `json:"failures,omitempty"`
	// Left are things prune chose not to delete on a fresh read, each with why.
	Left []string `json:"left,omitempty"`
}

// PruneVersion is the decision about one digest.
type PruneVersion struct {
	Digest string   `json:"digest"`
	Tags   []string `json:"tags"`
	// AgeHours is the age of the digest's commit in hours; -1 when unknown.
	AgeHours int      `json:"ageHours"`
	Attached []string `json:"attached,omitempty"` // attachment tags found on it
	// Action is keep, delete or delete-tags (the digest stays, DeleteTags go).
	Action     string   `json:"action"`
	DeleteTags []string `json:"deleteTags,omitempty"`
	Reason     string   `json:"reason"`
}

// PruneOrphan is a subject whose attachments are swept.
type PruneOrphan struct {
	Subject string   `json:"subject"`
	Tags    []string `json:"tags"`
}

// shrunk returns p for the result output, which shares the outputs' budget: the counts whole,
// at most maxPruneRows rows of each list (as the step summary shows), its failures and what it
// left cut as findings are. Unshrunk,
// the plan of a repository of thousands of versions left its whole entry out of the output; the
// result file keeps every row.
func (p *PrunePlan) shrunk(cut func(string) string) *PrunePlan {
	if p == nil {
		return nil
	}
	q := *p
	q.Versions = p.Versions[:min(len(p.Versions), maxPruneRows)]
	q.Orphans = p.Orphans[:min(len(p.Orphans), maxPruneRows)]
	q.Claims = p.Claims[:min(len(p.Claims), maxPruneRows)]
	// Failures and what was left: as findings, texts cut and at most resultFindings bytes a list.
	texts := func(ss []string) []string {
		var out []string
		total := 0
		for i, t := range ss {
			t = cut(t)
			if total+len(t) > resultFindings {
				return append(out, fmt.Sprintf("… %s not shown: the complete list is in the file the result-file output names", plural(len(ss)-i, "more", "more")))
			}
			out = append(out, t)
			total += len(t)
		}
		return out
	}
	q.Failures, q.Left = texts(p.Failures), texts(p.Left)
	return &q
}

// PruneAge formats an age for the plan table.
func PruneAge(hours int) string {
	switch {
	case hours < 0:
		return "?"
	case hours < 48:
		return fmt.Sprintf("%dh", hours)
	}
	return fmt.Sprintf("%dd", hours/24)
}

// WritePruneText writes the plan of every result that has one, as tables for the log.
func WritePruneText(w io.Writer, rs []Result) error {
	var buf bytes.Buffer
	for _, r := range rs {
		p := r.Prune
		if p == nil {
			continue
		}
		fmt.Fprintf(&buf, "%s (%s): delete %d, keep %d, tags alone %d, attachments %d, %s freed\n",
			logLine(display(r.Component)), logLine(r.Repository), p.Deleted, p.Kept, p.TagsDeleted, p.Attachments, size(p.BytesFreed))
		tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ACTION\tDIGEST\tAGE\tTAGS\tATTACHED\tREASON")
		for _, v := range p.Versions {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\n", cell(v.Action), cell(short(v.Digest)), PruneAge(v.AgeHours),
				cell(dash(strings.Join(v.Tags, ","))), len(v.Attached), cell(v.Reason))
		}
		for _, o := range p.Orphans {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\n", "sweep", cell(short(o.Subject)), "?", "-", len(o.Tags), "orphan: its subject is gone (404)")
		}
		for _, c := range p.Claims {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\n", "sweep", "-", "?", cell(c), 0, "withdrawn or lapsed release claim")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, f := range p.Failures {
			fmt.Fprintf(&buf, "  failed: %s\n", logLine(f))
		}
		for _, l := range p.Left {
			fmt.Fprintf(&buf, "  left: %s\n", logLine(l))
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// maxPruneRows bounds the rows of one repository's plan in the step summary, whose size GitHub
// caps (1 MiB); the JSON result and the log carry every row.
const maxPruneRows = 200

// PruneMarkdown adds the plans to the step summary doc, within its budget: counts and bytes
// freed per component, then each plan table (the digests deleted first, then those whose tags
// alone go). Every cut says how much it left out; the log and the result file keep every row.
func PruneMarkdown(doc *Cut, rs []Result, dryRun bool) {
	title := "\n#### Retention"
	if dryRun {
		title += " (dry run: nothing deleted; set `dry-run: false` to delete)"
	}
	doc.Add(title + "\n\n")
	table := doc.Section(0, func(n int) string {
		if n == 0 {
			return ""
		}
		return fmt.Sprintf("\n_%s not shown: the `result-file` output names the complete result._\n", plural(n, "more component", "more components"))
	})
	table.Add("| component | deleted | kept | tags alone | attachments | freed | failures |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		if p := r.Prune; p != nil {
			table.Add(fmt.Sprintf("| %s | %d | %d | %d | %d | %s | %d |\n", clip(display(r.Component), summaryCell, MarkdownText), p.Deleted, p.Kept,
				p.TagsDeleted, p.Attachments, size(p.BytesFreed), len(p.Failures)))
		}
	}
	table.Close()
	for _, r := range rs {
		p := r.Prune
		if p == nil || len(p.Versions)+len(p.Orphans) == 0 {
			continue
		}
		d := doc.Section(0, func(n int) string {
			more := ""
			if n > 0 {
				more = fmt.Sprintf("\n%s not shown: the log and the `result-file` output hold every row.\n", plural(n, "more row", "more rows"))
			}
			return more + "\n</details>\n"
		})
		d.Add(fmt.Sprintf("\n<details><summary>%s</summary>\n\n| action | digest | age | tags | attached | reason |\n|---|---|---|---|---|---|\n", clip(display(r.Component), summaryCell, MarkdownText)))
		// A row past the cap is counted, never formatted: a repository of thousands of versions
		// would otherwise escape every reason of every component for rows nobody sees.
		rows := 0
		add := func(row func() string) {
			if rows++; rows > maxPruneRows {
				d.Omit(1)
				return
			}
			d.Add(row())
		}
		for _, pass := range []string{"delete", "delete-tags", "keep"} {
			for _, v := range p.Versions {
				if v.Action == pass {
					add(func() string {
						return fmt.Sprintf("| %s | %s | %s | %s | %d | %s |\n", v.Action, MarkdownCode(short(v.Digest)), PruneAge(v.AgeHours),
							code(v.Tags), len(v.Attached), clip(v.Reason, summaryCell, MarkdownText))
					})
				}
			}
		}
		for _, o := range p.Orphans {
			add(func() string {
				return fmt.Sprintf("| sweep | %s | ? | - | %d | orphan: its subject is gone |\n", MarkdownCode(short(o.Subject)), len(o.Tags))
			})
		}
		d.Close()
	}
}
