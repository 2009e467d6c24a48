package testenv

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// GitRepo is a real git repository made for a test: no user or system git configuration, a
// fixed identity, and deterministic commit dates (the n-th commit is n hours after
// 2026-01-01T12:00:00Z), so that artifacts built from it have the same digests on every run.
type GitRepo struct {
	t    testing.TB
	Dir  string // the work tree
	home string
	tick atomic.Int64
}

// NewGitRepo makes a repository on branch main whose first commit holds a copy of the folder
// from ("" for none), with a bare repository as its origin remote.
func NewGitRepo(t testing.TB, from string) *GitRepo {
	t.Helper()
	g := &GitRepo{t: t, Dir: t.TempDir(), home: t.TempDir()}
	if from != "" {
		CopyTree(t, from, g.Dir)
	}
	g.Git("init", "-q", "-b", "main")
	bare := t.TempDir()
	g.Git("init", "-q", "--bare", bare)
	g.Git("remote", "add", "origin", bare)
	g.Commit("initial")
	return g
}

// Env is the environment of every git command the repository runs.
func (g *GitRepo) Env() []string {
	n := g.tick.Load()
	date := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Hour).Format(time.RFC3339)
	return append(os.Environ(), "HOME="+g.home, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+filepath.Join(g.home, ".gitconfig"),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
}

// Git runs git in the work tree and returns its output, trimmed; it fails the test on an error.
func (g *GitRepo) Git(args ...string) string {
	g.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", g.Dir}, args...)...)
	cmd.Env = g.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		g.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Commit commits everything in the work tree with the next date and returns the commit's id.
func (g *GitRepo) Commit(msg string) string {
	g.t.Helper()
	g.tick.Add(1)
	g.Git("add", "-A")
	g.Git("commit", "-q", "--allow-empty", "-m", msg)
	return g.Git("rev-parse", "HEAD")
}

// Head is the id of the commit checked out.
func (g *GitRepo) Head() string {
	g.t.Helper()
	return g.Git("rev-parse", "HEAD")
}

// Write writes a file of the work tree (rel is slash-separated), making its folders.
func (g *GitRepo) Write(rel, content string) {
	g.t.Helper()
	p := filepath.Join(g.Dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

// Read reads a file of the work tree.
func (g *GitRepo) Read(rel string) string {
	g.t.Helper()
	b, err := os.ReadFile(filepath.Join(g.Dir, filepath.FromSlash(rel)))
	if err != nil {
		g.t.Fatal(err)
	}
	return string(b)
}

// Worktree checks commit out (detached) in a new folder and returns it: a second CI job's
// checkout of the same repository.
func (g *GitRepo) Worktree(commit string) string {
	g.t.Helper()
	dir := filepath.Join(g.t.TempDir(), "worktree")
	g.Git("worktree", "add", "-q", "--detach", dir, commit)
	return dir
}

// CopyTree copies the files of folder from into folder to.
func CopyTree(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
