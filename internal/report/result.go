package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Status of one component after a run.
type Status string

// Statuses.
const (
	Pushed    Status = "pushed"    // a new manifest was uploaded
	Unchanged Status = "unchanged" // the registry already held this content; its digest was reused
	Planned   Status = "planned"   // dry run: what would happen
	Valid     Status = "valid"     // validate: no errors
	Invalid   Status = "invalid"   // validate: errors found
	Failed    Status = "failed"
	Verified  Status = "verified" // verify: every tag resolves to a signed digest
	Promoted  Status = "promoted"
	// Omitted stands, in the result output only, for the entries its budget left out: Omitted
	// says how many. The result file and stdout always hold every entry.
	Omitted Status = "omitted"
)

// Result is what happened to one component.
type Result struct {
	Component  string   `json:"component"`
	Repository string   `json:"repository"`
	Status     Status   `json:"status"`
	Changed    bool     `json:"changed"`
	Digest     string   `json:"digest,omitempty"`
	Size       int64    `json:"size,omitempty"`
	Tags       []string `json:"tags,omitempty"`    // tags that point at Digest after the run (set or confirmed)
	Skipped    []string `json:"skipped,omitempty"` // moving tags left alone, each with why
	Signed     string   `json:"signed,omitempty"`  // new, existing, healed, or "" when not signed
	Identity   string   `json:"identity,omitempty"`
	LogIndex   *int64   `json:"rekorLogIndex,omitempty"`
	Verified   bool     `json:"verified,omitempty"`
	// Attached says, per kind (legacy, bundle, provenance), whether this run wrote it (new) or
	// found it (existing) on the digest.
	Attached map[string]string `json:"attached,omitempty"`
	From     string            `json:"from,omitempty"` // promote: the digest the channel pointed at before
	Findings []string          `json:"findings,omitempty"`
	Error    string            `json:"error,omitempty"`
	Duration Duration          `json:"durationMs"`
	// Plan is what publish decided before writing anything; nil for the other modes and for a
	// component that failed before its plan was made.
	Plan *Plan `json:"plan,omitempty"`
	// Omitted is, for an entry of status omitted, how many entries it stands for.
	Omitted int `json:"omitted,omitempty"`
	// Preview is what the component's pull request changes against what its channel serves
	// (validate); nil when the preview is off.
	Preview *Preview `json:"preview,omitempty"`
	// Prune is what prune decided, and did, for the repository; nil for the other modes.
	Prune *PrunePlan `json:"prune,omitempty"`
}

// Plan is what publish decides for one component from the registry and git before it writes
// anything. A dry run reports it and stops; a real run reports the same plan and carries it out,
// and Result's Tags, Skipped and Signed say how that went (a tag can be decided again at the
// moment it is written, when an overlapping run moved it in between).
type Plan struct {
	Action Action `json:"action"`
	// Signatures names, by format, the signatures the run makes sure the digest carries: those
	// missing are added, those present kept. Empty when signing is off.
	Signatures []string `json:"signatures,omitempty"`
	// Tags are the tag decisions, in the order they are carried out.
	Tags []TagPlan `json:"tags,omitempty"`
}

// Action is what a plan does with the artifact.
type Action string

// Actions.
const (
	ActionPush   Action = "push"   // new content: upload it
	ActionReuse  Action = "reuse"  // a tag already holds this content: keep its digest
	ActionFinish Action = "finish" // the registry holds the digest untagged (a run stopped half-way): sign and tag it
)

// TagPlan is the decision about one tag, in the tag engine's words.
type TagPlan struct {
	Tag string `json:"tag"`
	// Action is write (the immutable tag is created), present (the tag already points at the
	// digest), move (a moving tag moves to it), leave (a moving tag stays: a newer commit or a
	// higher release holds it) or hold (the stable tag stays: a promotion rolled this release
	// back).
	Action string `json:"action"`
	// From is the digest the tag points at when it was read, "" when it did not exist.
	From   string `json:"from,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// String is the plan on one line, for the log: "push; sign legacy; tag main-1a2b3c4d (write),
// latest (move from sha256:1a2b3c4d5e6f)".
func (p *Plan) String() string {
	if p == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(string(p.Action))
	if len(p.Signatures) > 0 {
		fmt.Fprintf(&b, "; sign %s", strings.Join(p.Signatures, ", "))
	}
	for i, t := range p.Tags {
		if i == 0 {
			b.WriteString("; tag ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%s", t.Tag, t.Action)
		if t.From != "" && t.Action == "move" {
			fmt.Fprintf(&b, " from %s", short(t.From))
		}
		if t.Reason != "" {
			fmt.Fprintf(&b, ": %s", t.Reason)
		}
		b.WriteString(")")
	}
	return b.String()
}

// Duration marshals as whole milliseconds.
type Duration time.Duration

// MarshalJSON writes milliseconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprint(time.Duration(d).Milliseconds())), nil
}

// Failed reports whether any result failed.
func AnyFailed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Failed || r.Status == Invalid {
			return true
		}
	}
	return false
}

// Sort orders results by component name, for stable output whatever finished first.
func Sort(rs []Result) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Component < rs[j].Component })
}

// WriteJSON writes the results as one JSON array. In Actions stdout is read for workflow
// commands too: JSON never puts "::" at the start of a line, and "##[", the runner's older
// command syntax, is written with its "[" escaped (the same JSON value).
func WriteJSON(w io.Writer, rs []Result) error {
	if rs == nil {
		rs = []Result{}
	}
	return EncodeJSON(w, rs, "  ")
}

// EncodeJSON writes v as JSON for stdout with WriteJSON's protection: "##[" never appears.
func EncodeJSON(w io.Writer, v any, indent string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(bytes.ReplaceAll(buf.Bytes(), []byte("##["), []byte(`##\u005b`)))
	return err
}

