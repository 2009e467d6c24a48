package gitdiff

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

const zeros = "0000000000000000000000000000000000000000"

// fixture is a d2-apps style tree: three components and a README outside them.
func fixture() map[string]string {
	return map[string]string{
		"README.md":                                  "# apps\n",
		"components/a/base/kustomization.yaml":       "resources: [deploy.yaml]\n",
		"components/a/base/deploy.yaml":              "kind: Deployment\n",
		"components/b/base/kustomization.yaml":       "resources: [deploy.yaml]\n",
		"components/b/base/deploy.yaml":              "kind: Deployment\n",
		"components/c/base/kustomization.yaml":       "resources: [deploy.yaml]\n",
		"components/c/base/deploy.yaml":              "kind: Deployment\n",
		"components/c/production/kustomization.yaml": "resources: [../base]\n",
	}
}

var roots = map[string]string{"a": "components/a", "b": "components/b", "c": "components/c"}

func changed(t *testing.T, r *Repo, rng Range, defaultBranch string) Result {
	t.Helper()
	res, err := r.Changed(context.Background(), rng, defaultBranch)
	if err != nil {
		t.Fatalf("Changed(%+v): %v", rng, err)
	}
	return res
}

func wantPaths(t *testing.T, res Result, want ...string) {
	t.Helper()
	if res.All {
		t.Fatalf("Changed gave All (%s), want paths %q", res.Reason, want)
	}
	if diff := cmp.Diff(want, res.Paths); diff != "" {
		t.Errorf("changed paths (-want +got):\n%s", diff)
	}
}

func wantAll(t *testing.T, res Result, reason string) {
	t.Helper()
	if !res.All {
		t.Fatalf("Changed gave paths %q, want All because %s", res.Paths, reason)
	}
	if !strings.Contains(res.Reason, reason) {
		t.Errorf("Changed reason = %q, want it to contain %q", res.Reason, reason)
	}
}

func TestChangedPush(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	c1 := src.Git("rev-parse", "HEAD")
	c2 := src.CommitFiles("change a, add d, edit the README", map[string]string{
		"components/a/base/deploy.yaml":        "kind: Deployment\nspec: {}\n",
		"components/d/base/kustomization.yaml": "resources: []\n",
		"README.md":                            "# apps, edited\n",
	})
	c3 := src.CommitFiles("README only", map[string]string{"README.md": "# apps, again\n"})
	r, _ := open(t, src.Dir)
	withD := map[string]string{"a": "components/a", "b": "components/b", "c": "components/c", "d": "components/d"}

	res := changed(t, r, Range{Base: c1, Head: c2}, "main")
	wantPaths(t, res, "README.md", "components/a/base/deploy.yaml", "components/d/base/kustomization.yaml")
	if diff := cmp.Diff([]string{"a", "d"}, Affected(res.Paths, withD)); diff != "" {
		t.Errorf("affected (-want +got):\n%s", diff)
	}
	if res.Base != c1 || res.Head != c2 {
		t.Errorf("compared %s..%s, want %s..%s", res.Base, res.Head, c1, c2)
	}

	// A file outside every component changes nothing, and that is an
	// answer (not All): the README is not part of any artifact.
	res = changed(t, r, Range{Base: c2, Head: c3}, "main")
	wantPaths(t, res, "README.md")
	if got := Affected(res.Paths, withD); len(got) != 0 {
		t.Errorf("affected by a README change = %q, want none", got)
	}

	// Head defaults to HEAD.
	res = changed(t, r, Range{Base: c2}, "main")
	wantPaths(t, res, "README.md")
}

func TestChangedRenameIsDeleteAndAdd(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	// The user's own settings must not turn renames back on.
	src.Git("config", "diff.renames", "copies")
	c1 := src.Git("rev-parse", "HEAD")
	src.Git("mv", "components/a/base/deploy.yaml", "components/b/base/moved.yaml")
	c2 := src.CommitFiles("move a file from a to b", nil)
	r, _ := open(t, src.Dir)

	res := changed(t, r, Range{Base: c1, Head: c2}, "main")
	wantPaths(t, res, "components/a/base/deploy.yaml", "components/b/base/moved.yaml")
	if diff := cmp.Diff([]string{"a", "b"}, Affected(res.Paths, roots)); diff != "" {
		t.Errorf("affected (-want +got):\n%s", diff)
	}
}

