package report

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// hostileResults carry what a pull request and a server can put in a summary: a YAML key with
// backticks that closes a three-backtick fence, a heading, a remote image, HTML, table pipes.
func hostileResults() []Result {
	finding := "components/x/base/cm.yaml:7: unknown field \"```\n# Pwned\n![x](https://evil.example/x.png)\n<img src=https://evil.example/y.png>\n````\""
	return []Result{
		{Component: "good", Status: Pushed, Changed: true, Digest: "sha256:" + strings.Repeat("ab", 32), Size: 2048,
			Tags: []string{"main-1234abcd", "latest"}, Signed: "new", Verified: true, Duration: Duration(1500 * time.Millisecond)},
		{Component: "x|y <b>bold</b> ![i](https://evil.example/i.png)", Status: Invalid, Digest: "sha256:`|`",
			Tags:     []string{"v1`2", "``", "a|b"},
			Error:    "registry said:\n```\n# Heading\n<script>alert(1)</script>\n",
			Findings: []string{finding, "second\r```\r# cr heading"}},
		{Component: "z", Status: Failed, Error: "pushing: 500 <html>![x](https://evil.example/x.png) **bold** | [l](u)"},
	}
}

const hostileSnippet = "verify:\n  provider: cosign\n  # ```\n  subject: ^https://github\\.com/a/b/\\.github/workflows/x\\.yaml@refs/heads/````$\n"

func TestSummaryGolden(t *testing.T) {
	t.Parallel()
	got := summary("fleetpush # publish <i>", hostileResults(), hostileSnippet, SummaryBudget)
	golden(t, "summary-hostile.md", got)
}

// TestSummaryRendersNoContent checks the hostile summary's structure as a markdown reader sees
// it: the code blocks hold exactly the content (no fence closed early), and outside them
// nothing is a heading, HTML, link or image, and each table row has its eight cells.
func TestSummaryRendersNoContent(t *testing.T) {
	t.Parallel()
	rs := hostileResults()
	md := summary("fleetpush publish", rs, hostileSnippet, SummaryBudget)
	checkMarkdown(t, md, 3, []string{hostileSnippet, rs[1].Error, strings.Join(rs[1].Findings, "\n")})
}

// summary renders the step summary within a budget of n bytes.
func summary(title string, rs []Result, snippet string, n int) string {
	doc := NewSummary(NewBudget(n))
	SummaryMarkdown(doc, title, rs, snippet)
	return doc.Close()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading %s (run with -update to create it): %v", p, err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; -update rewrites it):\n%s", name, diff)
	}
}

var (
	openFence  = regexp.MustCompile("^(`{3,})([a-z]*)$")
	setextLine = regexp.MustCompile(`^ {0,3}(=+|-+)[ \t]*$`)
)

