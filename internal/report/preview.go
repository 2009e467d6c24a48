package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/fleetpush/fleetpush/internal/preview"
)

// Budgets of the preview, per sink. GitHub drops a step's whole summary past 1 MiB and refuses
// a comment body past 65,536 characters; counting bytes (never fewer than characters) keeps
// both with room for the rest of the summary.
const (
	// SummaryPreviewBudget bounds the preview section of the step summary.
	SummaryPreviewBudget = 256 << 10
	// CommentPreviewBudget bounds the comment file of the preview output.
	CommentPreviewBudget = 60_000
	// maxListed bounds the files and the one-line notes listed per component and overlay: past
	// it, a line says how many more there are.
	maxListed = 50
)

// Preview is what a component's pull request changes against what its channel serves now.
type Preview struct {
	// Against is the artifact compared with: <repository>/<component>:<tag>.
	Against string `json:"against"`
	// Published is false when nothing is published at the tag yet: every object is added.
	Published bool `json:"published"`
	// Warning says why there is no comparison (the registry could not be read); the run goes on.
	Warning string `json:"warning,omitempty"`
	// Unbuilt are the kustomization folders of the pull request that did not build: they are not
	// compared (validation says why).
	Unbuilt []string `json:"unbuilt,omitempty"`
	preview.Component
}

// PreviewNothing is the comment when the preview ran and no component differs: a workflow that
// keeps one comment up to date replaces an earlier preview with it, rather than leave it stale.
const PreviewNothing = "### What this pull request changes\n\nNothing: every component renders the same objects as its channel serves now.\n"

// Previewed reports whether the preview ran for any component.
func Previewed(rs []Result) bool {
	for _, r := range rs {
		if r.Preview != nil {
			return true
		}
	}
	return false
}

// resultPreviewChanges bounds the object changes (and notes) of one component's preview in the
// result output, which shares the outputs' budget; the result file keeps them all.
const resultPreviewChanges = 200

// shrunk returns p with at most resultPreviewChanges changes and notes, counts kept whole.
func (p *Preview) shrunk() *Preview {
	if p == nil {
		return nil
	}
	q := *p
	q.Overlays = make([]preview.Overlay, len(p.Overlays))
	left := resultPreviewChanges
	for i, o := range p.Overlays {
		o.Changes = o.Changes[:min(len(o.Changes), left)]
		left -= len(o.Changes)
		o.Notes = o.Notes[:min(len(o.Notes), resultPreviewChanges)]
		q.Overlays[i] = o
	}
	q.Files = p.Files[:min(len(p.Files), resultPreviewChanges)]
	return &q
}

// listed reports whether the component belongs in the preview: it differs, or it has a warning.
func (p *Preview) listed() bool {
	return p != nil && (p.Warning != "" || len(p.Unbuilt) > 0 || p.Different())
}

// PreviewMarkdown renders the preview of the components that differ, within budget bytes: the
// counts, notes and file lists of every component first, then as many diffs as fit; a line
// says how many were left out. "" when no component differs.
func PreviewMarkdown(rs []Result, budget int) string {
	var listed []Result
	for _, r := range rs {
		if r.Preview.listed() {
			listed = append(listed, r)
		}
	}
	if len(listed) == 0 {
		return ""
	}
	const reserve = 200 // for the line that says how many components were left out
	var b strings.Builder
	b.WriteString("### What this pull request changes\n\n")
	// The frame of each component (everything but diffs) is written whole or not at all; the
	// diffs share what the frames leave.
	frames := make([]string, len(listed))
	pending := 0
	for i, r := range listed {
		frames[i] = previewFrame(r, nil)
		pending += len(frames[i])
	}
	for i, r := range listed {
		pending -= len(frames[i])
		if b.Len()+len(frames[i])+reserve > budget {
			fmt.Fprintf(&b, "\n_%d more component(s) differ; the preview has no room for them: the file the job's `result-file` output names holds every change._\n", len(listed)-i)
			return b.String()
		}
		room := budget - b.Len() - pending - reserve
		b.WriteString(previewFrame(r, &room))
	}
	return b.String()
}

