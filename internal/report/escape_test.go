package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hostileTexts are what a pull request or a server can put in a kind, a file name or an error
// body, each trying to start a workflow command of its own.
var hostileTexts = []string{
	"ConfigMap\n::warning::pwned",
	"x\r::error::pwned",
	"x\r\n::add-mask::abc",
	"  \t::stop-commands::token",
	"\u00a0\u2003::set-output name=a::b",
	"\ufeff::error::bom",
	"body\u2028::error::line separator",
	"body\u0085::error::next line",
	"ok ##[warning]legacy",
	"##[add-mask]secret",
	"\x1b[2J\x1b]0;title\x07 terminal",
	"bad utf-8 \xff\xfe::error::x",
	"::endgroup::",
}

// logWrites writes s through every writer of a Log in Actions mode and returns the output and
// the commands the writers meant to issue, in order.
func logWrites(l *Log, s string) []string {
	l.Printf("%s", s)
	l.Printf("registry: %s", s)
	l.Notice("%s", s)
	l.Warning("%s", s)
	l.Error(s, 7, s)
	l.Error("", 0, s)
	l.Group(s, []string{s, "second " + s})
	l.Progress(1, 2, Result{Component: s, Status: Failed, Error: s})
	_ = WriteText(l.Writer(), []Result{{Component: s, Status: Status(s), Digest: s, Tags: []string{s}, Signed: s, Error: s, Skipped: []string{s}}})
	return []string{"notice", "warning", "error", "error", "group", "endgroup"}
}

func TestNoContentStartsAWorkflowCommand(t *testing.T) {
	t.Parallel()
	for _, s := range hostileTexts {
		var buf bytes.Buffer
		l := NewLog(&buf, true, func(string) string { return "" })
		want := logWrites(l, s)
		cmds, legacy := runnerCommands(buf.String())
		if diff := cmp.Diff(want, names(cmds)); diff != "" {
			t.Errorf("%q: commands the runner would run (-want +got):\n%s\nlog:\n%s", s, diff, buf.String())
		}
		if len(legacy) > 0 {
			t.Errorf("%q: lines with ##[: %q", s, legacy)
		}
		// The annotation keeps the message, made safe, and names the file as given.
		for _, c := range cmds {
			if c.name == "error" && c.props["file"] != "" {
				if got, want := c.props["file"], commandData(s); got != want {
					t.Errorf("%q: file property %q, want %q", s, got, want)
				}
				if got, want := c.props["line"], "7"; got != want {
					t.Errorf("%q: line property %q, want %q", s, got, want)
				}
				if got, want := c.data, commandData(s); got != want {
					t.Errorf("%q: message %q, want %q", s, got, want)
				}
			}
		}

		// Outside Actions no command at all.
		buf.Reset()
		logWrites(NewLog(&buf, false, func(string) string { return "" }), s)
		if cmds, legacy := runnerCommands(buf.String()); len(cmds) > 0 || len(legacy) > 0 {
			t.Errorf("%q: outside Actions the log holds commands %v %q", s, names(cmds), legacy)
		}
	}
}

func TestLogLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain text: a::b", "plain text: a::b"},
		{"kind\n::warning::x", `kind\n::warning::x`},
		{"::warning::x", `\::warning::x`},
		{" \t::x::y", ` ` + "\t" + `\::x::y`},
		{"\u00a0::x::y", "\u00a0" + `\::x::y`},
		{"a ##[group]b", `a ##\[group]b`},
		{"cr\rlf\nesc\x1bdel\x7fc1\u009bls\u2028", `cr\rlf\nesc\x1bdel\x7fc1\x9bls\u2028`},
		{"bad \xff", `bad \xff`},
		{"café 日本 ✓", "café 日本 ✓"},
	}
	for _, tt := range tests {
		if got := logLine(tt.in); got != tt.want {
			t.Errorf("logLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := cell("a\tb"), `a\tb`; got != want {
		t.Errorf("cell = %q, want %q", got, want)
	}
	if got, want := logBlock("one\r\n::error::two\rthree"), "one\n\\::error::two\nthree"; got != want {
		t.Errorf("logBlock = %q, want %q", got, want)
	}
}

// The reported case: a finding whose message holds a newline and a command, from a YAML kind.
func TestFindingWithNewlineIsOneAnnotation(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := NewLog(&buf, true, func(string) string { return "" })
	l.Error("components/x/base/cm.yaml", 7, "unknown kind \"ConfigMap\n::add-mask::ghp_token\n::warning::pwned\"")
	got := buf.String()
	if strings.Count(got, "\n") != 1 {
		t.Fatalf("one annotation took several lines:\n%s", got)
	}
	want := "::error file=components/x/base/cm.yaml,line=7::unknown kind \"ConfigMap%0A\\::add-mask::ghp_token%0A\\::warning::pwned\"\n"
	if got != want {
		t.Errorf("annotation\n got %q\nwant %q", got, want)
	}
}

func TestWriteJSONHidesLegacyCommands(t *testing.T) {
	t.Parallel()
	for _, s := range hostileTexts {
		var buf bytes.Buffer
		rs := []Result{{Component: s, Status: Failed, Error: s, Findings: []string{s}, Tags: []string{s}}}
		if err := WriteJSON(&buf, rs); err != nil {
			t.Fatal(err)
		}
		if cmds, legacy := runnerCommands(buf.String()); len(cmds) > 0 || len(legacy) > 0 {
			t.Errorf("%q: JSON on stdout holds commands %v %q:\n%s", s, names(cmds), legacy, buf.String())
		}
		var back []Result
		if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
			t.Fatalf("%q: the JSON does not parse: %v", s, err)
		}
		// The value is what encoding/json makes of s (invalid UTF-8 becomes U+FFFD).
		var want string
		plain, _ := json.Marshal(s)
		_ = json.Unmarshal(plain, &want)
		if len(back) != 1 || back[0].Error != want || back[0].Component != want {
			t.Errorf("%q: the JSON holds %+v, want the value unchanged", s, back)
		}
	}
}
