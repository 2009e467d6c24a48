package gitdiff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// ErrGitNotFound is returned by Open when no git executable can be found.
var ErrGitNotFound = errors.New("git executable not found: install git (it is in the fleetpush action image) or pass --all to skip change detection")

const (
	// defaultRemote is the remote actions/checkout and git clone create.
	defaultRemote = "origin"
	// defaultFirstDepth is the first depth tried when a merge base is hidden
	// by a shallow clone: most pull requests and branches are far shorter.
	defaultFirstDepth = 50
	// defaultMaxDepth bounds step-by-step deepening (50, 100, ... 3200) before
	// the last resort, --unshallow.
	defaultMaxDepth = 3200
)

// Repo is a git working tree driven through the git CLI.
type Repo struct {
	git    string // path of the git executable
	root   string // absolute, symlink-free top level of the working tree
	prefix string // slash path of the opened directory inside root, "" at the top
	o      options
	pre    *readAhead // the commit WithCommit named, read beside Open; nil: none
}

// readAhead is a read of one commit started before it is asked for.
type readAhead struct {
	rev    string
	done   chan struct{}
	cancel context.CancelFunc
	c      Commit
	err    error
}

// dropAhead stops and forgets the read ahead, if any.
func (r *Repo) dropAhead() {
	if r.pre != nil {
		r.pre.cancel()
		r.pre = nil
	}
}

type options struct {
	git        string
	remote     string
	logf       func(format string, args ...any)
	firstDepth int
	maxDepth   int
	unshallow  bool
	commit     string
}

// Option configures Open.
type Option func(*options)

// WithLogger receives one line for every fetch or deepening Open's Repo does,
// so a run's log says why it touched the network.
func WithLogger(logf func(format string, args ...any)) Option {
	return func(o *options) { o.logf = logf }
}

// WithGit runs this git executable instead of the one found in PATH.
func WithGit(path string) Option {
	return func(o *options) { o.git = path }
}

// WithRemote fetches missing history from this remote instead of "origin".
func WithRemote(name string) Option {
	return func(o *options) { o.remote = name }
}

// WithDeepen sets how a shallow clone is deepened to find a merge base:
// first is the first depth fetched, doubled at each step up to max.
func WithDeepen(first, max int) Option {
	return func(o *options) { o.firstDepth, o.maxDepth = first, max }
}

// WithUnshallow says whether to fetch the complete history (--unshallow) when
// bounded deepening did not find a merge base; on by default.
func WithUnshallow(on bool) Option {
	return func(o *options) { o.unshallow = on }
}

// WithCommit has Open read commit rev, a full SHA (the event's), beside its own question to git,
// for the CommitInfo(rev) that follows: a publish asks both before its first request, and two git
// processes one after the other were two on every run's critical path. The read is the one
// CommitInfo would make; it is thrown away when git places the top level elsewhere than Open
// looked first (the read then ran with the wrong safe.directory), and CommitInfo reads again.
// Anything but a full SHA is not read ahead.
func WithCommit(rev string) Option {
	return func(o *options) { o.commit = rev }
}