// checkMarkdown reads md as GitHub's markdown does, for what SummaryMarkdown writes: line ends
// are LF, CR or CRLF; a fenced block ends at a line of at least as many backticks. It checks that
// there are rows table rows and that the code blocks hold blocks (as line lists), and that
// outside code nothing can render as a heading (ATX or setext, but the title), HTML, a link or
// an image.
func checkMarkdown(t testing.TB, md string, rows int, blocks []string) {
	t.Helper()
	lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(md, "\r\n", "\n"), "\r", "\n"), "\n")
	var got []string
	fence, gotRows := "", 0
	var block []string
	for i, line := range lines {
		if fence != "" {
			trimmed := strings.TrimLeft(line, " ")
			if len(line)-len(trimmed) <= 3 && strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "` \t") == "" {
				got = append(got, strings.Join(block, "\n"))
				fence, block = "", nil
				continue
			}
			block = append(block, line)
			continue
		}
		if m := openFence.FindStringSubmatch(line); m != nil {
			fence = m[1]
			continue
		}
		if i > 0 && strings.HasPrefix(strings.TrimLeft(line, " "), "#") {
			t.Errorf("line %d is a heading: %q", i+1, line)
		}
		if setextLine.MatchString(line) {
			t.Errorf("line %d underlines a heading: %q", i+1, line)
		}
		if bad := activeOutsideCode(line); bad != "" {
			t.Errorf("line %d holds %s outside code: %q", i+1, bad, line)
		}
		if strings.HasPrefix(line, "| ") {
			gotRows++
			if n := unescapedPipes(line); n != 9 {
				t.Errorf("line %d: a table row with %d cell borders, want 9: %q", i+1, n, line)
			}
		}
	}
	if fence != "" {
		t.Errorf("a code block is never closed")
	}
	if gotRows != rows+1 { // and the header
		t.Errorf("%d table rows, want %d", gotRows-1, rows)
	}
	var want []string
	for _, b := range blocks {
		want = append(want, normalizeLines(strings.TrimRight(strings.ReplaceAll(b, "\x00", "\uFFFD"), "\r\n")))
	}
	same := len(want) == len(got)
	for i := 0; same && i < len(want); i++ {
		same = got[i] == want[i] || blockHolds(got[i], blocks[i])
	}
	if !same {
		t.Errorf("code blocks (-want +got):\n%s\nmarkdown:\n%s", cmp.Diff(want, got), md)
	}
}

func normalizeLines(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// blockHolds says whether got (a code block as read back, line ends normalized) holds text the
// way the summary promises to cut it: each line of text whole, or, when it is longer than
// summaryLine bytes, its first bytes and a note of how many more there were, in summaryLine
// bytes at most; and, when the block is cut, its first lines and a note of how many more.
func blockHolds(got, text string) bool {
	text = strings.TrimRight(strings.ReplaceAll(text, "\x00", "\uFFFD"), "\r\n")
	lines := strings.Split(text, "\n")
	rest := got + "\n"
	for i, line := range lines {
		if i > 0 && rest == fmt.Sprintf("… %s not shown\n", plural(len(lines)-i, "more line", "more lines")) {
			return true
		}
		// A line's own CR and the LF after it make one line end.
		if whole := normalizeLines(strings.TrimSuffix(line, "\r")) + "\n"; strings.HasPrefix(rest, whole) {
			rest = rest[len(whole):]
			continue
		}
		if len(line) <= summaryLine {
			return false
		}
		cut := false
		for p := min(len(line), summaryLine); p >= 0 && !cut; p-- {
			note := fmt.Sprintf("… (%d more bytes not shown)", len(line)-p)
			if p+len(note) > summaryLine {
				continue
			}
			if shown := normalizeLines(line[:p]+note) + "\n"; strings.HasPrefix(rest, shown) {
				rest, cut = rest[len(shown):], true
			}
		}
		if !cut {
			return false
		}
	}
	return rest == ""
}

// activeOutsideCode returns what in line, outside code spans and backslash escapes, could start
// HTML, a link or an image: "<" or "[".
func activeOutsideCode(line string) string {
	for i := 0; i < len(line); i++ {
		switch c := line[i]; c {
		case '\\':
			i++
		case '`':
			n := 1
			for i+n < len(line) && line[i+n] == '`' {
				n++
			}
			if end := closingRun(line[i+n:], n); end >= 0 {
				i += n + end + n - 1
			} else {
				i += n - 1
			}
		case '<', '[':
			return fmt.Sprintf("%q at %d", c, i)
		}
	}
	return ""
}

// closingRun finds a run of exactly n backticks in s.
func closingRun(s string, n int) int {
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '`' {
			j++
		}
		if j-i == n {
			return i
		}
		i = j
	}
	return -1
}

// unescapedPipes counts the "|" that split a GitHub table row: those without a backslash
// right before them, inside code spans too.
func unescapedPipes(line string) int {
	n := 0
	for i := 0; i < len(line); i++ {
		if line[i] == '|' && (i == 0 || line[i-1] != '\\') {
			n++
		}
	}
	return n
}

