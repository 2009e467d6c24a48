package report

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The escapers below, one per sink, are the only way text from the repository, the event or a
// server reaches the log, the annotations or the step summary.
//
// The log (stdout and stderr) is read line by line by the Actions runner, which runs as a
// workflow command any line that starts with "::" once leading white space is trimmed, and any
// line that holds "##[" anywhere (the runner's older syntax). A line of fleetpush output starts a
// command only when this package's command writer writes one.

// logLine makes s safe as one log line: line breaks and other control characters are written as
// Go escapes (\n, \r, \x1b) so that text can neither start a line of its own nor drive the
// terminal, and what is left cannot start a workflow command.
func logLine(s string) string { return neutralise(escapeControls(s, true)) }

// cell is logLine for a cell of a tab-aligned table: a tab would shift the columns.
func cell(s string) string { return neutralise(escapeControls(s, false)) }

// logBlock makes multi-line text safe for the log: every line as logLine, the line breaks kept.
// A lone carriage return is a line break to the runner too, so it becomes one here.
func logBlock(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = logLine(l)
	}
	return strings.Join(lines, "\n")
}

// escapeControls writes C0 and C1 control characters, DEL, the Unicode line and paragraph
// separators and invalid UTF-8 as Go escapes; tab too unless keepTab.
func escapeControls(s string, keepTab bool) string {
	clean := true
	for _, r := range s {
		if isControl(r, keepTab) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t' && !keepTab:
			b.WriteString(`\t`)
		case isControl(r, keepTab) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case isControl(r, keepTab):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func isControl(r rune, keepTab bool) bool {
	switch {
	case r == '\t':
		return !keepTab
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0, r == '\u2028', r == '\u2029':
		return true
	case r == utf8.RuneError:
		return true // invalid UTF-8 (or U+FFFD itself, written as an escape: harmless)
	}
	return false
}

// neutralise keeps one line (without line breaks) from being read as a workflow command: a
// backslash goes before a "::" that follows only blank or invisible characters, and between
// "##" and "[".
func neutralise(line string) string {
	line = strings.ReplaceAll(line, "##[", `##\[`)
	i := 0
	for i < len(line) {
		r, size := utf8.DecodeRuneInString(line[i:])
		if !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r) {
			break
		}
		i += size
	}
	if strings.HasPrefix(line[i:], "::") {
		return line[:i] + `\` + line[i:]
	}
	return line
}

// commandData makes s safe as the message of a workflow command (an annotation, a group title):
// the command writer then escapes %, CR and LF as the runner expects. Line breaks are kept for
// multi-line annotations, and each line is made safe because the runner writes the message back
// into the log.
func commandData(s string) string { return logBlock(s) }

// Markdown for the step summary. Nothing from content renders as markdown or HTML: text is
// escaped character by character, code goes in spans or fenced blocks whose fences are longer
// than any run of backticks it holds.

// inert are the ASCII punctuation characters that start nothing in GitHub markdown once "[",
// "]" and "<" are escaped (they matter only inside a link), left as they are for readability.
const inert = `(),;?'"/%`

// MarkdownText returns s as literal inline text for the step summary, on one line (in a
// paragraph or a table cell): every other ASCII punctuation character is backslash-escaped, so
// no emphasis, link, image, heading, list, table pipe or web autolink can start, and <, > and &
// are HTML entities, so no tag or entity can either.
func MarkdownText(s string) string {
	s = oneMarkdownLine(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case strings.ContainsRune(inert, r):
			b.WriteRune(r)
		case r < 0x80 && (unicode.IsPunct(r) || unicode.IsSymbol(r)):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MarkdownCode returns s as an inline code span for the step summary, on one line: the span's
// backtick fence is longer than any run of backticks in s, and a "|" is escaped, since GitHub
// splits table cells at a bare "|" even inside code.
func MarkdownCode(s string) string {
	s = strings.ReplaceAll(oneMarkdownLine(s), "|", `\|`)
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.TrimSpace(s) == "" {
		s = " " + s + " " // CommonMark strips one space each side
	}
	return fence + s + fence
}

// MarkdownCodeBlock returns s as a fenced code block, with lang as its info string (a constant
// of the caller's, never content). The fence is longer than any run of backticks in s, so no
// line of s can close it; inside it nothing is markdown or HTML.
func MarkdownCodeBlock(s, lang string) string {
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	s = strings.TrimRight(s, "\r\n")
	fence := strings.Repeat("`", max(3, longestRun(s, '`')+1))
	return fence + lang + "\n" + s + "\n" + fence + "\n"
}

// oneMarkdownLine replaces line breaks (CR and LF alike end a markdown line) and other control
// characters with spaces, and NUL as CommonMark does.
func oneMarkdownLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == 0:
			return '\uFFFD'
		case r < 0x20, r == 0x7f, r == '\u2028', r == '\u2029', r >= 0x80 && r < 0xa0:
			return ' '
		}
		return r
	}, s)
}

func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// minEncoded is the shortest encoded form of a secret that is redacted: a shorter fragment (the
// base64 of a short secret at an odd offset) would blank harmless text all over the log.
const minEncoded = 6

// encodedForms lists the forms a secret takes inside other text, as a server may echo it: its
// base64 (standard and URL alphabets, whole and at each of the three byte offsets it can have
// inside a longer base64 text, without the characters that depend on its neighbours), and its
// URL and JSON escapes.
func encodedForms(secret string) []string {
	var out []string
	add := func(f string) {
		if len(f) >= minEncoded && f != secret && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	b := []byte(secret)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		add(enc.EncodeToString(b))
		raw := enc.WithPadding(base64.NoPadding)
		for shift := range 3 {
			e := raw.EncodeToString(append(make([]byte, shift), b...))
			// Characters wholly made of the secret's bits: after the shift's bits, before
			// the bits of whatever follows.
			start, end := (shift*8+5)/6, (shift+len(b))*8/6
			if end > start {
				add(e[start:end])
			}
		}
	}
	add(url.QueryEscape(secret))
	add(url.PathEscape(secret))
	if j, err := json.Marshal(secret); err == nil {
		add(string(j[1 : len(j)-1]))
	}
	return out
}
