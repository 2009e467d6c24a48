package report

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sethvargo/go-githubactions"
)

// Log is where a run talks to humans: stderr, plus the GitHub Actions workflow commands when
// running in Actions. The runner reads workflow commands from stderr as well as stdout, and stdout
// stays clean for results (`--output json`).
type Log struct {
	w       io.Writer
	actions bool
	gh      *githubactions.Action
	getenv  func(string) string
	mu      sync.Mutex
	secrets []string

	// The budgets of the run's sinks (budget.go).
	once    sync.Once
	summary *Budget
	outputs *Budget
	shown   map[string]int // annotations written, by kind
	held    map[string]int // annotations written as plain log lines instead, by kind
}

// NewLog returns a Log writing to w; actions turns on workflow commands and the output files.
func NewLog(w io.Writer, actions bool, getenv func(string) string) *Log {
	l := &Log{w: w, actions: actions, getenv: getenv, outputs: NewBudget(OutputsBudget),
		shown: map[string]int{}, held: map[string]int{}}
	// Workflow commands go through the same lock as every other line: components report from
	// concurrent goroutines.
	l.gh = githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(lockedWriter{l}))
	return l
}

// lockedWriter writes to the log's stream under its lock.
type lockedWriter struct{ l *Log }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.l.w.Write(p)
}

// Redact replaces every masked secret in s with ***, for text that leaves through another door
// than this log (results on stdout, outputs).
func (l *Log) Redact(s string) string { return l.redact(s) }

// Actions reports whether workflow commands are on.
func (l *Log) Actions() bool { return l.actions }

// Mask tells the runner to hide s in every later log line, and remembers it so that this Log
// never writes it either, nor the forms it takes when encoded (base64, URL and JSON escapes) as
// it may come back inside a server's error.
func (l *Log) Mask(s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	l.remember(s)
	for _, f := range encodedForms(s) {
		l.remember(f)
	}
	// The runner masks those encodings of s by itself.
	l.addMask(s)
}

// MaskCredential masks a user name and password pair as Mask masks the password, and also the
// base64 of "user:password", which a docker config's auth field holds and an echoed Basic
// Authorization header carries ("Basic <base64>"): the runner cannot derive that one from the
// password alone. The app and the registry client call it for every credential they read (the
// registry inputs, GITHUB_TOKEN, the docker config).
func (l *Log) MaskCredential(user, password string) {
	if strings.TrimSpace(password) == "" {
		return
	}
	l.Mask(password)
	pair := []byte(user + ":" + password)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		whole := enc.EncodeToString(pair)
		l.remember(whole)
		l.addMask(whole)
		if trimmed := strings.TrimRight(whole, "="); trimmed != whole {
			l.remember(trimmed)
		}
	}
}

// remember adds s to the secrets this Log redacts, longest first so that a longer form is
// replaced whole before a shorter one inside it.
func (l *Log) remember(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, have := range l.secrets {
		if have == s {
			return
		}
	}
	l.secrets = append(l.secrets, s)
	slices.SortStableFunc(l.secrets, func(a, b string) int { return len(b) - len(a) })
}

// addMask sends ::add-mask:: for every line of s (the runner masks line by line).
func (l *Log) addMask(s string) {
	if !l.actions {
		return
	}
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if line = strings.TrimSpace(line); line != "" {
			l.gh.AddMask(line)
		}
	}
}

// redact replaces every known secret with ***: a second line of defence if one ever reaches an
// error message (a registry echoing a header, a URL with a password).
func (l *Log) redact(s string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, sec := range l.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}

// Printf writes a log line. Whatever the arguments hold, it stays one line of at most
// LogLineBudget bytes and starts no workflow command: line breaks and control characters are
// written escaped.
func (l *Log) Printf(format string, args ...any) {
	// Redacted before it is cut: a secret cut in half would no longer be found.
	msg := clip(strings.TrimRight(l.redact(fmt.Sprintf(format, args...)), "\r\n"), LogLineBudget, logLine)
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, msg)
}

// Notice writes a notice (an annotation in Actions, while the run's notices fit; see annotate).
func (l *Log) Notice(format string, args ...any) {
	if l.annotate("notice") {
		l.gh.Noticef("%s", l.message(fmt.Sprintf(format, args...)))
		return
	}
	l.Printf("notice: "+format, args...)
}

// Warning writes a warning (an annotation in Actions, while the run's warnings fit).
func (l *Log) Warning(format string, args ...any) {
	if l.annotate("warning") {
		l.gh.Warningf("%s", l.message(fmt.Sprintf(format, args...)))
		return
	}
	l.Printf("warning: "+format, args...)
}

