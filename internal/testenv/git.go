package testenv

import (
	"fmt"
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
// fixed identity, and deterministic commit dates (CommitTime), so that artifacts built from it
// have the same digests on every run.
type GitRepo struct {
	t    testing.TB
	Dir  string // the work tree
	home string
	tick atomic.Int64
	ids  atomic.Int64 // folders made beside the work tree
}

// CommitTime is the date of the n-th commit (from 1) of a GitRepo: n hours after
// 2026-01-01T12:00:00Z.
func CommitTime(n int) time.Time {
	return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Hour)
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
	date := CommitTime(int(g.tick.Load())).Format(time.RFC3339)
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

// CommitFiles writes files (slash-separated path → content; "" deletes the file), commits
// everything and returns the commit's id.
func (g *GitRepo) CommitFiles(msg string, files map[string]string) string {
	g.t.Helper()
	for rel, content := range files {
		if content == "" {
			if err := os.Remove(filepath.Join(g.Dir, filepath.FromSlash(rel))); err != nil {
				g.t.Fatal(err)
			}
			continue
		}
		g.Write(rel, content)
	}
	return g.Commit(msg)
}

// Bare makes a bare clone of the repository and returns its folder: the remote a checkout is
// cloned from.
func (g *GitRepo) Bare() string {
	g.t.Helper()
	dir := filepath.Join(g.t.TempDir(), fmt.Sprintf("remote-%d.git", g.ids.Add(1)))
	g.Git("clone", "-q", "--bare", g.Dir, dir)
	return dir
}

// Push updates remote (a folder) with every branch of the repository.
func (g *GitRepo) Push(remote string, force bool) {
	g.t.Helper()
	args := []string{"push", "-q", remote, "refs/heads/*:refs/heads/*"}
	if force {
		args = append(args, "--force")
	}
	g.Git(args...)
}

// CloneShallow clones branch of remote (a folder) at depth 1, as actions/checkout does, and
// returns the checkout.
func CloneShallow(t testing.TB, remote, branch string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "checkout")
	gitIn(t, "", "clone", "-q", "--depth", "1", "--branch", branch, "file://"+remote, dst)
	if got := gitIn(t, dst, "rev-parse", "--is-shallow-repository"); got != "true" {
		t.Fatalf("the clone of %s is not shallow", remote)
	}
	return dst
}

// CloneFull clones remote (a folder) with its whole history and returns the checkout.
func CloneFull(t testing.TB, remote string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "checkout")
	gitIn(t, "", "clone", "-q", "file://"+remote, dst)
	return dst
}

// gitIn runs git in dir (or the current folder) with no user or system configuration.
func gitIn(t testing.TB, dir string, args ...string) string {
	t.Helper()
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
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