// WriteText writes the results as an aligned table, at once. Every cell and message is one line
// that starts no workflow command (see logLine).
func WriteText(w io.Writer, rs []Result) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tSTATUS\tDIGEST\tSIZE\tTAGS\tSIGNED\tTIME")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(display(r.Component)), cell(string(r.Status)), cell(short(r.Digest)),
			size(r.Size), cell(dash(strings.Join(r.Tags, ","))), cell(dash(r.Signed+Attachments(r.Attached))), time.Duration(r.Duration).Round(time.Millisecond))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rs {
		if r.Error != "" {
			fmt.Fprintf(&buf, "%s\n", logLine(display(r.Component)+": "+r.Error))
		}
		for _, s := range r.Skipped {
			fmt.Fprintf(&buf, "%s\n", logLine(display(r.Component)+": "+s))
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func display(c string) string {
	if c == "" {
		return "(artifact)"
	}
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// short abbreviates a digest for tables: sha256:1a2b3c4d5e6f.
func short(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return dash(d)
}

func size(n int64) string {
	switch {
	case n == 0:
		return "-"
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

// Bounds of one entry of the result output once it has to shrink (ResultJSON).
const (
	resultText     = 2 << 10 // an error, a finding or a skipped tag's reason
	resultFindings = 8 << 10 // one component's findings together
)

// ResultJSON is the result output: the results as one compact JSON array of at most room bytes.
// When the whole array does not fit, each entry shrinks (long texts are cut at a rune with a
// note, findings past a few KiB are counted in a last finding), then entries are left out whole
// from the end, and one last entry of status omitted says how many. It is always valid JSON, and
// an entry is never cut in the middle. "" when room cannot even hold that.
func ResultJSON(rs []Result, room int) string {
	rs = nonNilResults(rs)
	if whole, err := json.Marshal(rs); err == nil && len(whole) <= room {
		return string(whole)
	}
	shown := 0
	sizing := true // the trailer's room is measured in its longest form, with the comma
	arr := NewBudget(room).Section(0, func(n int) string {
		if n == 0 {
			return "]"
		}
		more, _ := json.Marshal(Result{Status: Omitted, Omitted: n,
			Error: plural(n, "more component", "more components") + " not shown: the complete result is in the file the result-file output names"})
		if shown == 0 && !sizing {
			return string(more) + "]"
		}
		return "," + string(more) + "]"
	})
	sizing = false
	arr.Add("[")
	for _, r := range rs {
		b, err := json.Marshal(shrink(r))
		if err != nil {
			arr.Omit(1)
			continue
		}
		sep := ","
		if shown == 0 {
			sep = ""
		}
		if arr.Add(sep + string(b)) {
			shown++
		}
	}
	return arr.Close()
}

// shrink returns r with its texts cut to resultText and its findings to resultFindings.
func shrink(r Result) Result {
	cut := func(s string) string { return clip(s, resultText, func(s string) string { return s }) }
	r.Error = cut(r.Error)
	if len(r.Skipped) > 0 {
		skipped := make([]string, len(r.Skipped))
		for i, s := range r.Skipped {
			skipped[i] = cut(s)
		}
		r.Skipped = skipped
	}
	if len(r.Findings) > 0 {
		var kept []string
		total := 0
		for i, f := range r.Findings {
			f = cut(f)
			if total+len(f) > resultFindings {
				kept = append(kept, fmt.Sprintf("… %s not shown: the complete list is in the file the result-file output names",
					plural(len(r.Findings)-i, "more finding", "more findings")))
				break
			}
			kept = append(kept, f)
			total += len(f)
		}
		r.Findings = kept
	}
	r.Preview = r.Preview.shrunk()
	r.Prune = r.Prune.shrunk(cut)
	return r
}

func nonNilResults(rs []Result) []Result {
	if rs == nil {
		return []Result{}
	}
	return rs
}
