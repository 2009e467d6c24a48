package report

import (
	"strings"
	"unicode"
)

// This file reads output the way the GitHub Actions runner does, to check what it would run.

// runnerLines splits output into the lines the runner reads: it ends a line at LF, CR or CRLF.
func runnerLines(out string) []string {
	out = strings.ReplaceAll(out, "\r\n", "\n")
	return strings.FieldsFunc(out, func(r rune) bool { return r == '\n' || r == '\r' })
}

// command is one workflow command as the runner parses it.
type command struct {
	name  string
	props map[string]string
	data  string
}

// runnerCommands returns the commands the runner would run from out, and every line that holds
// the older "##[" syntax (which the runner looks for anywhere in a line). It is stricter than the
// runner: any name counts, registered or not, and leading invisible characters are skipped too.
func runnerCommands(out string) (cmds []command, legacy []string) {
	for _, line := range runnerLines(out) {
		if strings.Contains(line, "##[") {
			legacy = append(legacy, line)
		}
		trimmed := strings.TrimLeftFunc(line, func(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) })
		if !strings.HasPrefix(trimmed, "::") {
			continue
		}
		end := strings.Index(trimmed[2:], "::")
		if end < 0 {
			continue
		}
		info := trimmed[2 : 2+end]
		c := command{name: info, props: map[string]string{}, data: unescapeData(trimmed[2+end+2:])}
		if name, props, ok := strings.Cut(info, " "); ok {
			c.name = name
			for _, p := range strings.Split(props, ",") {
				if k, v, ok := strings.Cut(p, "="); ok {
					c.props[k] = unescapeProperty(v)
				}
			}
		}
		cmds = append(cmds, c)
	}
	return cmds, legacy
}

func unescapeData(s string) string {
	return strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%").Replace(s)
}

func unescapeProperty(s string) string {
	return strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%").Replace(s)
}

func names(cmds []command) []string {
	out := make([]string, len(cmds))
	for i, c := range cmds {
		out[i] = c.name
	}
	return out
}
