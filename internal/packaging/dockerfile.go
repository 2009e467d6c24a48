package packaging

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Instruction is one Dockerfile instruction after line continuations are joined.
type Instruction struct {
	Cmd  string // upper case, e.g. "RUN"
	Args string // the rest of the instruction, whitespace-trimmed
	Line int    // 1-based line where the instruction starts
}

// Exec returns the arguments of an exec-form instruction (`ENTRYPOINT ["/a", "b"]`) and whether
// the instruction used that form.
func (in Instruction) Exec() ([]string, bool) {
	var args []string
	if !strings.HasPrefix(in.Args, "[") || json.Unmarshal([]byte(in.Args), &args) != nil {
		return nil, false
	}
	return args, true
}

// Stage is one build stage: its FROM and the instructions that follow it.
type Stage struct {
	From         Instruction
	Image        string // image reference, e.g. "golang:1.26.8-bookworm@sha256:…"
	Name         string // the `AS` name, lower case, or ""
	Instructions []Instruction
}

// ParseDockerfile splits a Dockerfile into instructions the way the Docker builder reads them:
// comment lines are dropped (also inside continuations) and lines ending in a backslash are
// joined. It understands just enough for policy checks; it does not expand variables.
func ParseDockerfile(r io.Reader) ([]Instruction, error) {
	var (
		out     []Instruction
		pending strings.Builder
		start   int
	)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if pending.Len() == 0 {
			start = n
		} else {
			pending.WriteByte(' ')
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending.WriteString(strings.TrimSpace(cont))
			continue
		}
		pending.WriteString(line)
		cmd, args, _ := strings.Cut(pending.String(), " ")
		out = append(out, Instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start})
		pending.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading Dockerfile: %w", err)
	}
	if pending.Len() > 0 {
		return nil, fmt.Errorf("line %d: the last instruction ends with a line continuation", start)
	}
	return out, nil
}

// Stages groups instructions by FROM. Instructions before the first FROM (ARG) are ignored.
func Stages(ins []Instruction) ([]Stage, error) {
	var stages []Stage
	for _, in := range ins {
		if in.Cmd != "FROM" {
			if len(stages) > 0 {
				stages[len(stages)-1].Instructions = append(stages[len(stages)-1].Instructions, in)
			}
			continue
		}
		f := strings.Fields(in.Args)
		for len(f) > 0 && strings.HasPrefix(f[0], "--") { // --platform=…
			f = f[1:]
		}
		s := Stage{From: in}
		switch {
		case len(f) == 1:
			s.Image = f[0]
		case len(f) == 3 && strings.EqualFold(f[1], "AS"):
			s.Image, s.Name = f[0], strings.ToLower(f[2])
		default:
			return nil, fmt.Errorf("line %d: cannot read %q: want FROM IMAGE [AS NAME]", in.Line, in.Args)
		}
		stages = append(stages, s)
	}
	return stages, nil
}

// ShellWords splits a command line into words the way a POSIX shell would for simple commands:
// whitespace separates words, and single or double quotes group them (no expansion is done, so
// "$out" stays the word $out).
func ShellWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote rune
	)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// GoBuildCommand finds the `go build` command in a shell command line (segments joined by && or
// ;) and returns its words, environment assignments included.
func GoBuildCommand(script string) ([]string, bool) {
	for _, seg := range strings.FieldsFunc(strings.ReplaceAll(script, "&&", ";"), func(r rune) bool { return r == ';' }) {
		words, err := ShellWords(seg)
		if err != nil {
			continue
		}
		for i := 0; i+1 < len(words); i++ {
			if words[i] == "go" && words[i+1] == "build" {
				return words, true
			}
		}
	}
	return nil, false
}
