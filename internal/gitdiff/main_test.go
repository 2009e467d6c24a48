package gitdiff

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestMain isolates every git the tests run (theirs and the package's) from
// the machine's configuration: no system or user config, fixed identities.
// It is the only place the environment is set, before any test runs.
func TestMain(m *testing.M) {
	home, err := os.MkdirTemp("", "gitdiff-home-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for k, v := range map[string]string{
		"HOME":                home,
		"XDG_CONFIG_HOME":     filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM": "1",
		"GIT_CONFIG_GLOBAL":   filepath.Join(home, ".gitconfig"),
		"GIT_AUTHOR_NAME":     "Test",
		"GIT_AUTHOR_EMAIL":    "test@example.com",
		"GIT_COMMITTER_NAME":  "Test",
		"GIT_COMMITTER_EMAIL": "test@example.com",
		"LC_ALL":              "C",
	} {
		os.Setenv(k, v)
	}
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

// newRepo makes a repository (testenv.GitRepo) whose first commit on main holds files, with no
// remote: the tests add the remotes they need.
func newRepo(t testing.TB, files map[string]string) *testenv.GitRepo {
	t.Helper()
	from := t.TempDir()
	for name, content := range files {
		p := filepath.Join(from, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := testenv.NewGitRepo(t, from)
	r.Git("remote", "remove", "origin")
	return r
}

// gitT runs git in dir with extra environment (commit dates) and returns its output.
func gitT(t testing.TB, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commits makes n commits on r, each touching one file under dir, and returns the last.
func commits(r *testenv.GitRepo, n int, dir string) string {
	var sha string
	for i := 0; i < n; i++ {
		sha = r.CommitFiles(fmt.Sprintf("step %d", i), map[string]string{dir + "/step.txt": fmt.Sprint(i)})
	}
	return sha
}

// logRecorder collects what the package logs.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func open(t testing.TB, dir string, opts ...Option) (*Repo, *logRecorder) {
	t.Helper()
	log := &logRecorder{}
	r, err := Open(context.Background(), dir, append([]Option{WithLogger(log.logf)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r, log
}