func TestChangedDeletedComponent(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	c1 := src.Git("rev-parse", "HEAD")
	c2 := src.CommitFiles("delete c", map[string]string{
		"components/c/base/kustomization.yaml":       "",
		"components/c/base/deploy.yaml":              "",
		"components/c/production/kustomization.yaml": "",
	})
	r, _ := open(t, src.Dir)

	res := changed(t, r, Range{Base: c1, Head: c2}, "main")
	wantPaths(t, res, "components/c/base/deploy.yaml", "components/c/base/kustomization.yaml", "components/c/production/kustomization.yaml")
	// Discovery no longer finds c: nothing is left to publish, and the
	// deletion does not drag the other components in.
	if got := Affected(res.Paths, map[string]string{"a": "components/a", "b": "components/b"}); len(got) != 0 {
		t.Errorf("affected with c gone = %q, want none", got)
	}
	// With the roots of before the push, c is the one that changed.
	if diff := cmp.Diff([]string{"c"}, Affected(res.Paths, roots)); diff != "" {
		t.Errorf("affected (-want +got):\n%s", diff)
	}
}

func TestChangedSingleArtifact(t *testing.T) {
	t.Parallel()
	src := newRepo(t, map[string]string{
		"README.md":                           "# fleet\n",
		"clusters/staging/kustomization.yaml": "resources: []\n",
	})
	c1 := src.Git("rev-parse", "HEAD")
	c2 := src.CommitFiles("readme", map[string]string{"README.md": "# fleet!\n"})
	c3 := src.CommitFiles("cluster", map[string]string{"clusters/staging/flux.yaml": "kind: Kustomization\n"})
	r, _ := open(t, src.Dir)

	for _, tc := range []struct {
		name       string
		root       string
		base, head string
		want       []string
	}{
		{"whole repo, README", ".", c1, c2, []string{"fleet"}},
		{"whole repo, cluster", ".", c2, c3, []string{"fleet"}},
		{"whole repo, nothing", ".", c3, c3, []string{}},
		{"clusters only, README", "clusters", c1, c2, []string{}},
		{"clusters only, cluster", "./clusters/", c2, c3, []string{"fleet"}},
	} {
		res := changed(t, r, Range{Base: tc.base, Head: tc.head}, "main")
		got := Affected(res.Paths, map[string]string{"fleet": tc.root})
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: affected (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestChangedShallowPushFetchesBefore(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	before := src.CommitFiles("b", map[string]string{"components/b/base/deploy.yaml": "kind: Deployment\nb: 1\n"})
	src.CommitFiles("a", map[string]string{"components/a/base/deploy.yaml": "kind: Deployment\na: 1\n"})
	after := src.CommitFiles("c", map[string]string{"components/c/base/deploy.yaml": "kind: Deployment\nc: 1\n"})
	checkout := testenv.CloneShallow(t, src.Bare(), "main")
	if err := exec.Command("git", "-C", checkout, "cat-file", "-e", before).Run(); err == nil {
		t.Fatal("the shallow clone already has the before commit: the test tests nothing")
	}
	r, log := open(t, checkout)

	res := changed(t, r, Range{Base: before, Head: after, Ref: "refs/heads/main"}, "main")
	wantPaths(t, res, "components/a/base/deploy.yaml", "components/c/base/deploy.yaml")
	if !strings.Contains(log.String(), "fetching it") {
		t.Errorf("log does not say the before commit was fetched:\n%s", log)
	}
}

// newBranchRemote is main with a feature branch cut from it; both moved on
// after the cut. It returns the bare remote and the tip of feature.
func newBranchRemote(t *testing.T, featureCommits int) (remote, feature string) {
	src := newRepo(t, fixture())
	src.CommitFiles("b on main before the cut", map[string]string{"components/b/base/deploy.yaml": "kind: Deployment\nb: 1\n"})
	src.Git("checkout", "-q", "-b", "feature")
	feature = commits(src, featureCommits, "components/a/base")
	src.Git("checkout", "-q", "main")
	src.CommitFiles("c on main after the cut", map[string]string{"components/c/base/deploy.yaml": "kind: Deployment\nc: 1\n"})
	return src.Bare(), feature
}

func TestChangedNewBranch(t *testing.T) {
	t.Parallel()
	remote, feature := newBranchRemote(t, 5)
	checkout := testenv.CloneShallow(t, remote, "feature")
	gitT(t, checkout, nil, "remote", "set-branches", "origin", "feature") // single branch, as actions/checkout
	r, log := open(t, checkout, WithDeepen(2, 64))

	res := changed(t, r, Range{Base: zeros, Head: feature, Ref: "refs/heads/feature"}, "main")
	// Only feature's own work: not b (before the cut, already on main), not
	// c (main after the cut, which a diff against main's tip would show).
	wantPaths(t, res, "components/a/base/step.txt")
	for _, want := range []string{`fetching the default branch "main"`, "fetching 2 commits", "fetching 8 commits", "merge base"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log does not contain %q:\n%s", want, log)
		}
	}
}

func TestChangedNewBranchUndecided(t *testing.T) {
	t.Parallel()
	remote, feature := newBranchRemote(t, 1)
	mainTip := gitT(t, remote, nil, "rev-parse", "main")
	checkout := testenv.CloneFull(t, remote)
	r, _ := open(t, checkout)
	gitT(t, checkout, nil, "checkout", "-q", "-b", "feature", "origin/feature")

	for _, tc := range []struct {
		name          string
		rng           Range
		defaultBranch string
		reason        string
	}{
		{"default branch unknown", Range{Base: zeros, Head: feature, Ref: "refs/heads/feature"}, "", "default branch is unknown"},
		{"first push of the default branch", Range{Base: zeros, Head: mainTip, Ref: "refs/heads/main"}, "main", "first push of the default branch"},
		{"new branch on a commit of main", Range{Base: zeros, Head: mainTip, Ref: "refs/heads/release"}, "main", "no commits of its own"},
		{"default branch missing on the remote", Range{Base: zeros, Head: feature, Ref: "refs/heads/feature"}, "trunk", `"trunk" cannot be read`},
	} {
		wantAll(t, changed(t, r, tc.rng, tc.defaultBranch), tc.reason)
	}
}

func TestChangedForcePush(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	c1 := src.Git("rev-parse", "HEAD")
	old := src.CommitFiles("a, soon rewritten", map[string]string{"components/a/base/deploy.yaml": "kind: Deployment\na: 1\n"})
	remote := src.Bare()
	// A clone that saw the old history, as a self-hosted runner's
	// persistent workspace does.
	seen := testenv.CloneFull(t, remote)

	src.Git("reset", "-q", "--hard", c1)
	rewritten := src.CommitFiles("b instead", map[string]string{"components/b/base/deploy.yaml": "kind: Deployment\nb: 1\n"})
	src.Push(remote, true)
	gitT(t, seen, nil, "fetch", "-q", "origin")
	gitT(t, seen, nil, "checkout", "-q", "-B", "main", "origin/main")
	rng := Range{Base: old, Head: rewritten, Ref: "refs/heads/main"}

	t.Run("old commit still readable", func(t *testing.T) {
		t.Parallel()
		r, _ := open(t, seen)
		if ok, err := r.IsAncestor(context.Background(), old, rewritten); err != nil || ok {
			t.Fatalf("IsAncestor(old, rewritten) = %v, %v; want false: not a force push", ok, err)
		}
		// Trees are compared: a is back to its old content, b is new.
		res := changed(t, r, rng, "main")
		wantPaths(t, res, "components/a/base/deploy.yaml", "components/b/base/deploy.yaml")
	})

	t.Run("old commit gone from the remote", func(t *testing.T) {
		t.Parallel()
		gone := filepath.Join(t.TempDir(), "gone.git")
		gitT(t, filepath.Dir(remote), nil, "clone", "-q", "--bare", remote, gone)
		gitT(t, gone, nil, "gc", "-q", "--prune=now")
		if err := exec.Command("git", "-C", gone, "cat-file", "-e", old).Run(); err == nil {
			t.Fatal("the remote still has the old commit: the test tests nothing")
		}
		r, log := open(t, testenv.CloneShallow(t, gone, "main"))
		wantAll(t, changed(t, r, rng, "main"), "force push")
		if !strings.Contains(log.String(), "fetching it") {
			t.Errorf("log does not say a fetch was tried:\n%s", log)
		}
	})
}

func TestChangedPullRequestThreeDot(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	src.Git("checkout", "-q", "-b", "feature")
	head := commits(src, 3, "components/a/base")
	src.Git("checkout", "-q", "main")
	base := src.CommitFiles("c on main while the pull request is open", map[string]string{"components/c/base/deploy.yaml": "kind: Deployment\nc: 1\n"})
	// refs/pull/N/merge, what actions/checkout checks out for a pull request
	src.Git("checkout", "-q", "-b", "pull-1-merge")
	gitT(t, src.Dir, []string{"GIT_AUTHOR_DATE=@1800000000 +0000", "GIT_COMMITTER_DATE=@1800000000 +0000"}, "merge", "-q", "--no-ff", "-m", "merge", "feature")
	src.Git("checkout", "-q", "main")
	checkout := testenv.CloneShallow(t, src.Bare(), "pull-1-merge")
	r, log := open(t, checkout, WithDeepen(1, 64))

	res := changed(t, r, Range{Base: base, Head: head, ThreeDot: true}, "main")
	wantPaths(t, res, "components/a/base/step.txt")
	if diff := cmp.Diff([]string{"a"}, Affected(res.Paths, roots)); diff != "" {
		t.Errorf("affected (-want +got):\n%s", diff)
	}
	if !strings.Contains(log.String(), "commits of history") {
		t.Errorf("log does not say the clone was deepened:\n%s", log)
	}
	// The same range two-dot sees main's own change too: the merge base is
	// what keeps c out.
	res = changed(t, r, Range{Base: base, Head: head}, "main")
	wantPaths(t, res, "components/a/base/step.txt", "components/c/base/deploy.yaml")
}

func TestChangedBoundedDeepening(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	src.Git("checkout", "-q", "-b", "feature")
	head := commits(src, 12, "components/a/base")
	src.Git("checkout", "-q", "main")
	base := commits(src, 12, "components/b/base")
	remote := src.Bare()
	rng := Range{Base: base, Head: head, ThreeDot: true}

	t.Run("gives up within the cap", func(t *testing.T) {
		t.Parallel()
		r, log := open(t, testenv.CloneShallow(t, remote, "main"), WithDeepen(1, 4), WithUnshallow(false))
		wantAll(t, changed(t, r, rng, "main"), "4 commits of history were not enough and --unshallow is disabled")
		if got := strings.Count(log.String(), "commits of history behind"); got != 3 { // 1, 2, 4
			t.Errorf("deepened %d times, want 3:\n%s", got, log)
		}
	})
	t.Run("unshallow as the last resort", func(t *testing.T) {
		t.Parallel()
		r, log := open(t, testenv.CloneShallow(t, remote, "main"), WithDeepen(1, 4))
		wantPaths(t, changed(t, r, rng, "main"), "components/a/base/step.txt")
		if !strings.Contains(log.String(), "--unshallow") {
			t.Errorf("log does not mention --unshallow:\n%s", log)
		}
	})
}

func TestChangedUndecided(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	c1 := src.Git("rev-parse", "HEAD")
	src.Git("checkout", "-q", "--orphan", "other")
	other := src.CommitFiles("unrelated", map[string]string{"components/x/kustomization.yaml": "resources: []\n"})
	src.Git("checkout", "-q", "main")
	r, _ := open(t, src.Dir) // no origin remote at all

	for _, tc := range []struct {
		name   string
		rng    Range
		reason string
	}{
		{"no base", Range{}, "no base commit"},
		{"unrelated histories", Range{Base: c1, Head: other, ThreeDot: true}, "unrelated"},
		{"base missing, no remote to fetch it from", Range{Base: strings.Repeat("ab", 20), Head: c1}, "neither in the checkout nor fetchable"},
		{"head missing", Range{Base: c1, Head: strings.Repeat("cd", 20)}, "head commit"},
	} {
		wantAll(t, changed(t, r, tc.rng, "main"), tc.reason)
	}
}

func TestChangedErrors(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	c1 := src.Git("rev-parse", "HEAD")
	r, _ := open(t, src.Dir)

	if _, err := r.Changed(context.Background(), Range{Base: c1, Head: zeros}, "main"); err == nil {
		t.Error("Changed with a deleted head: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := r.Changed(ctx, Range{Base: strings.Repeat("ab", 20), Head: c1}, "main")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Changed with a cancelled context = %+v, %v; want context.Canceled, not a fallback", res, err)
	}
}

func TestHeadAndCommitInfo(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	c1 := src.Git("rev-parse", "HEAD")
	c2 := src.CommitFiles("second", map[string]string{"README.md": "2\n"})
	r, _ := open(t, src.Dir)
	ctx := context.Background()

	head, err := r.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Commit{SHA: c2, Time: testenv.CommitTime(2), Branch: "main"}
	if diff := cmp.Diff(want, head); diff != "" {
		t.Errorf("Head (-want +got):\n%s", diff)
	}
	if loc := head.Time.Location(); loc != time.UTC {
		t.Errorf("Head time zone = %v, want UTC", loc)
	}

	for _, tc := range []struct {
		rev  string
		want Commit
	}{
		{c1, Commit{SHA: c1, Time: testenv.CommitTime(1)}},
		{"main", Commit{SHA: c2, Time: testenv.CommitTime(2), Branch: "main"}},
		{"HEAD~1", Commit{SHA: c1, Time: testenv.CommitTime(1)}},
	} {
		got, err := r.CommitInfo(ctx, tc.rev)
		if err != nil {
			t.Fatalf("CommitInfo(%q): %v", tc.rev, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("CommitInfo(%q) (-want +got):\n%s", tc.rev, diff)
		}
	}
	if _, err := r.CommitInfo(ctx, "no-such-branch"); err == nil {
		t.Error("CommitInfo of a missing branch: no error")
	}
	if got, err := r.CommitInfo(ctx, c1+".."+c2); err == nil {
		t.Errorf("CommitInfo of a range = %+v: want an error, a range is no commit", got)
	}
	src.Git("tag", "-a", "-m", "release", "v1.0.0", c1)
	if got, err := r.CommitInfo(ctx, "v1.0.0"); err != nil || got.SHA != c1 {
		t.Errorf("CommitInfo of an annotated tag = %+v, %v; want its commit %s", got, err, c1)
	}

	src.Git("checkout", "-q", "--detach", c1)
	head, err = r.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head.SHA != c1 || head.Branch != "" {
		t.Errorf("detached Head = %+v, want %s without a branch", head, c1)
	}
}

func TestIsAncestor(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	c1 := src.Git("rev-parse", "HEAD")
	src.Git("checkout", "-q", "-b", "side")
	side := commits(src, 3, "components/b/base")
	src.Git("checkout", "-q", "main")
	c5 := commits(src, 4, "components/a/base")
	remote := src.Bare()
	ctx := context.Background()

	full, _ := open(t, src.Dir)
	shallow, log := open(t, testenv.CloneShallow(t, remote, "main"), WithDeepen(1, 2))
	for _, tc := range []struct {
		name string
		r    *Repo
		a, b string
		want bool
	}{
		{"older before newer", full, c1, c5, true},
		{"newer before older", full, c5, c1, false},
		{"same commit", full, c5, "main", true},
		{"diverged", full, side, c5, false},
		{"shallow: older before newer, deepened", shallow, c1, c5, true},
		{"shallow: newer before older, no deepening needed", shallow, c5, c1, false},
		{"shallow: diverged, decided after --unshallow", shallow, side, c5, false},
	} {
		got, err := tc.r.IsAncestor(ctx, tc.a, tc.b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: IsAncestor = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !strings.Contains(log.String(), "commits of history") {
		t.Errorf("log does not say the shallow clone was deepened:\n%s", log)
	}

	undecided, _ := open(t, testenv.CloneShallow(t, remote, "main"), WithDeepen(1, 1), WithUnshallow(false))
	if _, err := undecided.IsAncestor(ctx, side, c5); !errors.Is(err, ErrUndecided) {
		t.Errorf("IsAncestor without enough history: error %v, want ErrUndecided", err)
	}
	if _, err := full.IsAncestor(ctx, strings.Repeat("ab", 20), c5); !errors.Is(err, ErrUndecided) {
		t.Errorf("IsAncestor of a missing commit: error %v, want ErrUndecided", err)
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	ctx := context.Background()

	r, err := Open(ctx, filepath.Join(src.Dir, "components", "a"))
	if err != nil {
		t.Fatal(err)
	}
	wantRoot, _ := filepath.EvalSymlinks(src.Dir)
	if r.Root() != wantRoot || r.Prefix() != "components/a" {
		t.Errorf("Open(subdir): root %q prefix %q, want %q and %q", r.Root(), r.Prefix(), wantRoot, "components/a")
	}

	notRepo := t.TempDir()
	if _, err := Open(ctx, notRepo); err == nil || !strings.Contains(err.Error(), "no .git") {
		t.Errorf("Open(%q) = %v, want a not-a-repository error", notRepo, err)
	}

	_, err = Open(ctx, src.Dir, WithGit(filepath.Join(t.TempDir(), "git")))
	if !errors.Is(err, ErrGitNotFound) || !strings.Contains(err.Error(), "install git") {
		t.Errorf("Open with a missing git = %v, want ErrGitNotFound saying what to do", err)
	}
}

// TestOpenWithoutGitInPath is not parallel: it empties PATH.
func TestOpenWithoutGitInPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := Open(context.Background(), dir); !errors.Is(err, ErrGitNotFound) {
		t.Errorf("Open without git in PATH = %v, want ErrGitNotFound", err)
	}
}

// TestSafeDirectory is a workspace that belongs to another uid, as in a
// container action where the runner's uid owns the checkout.
func TestSafeDirectory(t *testing.T) {
	// Not parallel: without root the test makes git believe every repository belongs to someone
	// else (GIT_TEST_ASSUME_DIFFERENT_OWNER, git's own switch for testing this check), which is
	// process-wide; with root it gives the clone to another uid for real.
	asRoot := os.Geteuid() == 0
	src := newRepo(t, fixture())
	c1 := src.Git("rev-parse", "HEAD")
	c2 := src.CommitFiles("a", map[string]string{"components/a/base/deploy.yaml": "kind: Deployment\na: 1\n"})
	checkout := testenv.CloneShallow(t, src.Bare(), "main")
	const otherUID = 12345
	if !asRoot {
		t.Setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
	}
	if asRoot {
		err := filepath.Walk(checkout, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, otherUID, otherUID)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Without the flag git refuses: otherwise this test proves nothing.
	out, err := exec.Command("git", "-C", checkout, "rev-parse", "HEAD").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "dubious ownership") {
		t.Fatalf("git in a repository of uid %d: %v %s; want it refused for dubious ownership", otherUID, err, out)
	}

	r, _ := open(t, checkout)
	head, err := r.Head(context.Background())
	if err != nil || head.SHA != c2 {
		t.Fatalf("Head = %+v, %v; want %s", head, err, c2)
	}
	// A fetch (c1 is not in the shallow clone) and a diff work too.
	wantPaths(t, changed(t, r, Range{Base: c1, Head: c2}, "main"), "components/a/base/deploy.yaml")
	// Nothing was written to the user's configuration.
	if b, err := os.ReadFile(os.Getenv("GIT_CONFIG_GLOBAL")); err == nil && strings.Contains(string(b), "safe") {
		t.Errorf("global git config was edited:\n%s", b)
	}
}

// TestCommitInfoOneProcess: the event's commit, which the checkout has, is read with one git
// process: every run reads it before its first request.
func TestCommitInfoOneProcess(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	sha := src.Git("rev-parse", "HEAD")
	wrapper, calls := gitRecorder(t, false)
	r, _ := open(t, src.Dir, WithGit(wrapper))
	if err := os.Remove(calls); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	c, err := r.CommitInfo(context.Background(), sha)
	if err != nil || c.SHA != sha {
		t.Fatalf("CommitInfo(%s) = %+v, %v", sha, c, err)
	}
	raw, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), "\n"); n != 1 {
		t.Errorf("CommitInfo of a commit the checkout has ran git %d times, want 1:\n%s", n, raw)
	}
}

// gitRecorder is a git wrapper that appends each call's arguments, a line each, to a file. With
// hold, a `rev-parse --show-toplevel` waits (up to a minute) for a `log` to have started, and
// notes whether one had: a read ahead that is not beside Open shows as "sequential".
func gitRecorder(t *testing.T, hold bool) (wrapper, calls string) {
	t.Helper()
	real, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	calls, marker := filepath.Join(dir, "calls"), filepath.Join(dir, "log-started")
	wait := ""
	if hold {
		wait = `	i=0
	while [ ! -e '` + marker + `' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
	if [ -e '` + marker + `' ]; then echo concurrent >>'` + calls + `'; else echo sequential >>'` + calls + `'; fi
`
	}
	script := "#!/bin/sh\necho \"$*\" >>'" + calls + "'\ncase \" $* \" in\n*\" rev-parse --show-toplevel \"*)\n" + wait +
		"\t;;\n*\" log \"*)\n\ttouch '" + marker + "'\n\t;;\nesac\nexec '" + real + "' \"$@\"\n"
	wrapper = filepath.Join(dir, "git")
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper, calls
}

// TestCommitReadBesideOpen: with WithCommit, the commit is read while Open asks git for the top
// level, not after it, and CommitInfo then starts no process of its own.
func TestCommitReadBesideOpen(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	sha := src.Git("rev-parse", "HEAD")
	wrapper, calls := gitRecorder(t, true)
	r, _ := open(t, src.Dir, WithGit(wrapper), WithCommit(sha))
	c, err := r.CommitInfo(context.Background(), sha)
	if err != nil || c.SHA != sha || c.Time.IsZero() {
		t.Fatalf("CommitInfo(%s) = %+v, %v", sha, c, err)
	}
	raw, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "concurrent") {
		t.Errorf("the commit was not read while Open asked for the top level:\n%s", raw)
	}
	if n := strings.Count(string(raw), " log "); n != 1 {
		t.Errorf("git log ran %d times, want 1 (the read ahead, taken by CommitInfo):\n%s", n, raw)
	}
}

// TestCommitReadAheadThrownAway: when git places the top level elsewhere than Open looked first
// (core.worktree here), the read ahead ran with the wrong safe.directory: CommitInfo reads again
// from git's top level. A read ahead that fails leaves CommitInfo to take the long way, with the
// same answer as without it.
func TestCommitReadAheadThrownAway(t *testing.T) {
	t.Parallel()
	src := newRepo(t, fixture())
	sha := src.Git("rev-parse", "HEAD")
	src.Git("config", "core.worktree", filepath.Join(src.Dir, "components"))
	wrapper, calls := gitRecorder(t, false)
	r, _ := open(t, filepath.Join(src.Dir, "components"), WithGit(wrapper), WithCommit(sha))
	if want := filepath.Join(src.Dir, "components"); r.root != want {
		t.Fatalf("root %q, want git's top level %q (the case under test)", r.root, want)
	}
	c, err := r.CommitInfo(context.Background(), sha)
	if err != nil || c.SHA != sha {
		t.Fatalf("CommitInfo(%s) = %+v, %v", sha, c, err)
	}
	raw, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "-C "+r.root+" -c safe.directory="+r.root+" -c gc.auto=0 -c maintenance.auto=false log ") {
		t.Errorf("CommitInfo did not read the commit again from git's top level:\n%s", raw)
	}

	// A checkout without core.worktree: the read ahead is kept, and fails.
	fresh := newRepo(t, fixture())
	missing := strings.Repeat("ab", 20)
	plain, _ := open(t, fresh.Dir)
	_, want := plain.CommitInfo(context.Background(), missing)
	ahead, _ := open(t, fresh.Dir, WithCommit(missing))
	if ahead.pre == nil {
		t.Fatal("the read ahead was thrown away: the case under test needs it kept")
	}
	_, got := ahead.CommitInfo(context.Background(), missing)
	if want == nil || got == nil || got.Error() != want.Error() {
		t.Errorf("a commit the checkout lacks: %v with the read ahead, %v without", got, want)
	}
}