// Error writes an error, with a file annotation in Actions when file is known (while the run's
// errors fit). The command writer escapes the file name as a property (a comma or colon cannot
// add or end one).
func (l *Log) Error(file string, line int, msg string) {
	msg = l.redact(msg)
	if l.annotate("error") {
		props := githubactions.CommandProperties{}
		if file != "" {
			props["file"] = clip(l.redact(file), LogLineBudget, commandData)
			if line > 0 {
				props["line"] = fmt.Sprint(line)
			}
		}
		l.gh.WithFieldsMap(props).Errorf("%s", l.message(msg))
		return
	}
	switch {
	case file != "" && line > 0:
		l.Printf("%s:%d: %s", file, line, msg)
	case file != "":
		l.Printf("%s: %s", file, msg)
	default:
		l.Printf("error: %s", msg)
	}
}

// message is an annotation's text: redacted, at most AnnotationBudget bytes, safe as command data.
func (l *Log) message(s string) string { return clip(l.redact(s), AnnotationBudget, commandData) }

// annotate reports whether the next annotation of kind may be written: in Actions, and while
// fewer than AnnotationsPerKind-1 of that kind were, since GitHub shows 10 of a kind a step and
// drops the rest without a word. The others go to the log as plain lines, and Close spends the
// last slot on one annotation that says how many there were.
func (l *Log) annotate(kind string) bool {
	if !l.actions {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shown[kind] < AnnotationsPerKind-1 {
		l.shown[kind]++
		return true
	}
	l.held[kind]++
	return false
}

// Close ends the run's log: for each kind of annotation the budget held back, one annotation
// says how many and where they are. Call it once, when nothing else will be written.
func (l *Log) Close() {
	for _, kind := range []string{"error", "warning", "notice"} {
		l.mu.Lock()
		n := l.held[kind]
		l.held[kind] = 0
		l.mu.Unlock()
		if n == 0 {
			continue
		}
		msg := fmt.Sprintf("%s not shown as annotations (GitHub shows %d of a kind a step): they are in the log of this step, and every finding is in the file the result-file output names",
			plural(n, "more "+kind, "more "+kind+"s"), AnnotationsPerKind)
		cmd := githubactions.Command{Name: kind, Message: msg}
		io.WriteString(lockedWriter{l}, cmd.String()+"\n")
	}
}

// Group prints a block of lines folded under title in Actions, plainly elsewhere. Lines are
// written at once so that concurrent components never interleave inside a group. A group holds
// at most GroupBudget bytes (each line at most LogLineBudget) and then says how many lines it
// left out.
func (l *Log) Group(title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	var b strings.Builder
	title = clip(l.redact(title), LogLineBudget, logLine)
	indent := "  "
	if l.actions {
		cmd := githubactions.Command{Name: "group", Message: title}
		b.WriteString(cmd.String() + "\n")
		indent = ""
	} else {
		fmt.Fprintf(&b, "%s\n", title)
	}
	body := NewBudget(GroupBudget).Section(0, func(n int) string {
		if n == 0 {
			return ""
		}
		return fmt.Sprintf("%s… %s not shown (a group holds %d KiB)\n", indent, plural(n, "more line", "more lines"), GroupBudget>>10)
	})
	for _, s := range lines {
		body.Add(indent + clip(l.redact(s), LogLineBudget, logLine) + "\n")
	}
	b.WriteString(body.Close())
	if l.actions {
		b.WriteString("::endgroup::\n")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, b.String())
}

// Progress prints the line a long run shows as each component finishes:
// [12/50] frontend pushed sha256:1a2b3c4d5e6f 120ms
func (l *Log) Progress(done, total int, r Result) {
	extra := short(r.Digest)
	if r.Error != "" {
		extra = r.Error
	}
	l.Printf("[%d/%d] %s %s %s %s", done, total, display(r.Component), r.Status, extra, time.Duration(r.Duration).Round(time.Millisecond))
}

// SetOutputs writes step outputs to GITHUB_OUTPUT with a random heredoc delimiter, so multi-line
// JSON (or a value an attacker shaped) can never end the value early. Every output of the run
// draws on one budget (OutputsBudget): an output is written whole or not at all, since a cut
// JSON value would mislead whoever reads it, and one left out is named in a warning and returned.
// Without GITHUB_OUTPUT it does nothing.
func (l *Log) SetOutputs(outputs map[string]string, order []string) (omitted []string, err error) {
	path := l.getenv("GITHUB_OUTPUT")
	if path == "" {
		return nil, nil
	}
	var b strings.Builder
	for _, k := range order {
		v, ok := outputs[k]
		if !ok {
			continue
		}
		delim, err := delimiter(v)
		if err != nil {
			return omitted, err
		}
		record := fmt.Sprintf("%s<<%s\n%s\n%s\n", k, delim, v, delim)
		if !l.outputs.take(len(record)) {
			omitted = append(omitted, k)
			l.Warning("the %s output is left out: its %d bytes are more than the %d left of the outputs budget (%d KiB a run, as GitHub allows 1 MB of outputs a job); the complete result is in the file the result-file output names",
				k, len(v), max(0, l.OutputRoom(k)), OutputsBudget>>10)
			continue
		}
		b.WriteString(record)
	}
	return omitted, appendFile(path, b.String())
}

// OutputRoom is the most bytes a value of output name may have to fit what is left of the
// outputs budget: what ResultJSON is given to shrink the result into.
func (l *Log) OutputRoom(name string) int {
	return l.outputs.Left() - len(fmt.Sprintf("%s<<%s\n\n%s\n", name, delimiterSample, delimiterSample))
}

// SummaryBudget is the step summary's budget for the whole run: SummaryBudget, or less when the
// summary file already holds so much that GitHub's 1 MiB would be passed.
func (l *Log) SummaryBudget() *Budget {
	l.once.Do(func() {
		room := SummaryBudget
		if path := l.getenv("GITHUB_STEP_SUMMARY"); path != "" {
			if fi, err := os.Stat(path); err == nil {
				room = min(room, summaryCap-int(min(fi.Size(), summaryCap)))
			}
		}
		l.summary = NewBudget(room)
	})
	return l.summary
}

// Summary closes doc, a document on SummaryBudget (NewSummary), and appends it to the job's step
// summary (GITHUB_STEP_SUMMARY), if there is one. Its redaction is a second line of defence
// only: a secret escaped for markdown no longer reads as itself, so callers redact each value
// (Redact) before they escape it into the markdown. Redaction lengthens the text only for a
// secret shorter than "***", which the budget's margin under GitHub's 1 MiB absorbs.
func (l *Log) Summary(doc *Cut) error {
	markdown := doc.Close()
	path := l.getenv("GITHUB_STEP_SUMMARY")
	if path == "" || markdown == "" {
		return nil
	}
	return appendFile(path, l.redact(markdown))
}

// ResultFile writes the complete result, whatever the sinks' budgets left out, as a JSON file
// in the job's temporary folder (see TempFile). It returns the path for the result-file output.
func (l *Log) ResultFile(rs []Result) (string, error) {
	return l.TempFile("fleetpush-result-*.json", "the result file", func(w io.Writer) error { return WriteJSON(w, rs) })
}

// PreviewFile writes the preview's comment file, redacted, beside the result file and returns
// its path for the preview output. Never in the workspace: a later step of the job that packs
// the checkout (a publish with path ./) would carry it into the artifact.
func (l *Log) PreviewFile(markdown string) (string, error) {
	return l.TempFile("fleetpush-preview-*.md", "the preview file", func(w io.Writer) error {
		_, err := io.WriteString(w, l.redact(markdown))
		return err
	})
}

// TempFile writes a new file, named after pattern as os.CreateTemp names it, in the runner's
// temporary folder (RUNNER_TEMP: per job, removed after it, outside the checkout so never
// packed or committed), or the system's outside a runner. It returns the path as the job's
// later steps see it (see hostPath). what names the file in errors.
func (l *Log) TempFile(pattern, what string, write func(io.Writer) error) (string, error) {
	dir := l.getenv("RUNNER_TEMP")
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", what, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return "", fmt.Errorf("writing %q: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("writing %q: %w", f.Name(), err)
	}
	// Readable by the job's later steps, which may run as another user than this container.
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return "", fmt.Errorf("writing %q: %w", f.Name(), err)
	}
	return l.hostPath(f.Name()), nil
}