func TestMarkdownEscapers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"text", MarkdownText("# h1 ![i](u) <b>&amp; *x* _y_ `c` | a\nb"), `\# h1 \!\[i\](u) &lt;b&gt;&amp;amp; \*x\* \_y\_ \` + "`c\\`" + ` \| a b`},
		{"text keeps inert punctuation", MarkdownText("a (b), c; d? 'e' \"f\" g/h 5%"), "a (b), c; d? 'e' \"f\" g/h 5%"},
		{"code", MarkdownCode("a`b"), "``a`b``"},
		{"code with edge backticks", MarkdownCode("`x`"), "`` `x` ``"},
		{"code with a pipe", MarkdownCode("a|b"), "`a\\|b`"},
		{"code on one line", MarkdownCode("a\nb\rc"), "`a b c`"},
		{"block", MarkdownCodeBlock("x\n```\ny", "text"), "````text\nx\n```\ny\n````\n"},
		{"block with a long run", MarkdownCodeBlock("``````", ""), "```````\n``````\n```````\n"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

// TestSummaryCuts: an error line longer than summaryLine and a list of findings longer than
// summaryBlock are cut as promised (see blockHolds), and the markdown stays well formed.
func TestSummaryCuts(t *testing.T) {
	t.Parallel()
	errText := "first\r\n" + strings.Repeat("x`", summaryLine) + "\nlast"
	findings := strings.Repeat("finding\n", summaryBlock/4)
	rs := []Result{{Component: "a", Status: Failed, Error: errText, Findings: strings.Split(strings.TrimSuffix(findings, "\n"), "\n")}}
	md := summary("t", rs, "", SummaryBudget)
	if !strings.Contains(md, "more bytes not shown") || !strings.Contains(md, "more lines not shown") {
		t.Fatalf("nothing was cut:\n%s", md)
	}
	checkMarkdown(t, md, 1, []string{errText, findings})
}

// FuzzSummaryMarkdown: whatever a component's name, error, findings, tags and the snippet hold,
// the summary has one row per component, code blocks that hold exactly their content, and
// nothing outside code that renders as a heading, HTML, link or image.
func FuzzSummaryMarkdown(f *testing.F) {
	r := hostileResults()[1]
	f.Add(r.Component, r.Error, r.Findings[0], r.Tags[0], r.Digest, hostileSnippet)
	f.Add("a", "```", "~~~\n# x", "|", "\r", "````\n<x>")
	f.Add("=", "-", "\x00", "\\", "\\|", "")
	f.Add("b", "e\r\n"+strings.Repeat("x`", summaryLine/2+1), "f", "t", "sha256:0", "") // a line past summaryLine
	f.Fuzz(func(t *testing.T, component, errText, finding, tag, digest, snippet string) {
		rs := []Result{
			{Component: component, Status: Failed, Error: errText, Findings: []string{finding}, Tags: []string{tag, tag}, Digest: digest, Signed: tag},
			{Component: tag, Status: Pushed},
		}
		md := summary(component, rs, snippet, SummaryBudget)
		var blocks []string
		if snippet != "" {
			blocks = append(blocks, snippet)
		}
		if strings.ContainsAny(errText, "\r\n") {
			blocks = append(blocks, errText)
		}
		blocks = append(blocks, finding)
		checkMarkdown(t, md, 2, blocks)
	})
}

// FuzzLogCommands: whatever text reaches the log through any writer, the runner would run only
// the commands the writers issue themselves, and find no line of the older "##[" syntax.
func FuzzLogCommands(f *testing.F) {
	for _, s := range hostileTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf strings.Builder
		l := NewLog(&buf, true, func(string) string { return "" })
		want := logWrites(l, s)
		cmds, legacy := runnerCommands(buf.String())
		if diff := cmp.Diff(want, names(cmds)); diff != "" || len(legacy) > 0 {
			t.Fatalf("commands (-want +got):\n%s\nlegacy lines: %q\nlog:\n%s", diff, legacy, buf.String())
		}
	})
}
