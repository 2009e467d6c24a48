package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// manyResults is what a hostile or merely huge repository gives: n components, each with
// findings findings, some with huge names, multi-line errors and backtick runs.
func manyResults(n, findings int) []Result {
	rs := make([]Result, n)
	for i := range rs {
		name := fmt.Sprintf("component-%04d", i)
		if i%97 == 3 {
			name = strings.Repeat("ü`|<b>", 2000) // a huge name: 16 KB of runes, fences, pipes, HTML
		}
		r := Result{Component: name, Status: Invalid, Digest: "sha256:" + strings.Repeat("ab", 32), Size: 1234,
			Error: fmt.Sprintf("%d problem(s)", findings)}
		for j := range findings {
			file := name
			if j > 2 {
				file = fmt.Sprint(i) // the huge name in a few findings only: the test stays light
			}
			r.Findings = append(r.Findings, fmt.Sprintf("components/%s/base/cm-%d.yaml:%d: unknown field \"x```y\" %s", file, j, j+1, strings.Repeat("é", j%50)))
		}
		if i%5 == 1 {
			r.Status, r.Findings = Failed, nil
			r.Error = "pushing: 500\n```\n# Heading\n" + strings.Repeat("<script>", 10000)
		}
		rs[i] = r
	}
	return rs
}

var tableRow = regexp.MustCompile(`^\| .* \|$`)

// checkRenders reads a (possibly cut) summary as GitHub would: every code fence opened is closed,
// every table line is a whole row of cells cells, and the text is valid UTF-8 within budget.
func checkRenders(t *testing.T, md string, cells, budget int) {
	t.Helper()
	if len(md) > budget {
		t.Fatalf("summary of %d bytes, over its budget %d", len(md), budget)
	}
	if !utf8.ValidString(md) {
		t.Fatal("summary is not valid UTF-8")
	}
	fence := ""
	for i, line := range strings.Split(md, "\n") {
		if fence != "" {
			if strings.HasPrefix(line, fence) && strings.Trim(line, "`") == "" {
				fence = ""
			}
			continue
		}
		if m := openFence.FindStringSubmatch(line); m != nil {
			fence = m[1]
			continue
		}
		if strings.HasPrefix(line, "|") {
			if !tableRow.MatchString(line) && !strings.HasPrefix(line, "|---") {
				t.Fatalf("line %d is a cut table row: %.200q", i+1, line)
			}
			if got := strings.Count(line, "|") - strings.Count(line, `\|`); got != cells+1 {
				t.Fatalf("line %d has %d cell borders, want %d: %.200q", i+1, got, cells+1, line)
			}
		}
	}
	if fence != "" {
		t.Fatalf("the summary ends inside a code block opened by %q", fence)
	}
}

// TestSummaryCutGolden: a summary over its budget keeps whole rows and closed fences, and says
// how much it left out, at every level: rows of the table (a small budget), lines of a code block
// and parts of the summary (a larger one).
func TestSummaryCutGolden(t *testing.T) {
	t.Parallel()
	rs := manyResults(80, 40)
	for _, tc := range []struct {
		name   string
		budget int
		says   []string
	}{
		{"summary-cut-table.md", 6 << 10, []string{"more components not shown in this table", "more parts of this summary not shown", "verify:"}},
		{"summary-cut-blocks.md", 12 << 10, []string{"more lines not shown", "more parts of this summary not shown", "verify:"}},
	} {
		md := summary("fleetpush validate", rs, hostileSnippet, tc.budget)
		checkRenders(t, md, 8, tc.budget)
		for _, want := range tc.says {
			if !strings.Contains(md, want) {
				t.Errorf("%s: the cut summary lacks %q", tc.name, want)
			}
		}
		golden(t, tc.name, md)
	}
}