// dockerTemp is where the runner mounts its temporary folder in a Docker action's container.
const dockerTemp = "/github/runner_temp"

// hostPath is path as the job's later steps see it. In a Docker action (as fleetpush runs) the
// runner mounts its temporary folder at /github/runner_temp, a path no later step has: the
// runner's own folder is _temp beside the workspaces folder (RUNNER_WORKSPACE, which the runner
// passes in unchanged).
func (l *Log) hostPath(path string) string {
	rest, ok := strings.CutPrefix(path, dockerTemp+"/")
	ws := l.getenv("RUNNER_WORKSPACE")
	if !ok || l.getenv("RUNNER_TEMP") != dockerTemp || ws == "" || strings.HasPrefix(ws, "/github/") {
		return path
	}
	return filepath.Join(filepath.Dir(ws), "_temp", rest)
}

var delimiterSample = "ghadelimiter_" + strings.Repeat("0", 32)

func delimiter(value string) (string, error) {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		d := "ghadelimiter_" + hex.EncodeToString(b[:])
		if !strings.Contains(value, d) {
			return d, nil
		}
	}
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return fmt.Errorf("writing %q: %w", path, err)
	}
	return f.Close()
}

// Writer is the log's stream, for tables: what is written is redacted, and no line of it can
// start a workflow command or pass LogLineBudget. Write whole lines: each Write is made safe on
// its own.
func (l *Log) Writer() io.Writer { return redactWriter{l} }

type redactWriter struct{ l *Log }

func (w redactWriter) Write(p []byte) (int, error) {
	// As logBlock, with each raw line cut before it is escaped.
	s := strings.ReplaceAll(w.l.redact(string(p)), "\r\n", "\n")
	lines := strings.Split(strings.ReplaceAll(s, "\r", "\n"), "\n")
	for i, line := range lines {
		lines[i] = clip(line, LogLineBudget, logLine)
	}
	s = strings.Join(lines, "\n")
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	if _, err := io.WriteString(w.l.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
