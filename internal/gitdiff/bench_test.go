package gitdiff

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const (
	benchComponents = 500
	benchCommits    = 10000
	// benchTime is the first commit's time (2024-01-01T00:00:00Z); each is a minute later.
	benchTime = 1704067200
)

// benchRepo writes, with git fast-import (seconds instead of minutes of
// git commit), a repository of benchComponents components of four files
// each and benchCommits commits on main, each changing one file of one
// component in turn, plus a branch "pr" cut at commit 100 that changes 3
// components. It returns the repository and the SHAs of main's commits.
func benchRepo(b *testing.B) (dir string, main []string, pr string) {
	b.Helper()
	dir = filepath.Join(b.TempDir(), "big")
	gitT(b, filepath.Dir(dir), nil, "init", "-q", "-b", "main", dir)

	cmd := exec.Command("git", "fast-import", "--quiet", "--export-marks="+filepath.Join(dir, ".git", "marks"))
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	file := func(path, content string) {
		fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", path, len(content), content)
	}
	commit := func(ref string, mark, from int, msg string) {
		ts := benchTime + 60*mark
		fmt.Fprintf(w, "commit %s\nmark :%d\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n%s\n", ref, mark, ts, len(msg), msg)
		if from > 0 {
			fmt.Fprintf(w, "from :%d\n", from)
		}
	}
	commit("refs/heads/main", 1, 0, "all components")
	file("README.md", "# big\n")
	for c := 0; c < benchComponents; c++ {
		d := fmt.Sprintf("components/c%03d", c)
		file(d+"/base/kustomization.yaml", "resources: [deploy.yaml]\n")
		file(d+"/base/deploy.yaml", "kind: Deployment\nreplicas: 0\n")
		file(d+"/staging/kustomization.yaml", "resources: [../base]\n")
		file(d+"/production/kustomization.yaml", "resources: [../base]\n")
	}
	for i := 2; i <= benchCommits; i++ {
		commit("refs/heads/main", i, i-1, fmt.Sprintf("change %d", i))
		file(fmt.Sprintf("components/c%03d/base/deploy.yaml", i%benchComponents), fmt.Sprintf("kind: Deployment\nreplicas: %d\n", i))
	}
	for i := 0; i < 3; i++ {
		mark, from := benchCommits+1+i, benchCommits+i
		if i == 0 {
			from = 100
		}
		commit("refs/heads/pr", mark, from, fmt.Sprintf("pr %d", i))
		file(fmt.Sprintf("components/c%03d/staging/patch.yaml", i*7), "kind: Patch\n")
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatalf("git fast-import: %v", err)
	}
	gitT(b, dir, nil, "read-tree", "main") // an index, as in a checkout; no files needed

	marks, err := os.Open(filepath.Join(dir, ".git", "marks"))
	if err != nil {
		b.Fatal(err)
	}
	defer marks.Close()
	byMark := map[int]string{}
	sc := bufio.NewScanner(marks)
	for sc.Scan() {
		var mark int
		var sha string
		if _, err := fmt.Sscanf(sc.Text(), ":%d %s", &mark, &sha); err != nil {
			b.Fatal(err)
		}
		byMark[mark] = sha
	}
	main = make([]string, benchCommits)
	for i := range main {
		main[i] = byMark[i+1]
	}
	return dir, main, byMark[benchCommits+3]
}

// BenchmarkDetect is `detect` on a large repository: Open, Changed between
// two commits far apart, and Affected over every component.
func BenchmarkDetect(b *testing.B) {
	dir, main, pr := benchRepo(b)
	roots := make(map[string]string, benchComponents)
	for c := 0; c < benchComponents; c++ {
		roots[fmt.Sprintf("c%03d", c)] = fmt.Sprintf("components/c%03d", c)
	}
	ctx := context.Background()

	for _, bc := range []struct {
		name string
		rng  Range
		want int // affected components
	}{
		// 9,800 commits apart: every component changed.
		{"push", Range{Base: main[99], Head: main[9899]}, benchComponents},
		// merge base 9,900 commits behind main's tip.
		{"pull_request", Range{Base: main[benchCommits-1], Head: pr, ThreeDot: true}, 3},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				r, err := Open(ctx, dir)
				if err != nil {
					b.Fatal(err)
				}
				res, err := r.Changed(ctx, bc.rng, "main")
				if err != nil {
					b.Fatal(err)
				}
				if res.All {
					b.Fatalf("Changed gave All: %s", res.Reason)
				}
				if got := Affected(res.Paths, roots); len(got) != bc.want {
					b.Fatalf("%d components affected, want %d", len(got), bc.want)
				}
			}
		})
	}
}
