package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
)

// gitRepo is a real git repository made for a test, with deterministic commit dates.
type gitRepo struct {
	t    testing.TB
	dir  string
	home string
	tick atomic.Int64
}

func newGitRepo(t testing.TB, from string) *gitRepo {
	t.Helper()
	g := &gitRepo{t: t, dir: t.TempDir(), home: t.TempDir()}
	if from != "" {
		copyTree(t, from, g.dir)
	}
	g.git("init", "-q", "-b", "main")
	bare := t.TempDir()
	g.git("init", "-q", "--bare", bare)
	g.git("remote", "add", "origin", bare)
	g.commit("initial")
	return g
}

func (g *gitRepo) env() []string {
	n := g.tick.Load()
	date := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Hour).Format(time.RFC3339)
	return append(os.Environ(), "HOME="+g.home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
}

func (g *gitRepo) git(args ...string) string {
	g.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", g.dir}, args...)...)
	cmd.Env = g.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		g.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit commits everything with the next deterministic date and returns the sha.
func (g *gitRepo) commit(msg string) string {
	g.t.Helper()
	g.tick.Add(1)
	g.git("add", "-A")
	g.git("commit", "-q", "--allow-empty", "-m", msg)
	return g.git("rev-parse", "HEAD")
}

func (g *gitRepo) write(rel, content string) {
	g.t.Helper()
	p := filepath.Join(g.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

func copyTree(t testing.TB, from, to string) {
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

// run runs fleetpush with args and env (nothing else of the process environment) and returns
// the exit code, stdout and stderr.
func run(t testing.TB, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := Run(context.Background(), args, getenv, &stdout, &stderr, WithRegistryOptions(registry.WithRetry(testRetry), registry.WithTransport(crashes)))
	return code, stdout.String(), stderr.String()
}

// publishJSON runs publish with --output json and decodes the results by component.
func publishJSON(t testing.TB, env map[string]string, args ...string) (int, map[string]report.Result, string) {
	t.Helper()
	code, out, errOut := run(t, env, append(args, "--output", "json")...)
	var rs []report.Result
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("decoding the JSON result: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	m := map[string]report.Result{}
	for _, r := range rs {
		m[r.Component] = r
	}
	return code, m, errOut
}

func mustCode(t testing.TB, got, want int, stderr string) {
	t.Helper()
	if got != want {
		t.Fatalf("exit code = %d, want %d\nstderr:\n%s", got, want, stderr)
	}
}

func fmtTags(ts []string) string { return fmt.Sprint(ts) }

func sortStrings(s []string) { sort.Strings(s) }