// previewFrame renders one component. With room nil, diffs are left out silently (to measure
// the frame); otherwise each diff is written while it fits in *room, which it decreases.
func previewFrame(r Result, room *int) string {
	p := r.Preview
	var b strings.Builder
	fmt.Fprintf(&b, "#### %s\n\n", MarkdownText(display(r.Component)))
	if p.Warning != "" {
		fmt.Fprintf(&b, "No preview: %s\n\n", MarkdownText(p.Warning))
		return b.String()
	}
	if p.Published {
		fmt.Fprintf(&b, "Compared with %s.\n\n", MarkdownCode(p.Against))
	} else {
		fmt.Fprintf(&b, "Nothing is published at %s yet: every object is new.\n\n", MarkdownCode(p.Against))
	}
	for _, d := range p.Unbuilt {
		fmt.Fprintf(&b, "%s: not previewed, it does not build (see the validation errors).\n\n", MarkdownCode(d))
	}
	if len(p.Files) > 0 {
		fmt.Fprintf(&b, "<details><summary>Files: %s</summary>\n\n", fileCounts(p.Files))
		for i, f := range p.Files {
			if i == maxListed {
				fmt.Fprintf(&b, "- … and %d more\n", len(p.Files)-maxListed)
				break
			}
			fmt.Fprintf(&b, "- %s %s\n", f.Action, MarkdownCode(f.Path))
		}
		b.WriteString("\n</details>\n\n")
	}
	for i := range p.Overlays {
		o := &p.Overlays[i]
		if !o.Different() {
			continue
		}
		fmt.Fprintf(&b, "<details><summary>%s: %s</summary>\n\n", MarkdownText(o.Dir), counts(o))
		for j, n := range o.Notes {
			if j == maxListed {
				fmt.Fprintf(&b, "- … and %d more\n", len(o.Notes)-maxListed)
				break
			}
			fmt.Fprintf(&b, "- %s\n", noteMarkdown(n))
		}
		if len(o.Notes) > 0 {
			b.WriteString("\n")
		}
		left := 0
		for _, c := range o.Changes {
			head := fmt.Sprintf("**%s** %s", c.Action, MarkdownCode(c.Object.String()))
			switch {
			case c.Diff == "" && c.Omitted != "":
				fmt.Fprintf(&b, "%s: no diff (%s)\n\n", head, MarkdownText(c.Omitted))
			case room == nil:
				left++
			default:
				block := head + "\n\n" + MarkdownCodeBlock(c.Diff, "diff") + "\n"
				if len(block) > *room {
					left++
					continue
				}
				*room -= len(block)
				b.WriteString(block)
			}
		}
		if left > 0 { // measured pessimistically when room is nil
			fmt.Fprintf(&b, "_%d object diff(s) left out: past the size budget of this %s._\n\n", left, "preview")
		}
		b.WriteString("</details>\n\n")
	}
	return b.String()
}

func counts(o *preview.Overlay) string {
	return fmt.Sprintf("%d added, %d removed, %d changed, %d unchanged", o.Added, o.Removed, o.Changed, o.Unchanged)
}

func fileCounts(fs []preview.File) string {
	n := map[preview.Action]int{}
	for _, f := range fs {
		n[f.Action]++
	}
	return fmt.Sprintf("%d added, %d removed, %d changed", n[preview.Added], n[preview.Removed], n[preview.Changed])
}

func noteMarkdown(n preview.Note) string {
	s := MarkdownCode(n.Object.Kind+"/"+n.Object.Name) + " " + n.What
	if n.Target != "" {
		s += " " + MarkdownCode(n.Target)
	}
	return s + " " + orNone(n.From, MarkdownCode) + " → " + orNone(n.To, MarkdownCode)
}

func orNone(s string, f func(string) string) string {
	if s == "" {
		return "(none)"
	}
	return f(s)
}

// NoteText is a note on one line, for the log: "frontend/production: Deployment/frontend image
// ghcr.io/acme/frontend 1.2.3 → 1.3.0".
func NoteText(component, overlay string, n preview.Note) string {
	s := fmt.Sprintf("%s/%s: %s/%s %s", display(component), overlay, n.Object.Kind, n.Object.Name, n.What)
	if n.Target != "" {
		s += " " + n.Target
	}
	id := func(s string) string { return s }
	return s + " " + orNone(n.From, id) + " → " + orNone(n.To, id)
}

// WritePreviewText writes the preview for a terminal or the log: per component and overlay the
// counts, the notes and each object's action, then the diffs, each line made safe for the log.
func WritePreviewText(w io.Writer, rs []Result) error {
	var b strings.Builder
	for _, r := range rs {
		p := r.Preview
		if !p.listed() {
			continue
		}
		if p.Warning != "" {
			fmt.Fprintf(&b, "preview of %s: none: %s\n", logLine(display(r.Component)), logLine(p.Warning))
			continue
		}
		against := p.Against
		if !p.Published {
			against += " (nothing published yet)"
		}
		fmt.Fprintf(&b, "preview of %s against %s\n", logLine(display(r.Component)), logLine(against))
		for _, d := range p.Unbuilt {
			fmt.Fprintf(&b, "  %s: not previewed, it does not build\n", logLine(d))
		}
		if len(p.Files) > 0 {
			fmt.Fprintf(&b, "  files: %s\n", fileCounts(p.Files))
		}
		for i := range p.Overlays {
			o := &p.Overlays[i]
			if !o.Different() {
				continue
			}
			fmt.Fprintf(&b, "  %s: %s\n", logLine(o.Dir), counts(o))
			for _, n := range o.Notes {
				fmt.Fprintf(&b, "    %s\n", logLine(NoteText(r.Component, o.Dir, n)))
			}
			for _, c := range o.Changes {
				fmt.Fprintf(&b, "    %s %s\n", c.Action, logLine(c.Object.String()))
				if c.Omitted != "" {
					fmt.Fprintf(&b, "      no diff: %s\n", c.Omitted)
				}
				for _, l := range strings.Split(strings.TrimRight(c.Diff, "\n"), "\n") {
					if l != "" {
						fmt.Fprintf(&b, "      %s\n", l)
					}
				}
			}
		}
	}
	if b.Len() == 0 {
		return nil
	}
	_, err := io.WriteString(w, logBlock(strings.TrimRight(b.String(), "\n"))+"\n")
	return err
}
