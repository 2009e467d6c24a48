package report

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
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
// never writes it either.
func (l *Log) Mask(s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	l.mu.Lock()
	l.secrets = append(l.secrets, s)
	l.mu.Unlock()
	if l.actions {
		for _, line := range strings.Split(s, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				l.gh.AddMask(line)
			}
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

// Printf writes a log line.
func (l *Log) Printf(format string, args ...any) {
	msg := l.redact(fmt.Sprintf(format, args...))
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, strings.TrimRight(msg, "\n"))
}

// Notice writes a notice (an annotation in Actions).
func (l *Log) Notice(format string, args ...any) {
	if l.actions {
		l.gh.Noticef("%s", l.redact(fmt.Sprintf(format, args...)))
		return
	}
	l.Printf("notice: "+format, args...)
}

// Warning writes a warning (an annotation in Actions).
func (l *Log) Warning(format string, args ...any) {
	if l.actions {
		l.gh.Warningf("%s", l.redact(fmt.Sprintf(format, args...)))
		return
	}
	l.Printf("warning: "+format, args...)
}

// Error writes an error, with a file annotation in Actions when file is known.
func (l *Log) Error(file string, line int, msg string) {
	msg = l.redact(msg)
	if l.actions {
		props := githubactions.CommandProperties{}
		if file != "" {
			props["file"] = file
			if line > 0 {
				props["line"] = fmt.Sprint(line)
			}
		}
		l.gh.WithFieldsMap(props).Errorf("%s", msg)
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
	if l.actions {
		fmt.Fprintf(&b, "::group::%s\n", title)
	} else {
		fmt.Fprintf(&b, "%s\n", title)
	}
	for _, s := range lines {
		if !l.actions {
			b.WriteString("  ")
		}
		b.WriteString(l.redact(s))
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

// Writer is the log's stream, for tables.
func (l *Log) Writer() io.Writer { return redactWriter{l} }

type redactWriter struct{ l *Log }

func (w redactWriter) Write(p []byte) (int, error) {
	s := w.l.redact(string(p))
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	if _, err := io.WriteString(w.l.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
