package report

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
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
}

// NewLog returns a Log writing to w; actions turns on workflow commands and the output files.
func NewLog(w io.Writer, actions bool, getenv func(string) string) *Log {
	l := &Log{w: w, actions: actions, getenv: getenv}
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

// Printf writes a log line. Whatever the arguments hold, it stays one line and starts no
// workflow command: line breaks and control characters are written escaped.
func (l *Log) Printf(format string, args ...any) {
	msg := logLine(strings.TrimRight(l.redact(fmt.Sprintf(format, args...)), "\r\n"))
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, msg)
}

// Notice writes a notice (an annotation in Actions).
func (l *Log) Notice(format string, args ...any) {
	if l.actions {
		l.gh.Noticef("%s", commandData(l.redact(fmt.Sprintf(format, args...))))
		return
	}
	l.Printf("notice: "+format, args...)
}

// Warning writes a warning (an annotation in Actions).
func (l *Log) Warning(format string, args ...any) {
	if l.actions {
		l.gh.Warningf("%s", commandData(l.redact(fmt.Sprintf(format, args...))))
		return
	}
	l.Printf("warning: "+format, args...)
}

// Error writes an error, with a file annotation in Actions when file is known. The command
// writer escapes the file name as a property (a comma or colon cannot add or end one).
func (l *Log) Error(file string, line int, msg string) {
	msg = l.redact(msg)
	if l.actions {
		props := githubactions.CommandProperties{}
		if file != "" {
			props["file"] = commandData(l.redact(file))
			if line > 0 {
				props["line"] = fmt.Sprint(line)
			}
		}
		l.gh.WithFieldsMap(props).Errorf("%s", commandData(msg))
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

// Group prints a block of lines folded under title in Actions, plainly elsewhere. Lines are
// written at once so that concurrent components never interleave inside a group.
func (l *Log) Group(title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	var b strings.Builder
	title = logLine(l.redact(title))
	if l.actions {
		cmd := githubactions.Command{Name: "group", Message: title}
		b.WriteString(cmd.String() + "\n")
	} else {
		fmt.Fprintf(&b, "%s\n", title)
	}
	for _, s := range lines {
		if !l.actions {
			b.WriteString("  ")
		}
		b.WriteString(logLine(l.redact(s)))
		b.WriteByte('\n')
	}
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
// JSON (or a value an attacker shaped) can never end the value early. Without GITHUB_OUTPUT it
// does nothing.
func (l *Log) SetOutputs(outputs map[string]string, order []string) error {
	path := l.getenv("GITHUB_OUTPUT")
	if path == "" {
		return nil
	}
	var b strings.Builder
	for _, k := range order {
		v, ok := outputs[k]
		if !ok {
			continue
		}
		delim, err := delimiter(v)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", k, delim, v, delim)
	}
	return appendFile(path, b.String())
}

// Summary appends markdown to the job's step summary (GITHUB_STEP_SUMMARY), if there is one.
// Its redaction is a second line of defence only: a secret escaped for markdown no longer reads
// as itself, so callers redact each value (Redact) before they escape it into the markdown.
func (l *Log) Summary(markdown string) error {
	path := l.getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	return appendFile(path, l.redact(markdown))
}

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
// start a workflow command. Write whole lines: each Write is made safe on its own.
func (l *Log) Writer() io.Writer { return redactWriter{l} }

type redactWriter struct{ l *Log }

func (w redactWriter) Write(p []byte) (int, error) {
	s := logBlock(w.l.redact(string(p)))
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	if _, err := io.WriteString(w.l.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
