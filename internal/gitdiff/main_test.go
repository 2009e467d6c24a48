package gitdiff

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
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

// baseTime is the first commit's time (2024-01-01T00:00:00Z); each commit
// of a test repository is one hour later than the one before.
const baseTime = 1704067200

// testRepo is a repository built by a test with the git CLI.
type testRepo struct {
	t   testing.TB
	dir string

	mu    sync.Mutex
	count int // commits made, for their dates
	ids   int // other directories made, for their names
}

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

// newRepo makes a repository with a first commit on main holding files.
func newRepo(t testing.TB, files map[string]string) *testRepo {
	t.Helper()
	r := &testRepo{t: t, dir: filepath.Join(t.TempDir(), "src")}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git("init", "-q", "-b", "main")
	r.commit("initial", files)
	return r
}

func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	return gitT(r.t, r.dir, nil, args...)
}

// commit writes files ("" content deletes the file), commits them all and
// returns the new commit's SHA.
func (r *testRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(r.dir, filepath.FromSlash(name))
		if files[name] == "" {
			if err := os.Remove(p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git("add", "-A")
	r.mu.Lock()
	r.count++
	date := fmt.Sprintf("@%d +0000", baseTime+3600*(r.count-1))
	r.mu.Unlock()
	env := []string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date}
	gitT(r.t, r.dir, env, "commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// commits makes n commits, each touching one file under dir.
func (r *testRepo) commits(n int, dir string) string {
	r.t.Helper()
	var sha string
	for i := 0; i < n; i++ {
		sha = r.commit(fmt.Sprintf("step %d", i), map[string]string{dir + "/step.txt": fmt.Sprint(i)})
	}
	return sha
}

// bare makes a bare clone of the repository, the "remote" of a test.
func (r *testRepo) bare() string {
	r.t.Helper()
	dir := filepath.Join(filepath.Dir(r.dir), fmt.Sprintf("remote-%d.git", r.nextID()))
	gitT(r.t, filepath.Dir(r.dir), nil, "clone", "-q", "--bare", r.dir, dir)
	return dir
}

// push updates the bare remote with every branch of the repository.
func (r *testRepo) push(remote string, force bool) {
	r.t.Helper()
	args := []string{"push", "-q", remote, "refs/heads/*:refs/heads/*"}
	if force {
		args = append(args, "--force")
	}
	r.git(args...)
}

func (r *testRepo) nextID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids++
	return r.ids
}

// cloneShallow clones branch of remote at depth 1, as actions/checkout does.
func cloneShallow(t testing.TB, remote, branch string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "checkout")
	gitT(t, filepath.Dir(remote), nil, "clone", "-q", "--depth", "1", "--branch", branch, "file://"+remote, dst)
	if got := gitT(t, dst, nil, "rev-parse", "--is-shallow-repository"); got != "true" {
		t.Fatalf("clone of %s is not shallow", remote)
	}
	return dst
}

// cloneFull clones remote completely.
func cloneFull(t testing.TB, remote string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "checkout")
	gitT(t, filepath.Dir(remote), nil, "clone", "-q", "file://"+remote, dst)
	return dst
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