// TestSummaryThousands: 10,000 components with findings, at the real budget, and 20 at budgets
// of every size down to nothing: within budget, and it renders.
func TestSummaryThousands(t *testing.T) {
	t.Parallel()
	rs := manyResults(10000, 5)
	md := summary("fleetpush validate", rs, hostileSnippet, SummaryBudget)
	checkRenders(t, md, 8, SummaryBudget)
	if !strings.Contains(md, "more components not shown in this table") {
		t.Error("the table of 10,000 components does not say how many it left out")
	}
	for budget := 0; budget < 4000; budget += 37 {
		checkRenders(t, summary("t", rs[:20], hostileSnippet, budget), 8, budget)
	}
}

// TestSummaryBudgetShared: sections of one run (the results, then another renderer's, such as a
// preview) draw on the same budget, and a budget is smaller when the file already holds much.
func TestSummaryBudgetShared(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "summary")
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), summaryCap-100<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	l := NewLog(&bytes.Buffer{}, true, func(k string) string { return map[string]string{"GITHUB_STEP_SUMMARY": path}[k] })
	rs := manyResults(2000, 10)
	for range 3 {
		doc := NewSummary(l.SummaryBudget())
		SummaryMarkdown(doc, "fleetpush", rs, "")
		if err := l.Summary(doc); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > summaryCap {
		t.Errorf("the summary file holds %d bytes, over GitHub's %d", fi.Size(), summaryCap)
	}
	if fi.Size() < summaryCap-100<<10+50<<10 {
		t.Errorf("the summary file holds %d bytes: the run wrote less than half of the room it had", fi.Size())
	}
}