// Open returns the repository whose working tree contains dir.
func Open(ctx context.Context, dir string, opts ...Option) (*Repo, error) {
	o := options{
		remote:     defaultRemote,
		logf:       func(string, ...any) {},
		firstDepth: defaultFirstDepth,
		maxDepth:   defaultMaxDepth,
		unshallow:  true,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.firstDepth < 1 {
		o.firstDepth = 1
	}
	if o.maxDepth < o.firstDepth {
		o.maxDepth = o.firstDepth
	}
	git := o.git
	if git == "" {
		git = "git"
	}
	gitPath, err := exec.LookPath(git)
	if err != nil {
		return nil, fmt.Errorf("looking for %q: %w", git, ErrGitNotFound)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening git repository %q: %w", dir, err)
	}
	// git compares safe.directory with the symlink-free path of the top level.
	abs, err = filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("opening git repository %q: %w", dir, err)
	}
	// The top level is found here rather than asked of git: git would refuse
	// to answer in a directory owned by another uid, which is the very case
	// safe.directory is passed for.
	root, ok := findRoot(abs)
	if !ok {
		return nil, fmt.Errorf("opening git repository %q: no .git found in it or above it: run from a git checkout (actions/checkout), or pass --all to skip change detection", dir)
	}
	r := &Repo{git: gitPath, root: root, o: o}
	if isFullSHA(o.commit) {
		actx, cancel := context.WithCancel(ctx)
		p := &readAhead{rev: o.commit, done: make(chan struct{}), cancel: cancel}
		ahead := &Repo{git: gitPath, root: root, o: o} // a copy: r.root may change below
		go func() {
			defer close(p.done)
			defer cancel()
			p.c, p.err = ahead.commit(actx, p.rev+"^{commit}")
		}()
		r.pre = p
	}
	top, err := r.run(ctx, "rev-parse", "--show-toplevel")
	if err != nil {
		r.dropAhead()
		return nil, fmt.Errorf("opening git repository %q: %w", dir, err)
	}
	if top = strings.TrimSpace(top); top != root {
		// A worktree whose .git was found above its real top level (e.g. a
		// nested .git file): trust git, keep safe.directory pointing at it.
		r.root = top
		r.dropAhead()
	}
	rel, err := filepath.Rel(r.root, abs)
	if err != nil {
		return nil, fmt.Errorf("opening git repository %q: %w", dir, err)
	}
	if rel = filepath.ToSlash(rel); rel != "." {
		r.prefix = rel
	}
	return r, nil
}

func findRoot(dir string) (string, bool) {
	for {
		if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// Root is the absolute top level of the working tree; changed paths are
// relative to it.
func (r *Repo) Root() string { return r.root }

// Prefix is the slash path of the directory given to Open relative to Root,
// "" when it is the top level. Component roots handed to Affected are
// path.Join(Prefix(), <root relative to the opened directory>).
func (r *Repo) Prefix() string { return r.prefix }

// gitError carries git's exit code and what it printed on stderr.
type gitError struct {
	args   []string
	code   int
	stderr string
	err    error
}

func (e *gitError) Error() string {
	msg := strings.TrimSpace(e.stderr)
	if msg == "" {
		msg = e.err.Error()
	}
	return fmt.Sprintf("running git %s: %s", strings.Join(e.args, " "), redact(msg))
}

// urlUserinfo matches the user:password@ of a URL; git may print a remote's
// URL as configured, and a token in it must not reach the log.
var urlUserinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`)

func redact(s string) string { return urlUserinfo.ReplaceAllString(s, "${1}***@") }

func (e *gitError) Unwrap() error { return e.err }

// exitCode returns git's exit code for err (0 for nil), or -1 when git did
// not run.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ge *gitError
	if errors.As(err, &ge) {
		return ge.code
	}
	return -1
}

// locationEnv are variables that would point git at another repository than
// the one opened (set, for example, when fleetpush runs inside a git hook).
var locationEnv = []string{
	"GIT_DIR=", "GIT_WORK_TREE=", "GIT_INDEX_FILE=", "GIT_OBJECT_DIRECTORY=",
	"GIT_ALTERNATE_OBJECT_DIRECTORIES=", "GIT_COMMON_DIR=", "GIT_NAMESPACE=",
	"GIT_CEILING_DIRECTORIES=", "GIT_PREFIX=",
}

func gitEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		keep := true
		for _, p := range locationEnv {
			if strings.HasPrefix(kv, p) {
				keep = false
				break
			}
		}
		if keep {
			env = append(env, kv)
		}
	}
	// A fetch must fail, not wait for a password nobody will type.
	return append(env, "GIT_TERMINAL_PROMPT=0", "GCM_INTERACTIVE=never")
}

// run runs git in the repository and returns its stdout.
func (r *Repo) run(ctx context.Context, args ...string) (string, error) {
	full := append([]string{
		"-C", r.root,
		"-c", "safe.directory=" + r.root,
		// fetches should not start a garbage collection in the user's checkout
		"-c", "gc.auto=0", "-c", "maintenance.auto=false",
	}, args...)
	cmd := exec.CommandContext(ctx, r.git, full...)
	cmd.Env = gitEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return "", fmt.Errorf("running git %s: %w", strings.Join(args, " "), ctxErr)
		}
		ge := &gitError{args: args, code: -1, stderr: stderr.String(), err: err}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			ge.code = ee.ExitCode()
		}
		return "", ge
	}
	return stdout.String(), nil
}