// TestResultJSONBudget: the result output at every room: valid JSON within room, entries whole,
// and the last entry counts those left out; with room for all, it is the complete array.
func TestResultJSONBudget(t *testing.T) {
	t.Parallel()
	rs := manyResults(1000, 20)
	complete, _ := json.Marshal(rs)
	if got := ResultJSON(rs[:3], len(complete)); got != mustJSON(t, rs[:3]) {
		t.Errorf("a result that fits is changed:\n%s", got)
	}
	for _, room := range []int{0, 10, 100, 300, 1 << 10, 10 << 10, 100 << 10, OutputsBudget, len(complete) - 1} {
		got := ResultJSON(rs, room)
		if len(got) > room {
			t.Fatalf("room %d: %d bytes", room, len(got))
		}
		if got == "" {
			if room > 400 {
				t.Fatalf("room %d: nothing written", room)
			}
			continue
		}
		var back []Result
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Fatalf("room %d: not JSON: %v\n%.300s", room, err, got)
		}
		shown := back
		if last := back[len(back)-1]; last.Status == Omitted {
			shown = back[:len(back)-1]
			if last.Omitted+len(shown) != len(rs) {
				t.Fatalf("room %d: %d entries shown and %d counted, want %d", room, len(shown), last.Omitted, len(rs))
			}
		} else if len(back) != len(rs) {
			t.Fatalf("room %d: %d entries and no omitted entry, want %d", room, len(back), len(rs))
		}
		for i, r := range shown {
			if r.Component != rs[i].Component {
				t.Fatalf("room %d: entry %d is %.50q, want %.50q in order", room, i, r.Component, rs[i].Component)
			}
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAnnotationsBudget: past nine annotations of a kind the rest go to the log as plain lines,
// and one last annotation counts them; no message is lost.
func TestAnnotationsBudget(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := NewLog(&buf, true, func(string) string { return "" })
	for i := range 100 {
		l.Error(fmt.Sprintf("f%d.yaml", i), i+1, fmt.Sprintf("problem %d", i))
	}
	for i := range 3 {
		l.Warning("careful %d", i)
	}
	l.Close()
	cmds, _ := runnerCommands(buf.String())
	count := map[string]int{}
	for _, c := range cmds {
		count[c.name]++
	}
	if count["error"] != AnnotationsPerKind || count["warning"] != 3 {
		t.Errorf("annotations %v, want %d errors and 3 warnings", count, AnnotationsPerKind)
	}
	if last := cmds[len(cmds)-1]; last.name != "error" || !strings.HasPrefix(last.data, "91 more errors not shown as annotations") {
		t.Errorf("last annotation %+v, want the count of those held back", last)
	}
	for i := range 100 {
		if !strings.Contains(buf.String(), fmt.Sprintf("problem %d\n", i)) {
			t.Fatalf("problem %d is not in the log", i)
		}
	}
}

// TestLogBudgets: a line, a group and an annotation of megabytes stay within their budgets, cut
// with a note.
func TestLogBudgets(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("\x1b😀", 1<<16)
	for _, actions := range []bool{true, false} {
		var buf bytes.Buffer
		l := NewLog(&buf, actions, func(string) string { return "" })
		l.Printf("a %s", huge)
		l.Notice("n %s", huge)
		lines := make([]string, 20000)
		for i := range lines {
			lines[i] = fmt.Sprintf("line %d %s", i, huge[:i%100])
		}
		l.Group(huge, lines)
		fmt.Fprintf(l.Writer(), "COMPONENT\n%s\n", huge)
		out := buf.String()
		if !utf8.ValidString(out) {
			t.Fatal("the log is not valid UTF-8")
		}
		for _, line := range runnerLines(out) {
			if len(line) > LogLineBudget+64 {
				t.Fatalf("actions %v: a line of %d bytes: %.100q", actions, len(line), line)
			}
		}
		if len(out) > GroupBudget+8*LogLineBudget {
			t.Errorf("actions %v: %d bytes of log, the group was not bounded", actions, len(out))
		}
		if !strings.Contains(out, "more lines not shown") || !strings.Contains(out, "more bytes not shown") {
			t.Errorf("actions %v: the cuts are not said", actions)
		}
	}
}

// TestOutputsBudget: outputs are written whole or left out with a warning, and the result takes
// what is left.
func TestOutputsBudget(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "output")
	var log bytes.Buffer
	l := NewLog(&log, true, func(k string) string { return map[string]string{"GITHUB_OUTPUT": out}[k] })
	big := strings.Repeat("x", OutputsBudget)
	omitted, err := l.SetOutputs(map[string]string{"pushed": "true", "digests": big}, []string{"pushed", "digests"})
	if err != nil {
		t.Fatal(err)
	}
	if len(omitted) != 1 || omitted[0] != "digests" || !strings.Contains(log.String(), "::warning::the digests output is left out") {
		t.Errorf("omitted %v, log:\n%.500s", omitted, log.String())
	}
	room := l.OutputRoom("result")
	result := ResultJSON(manyResults(1000, 20), room)
	if omitted, err := l.SetOutputs(map[string]string{"result": result}, []string{"result"}); err != nil || len(omitted) > 0 {
		t.Fatalf("the result sized to OutputRoom was left out (%v, %v)", omitted, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > OutputsBudget {
		t.Errorf("%d bytes of outputs, over the budget %d", len(b), OutputsBudget)
	}
	// As GitHub measures it (UTF-16), within half the job's 1 MB.
	if units := len(utf16Units(string(b))) * 2; units > 1_000_000/2+OutputsBudget/8 {
		t.Errorf("%d bytes as UTF-16", units)
	}
}

func utf16Units(s string) []rune {
	var out []rune
	for _, r := range s {
		out = append(out, r)
		if r >= 0x10000 {
			out = append(out, r)
		}
	}
	return out
}

// TestResultFile: the file holds every entry, whatever the sinks left out, and its path is the one
// the job's later steps see.
func TestResultFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := NewLog(&bytes.Buffer{}, true, func(k string) string { return map[string]string{"RUNNER_TEMP": dir}[k] })
	rs := manyResults(300, 20)
	path, err := l.ResultFile(rs)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != dir {
		t.Errorf("result file %s, want it in RUNNER_TEMP", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back []Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != len(rs) || len(back[299].Findings) != 20 || back[1].Error != rs[1].Error || back[3].Component != rs[3].Component {
		t.Errorf("the result file holds %d entries, want all %d whole", len(back), len(rs))
	}
	for _, tc := range []struct{ temp, workspace, path, want string }{
		{"/github/runner_temp", "/home/runner/work/apps", "/github/runner_temp/fleetpush-result-1.json", "/home/runner/work/_temp/fleetpush-result-1.json"},
		{"/home/runner/work/_temp", "/home/runner/work/apps", "/home/runner/work/_temp/r.json", "/home/runner/work/_temp/r.json"},
		{"/github/runner_temp", "", "/github/runner_temp/r.json", "/github/runner_temp/r.json"},
		{"", "", "/var/cache/r.json", "/var/cache/r.json"},
	} {
		env := map[string]string{"RUNNER_TEMP": tc.temp, "RUNNER_WORKSPACE": tc.workspace}
		l := NewLog(&bytes.Buffer{}, true, func(k string) string { return env[k] })
		if got := l.hostPath(tc.path); got != tc.want {
			t.Errorf("hostPath(%q) with RUNNER_TEMP=%q RUNNER_WORKSPACE=%q = %q, want %q", tc.path, tc.temp, tc.workspace, got, tc.want)
		}
	}
}

// TestPreviewFile: the comment file goes beside the result file, in RUNNER_TEMP (never the
// checkout, which a later step may pack), readable by later steps, with known secrets masked;
// each run writes a new file, so nothing already there is written through.
func TestPreviewFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := NewLog(&bytes.Buffer{}, true, func(k string) string { return map[string]string{"RUNNER_TEMP": dir}[k] })
	l.Mask("s3cr3t-value")
	first, err := l.PreviewFile("#### frontend\nleaked s3cr3t-value\n")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(first) != dir || !strings.HasSuffix(first, ".md") {
		t.Errorf("preview file %s, want a .md file in RUNNER_TEMP", first)
	}
	b, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "#### frontend\nleaked ***\n" {
		t.Errorf("preview file holds %q", b)
	}
	if fi, err := os.Stat(first); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("preview file mode %v, %v; want 0644", fi.Mode(), err)
	}
	second, err := l.PreviewFile("again")
	if err != nil || second == first {
		t.Errorf("a second preview file %q (%v), want a new one beside %q", second, err, first)
	}
}

// FuzzResultJSON: whatever the results hold and whatever the room, the result output is valid
// JSON within the room (or nothing), its entries in order, the rest counted.
func FuzzResultJSON(f *testing.F) {
	f.Add("a", "err\n```", "finding", 3, 200)
	f.Add(strings.Repeat("ü", 300), "\xff", "<script>", 40, 1000)
	f.Fuzz(func(t *testing.T, name, errText, finding string, n, room int) {
		if n < 0 || n > 200 || room < 0 || room > 1<<16 {
			t.Skip()
		}
		rs := make([]Result, n)
		for i := range rs {
			rs[i] = Result{Component: fmt.Sprint(name, i), Status: Invalid, Error: errText, Findings: []string{finding, finding}}
		}
		got := ResultJSON(rs, room)
		if len(got) > room {
			t.Fatalf("%d bytes, room %d", len(got), room)
		}
		if got == "" {
			return
		}
		var back []Result
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		shown := len(back)
		if shown > 0 && back[shown-1].Status == Omitted {
			shown--
			if back[shown].Omitted+shown != n {
				t.Fatalf("%d shown + %d counted, want %d", shown, back[shown].Omitted, n)
			}
		} else if shown != n {
			t.Fatalf("%d entries and none counted, want %d", shown, n)
		}
		for i := range shown {
			var want string // the name as JSON carries it (invalid UTF-8 replaced)
			b, _ := json.Marshal(rs[i].Component)
			json.Unmarshal(b, &want)
			if back[i].Component != want {
				t.Fatalf("entry %d is %q, want %q", i, back[i].Component, rs[i].Component)
			}
		}
	})
}
