package gitdiff

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Range is what to compare: Base..Head, or Base...Head when ThreeDot.
type Range struct {
	// Base is the commit to compare with: "" means there is none (every
	// component is a candidate); 40 zeros means the first push of Ref.
	Base string
	// Head is the commit to compare; "" means HEAD.
	Head string
	// ThreeDot compares Head with the merge base of Base and Head, as a
	// pull request does, instead of with Base itself.
	ThreeDot bool
	// Ref is the pushed ref (refs/heads/x, refs/tags/y) when known: it tells
	// the first push of the default branch from that of another branch.
	Ref string
}

// Result is the outcome of Changed.
type Result struct {
	// Paths are the changed files, slash-separated, relative to the top
	// level of the repository, sorted. A rename is its old and new path.
	Paths []string
	// All is true when git could not decide what changed: every component is
	// a candidate. Reason says why, for the log.
	All    bool
	Reason string
	// Base and Head are the commits compared when All is false (Base is the
	// merge base for a three-dot range or a new branch).
	Base, Head string
}

func all(format string, args ...any) Result {
	return Result{All: true, Reason: fmt.Sprintf(format, args...)}
}

// Changed returns the paths that differ between the commits of rng. It
// fetches or deepens what a shallow clone lacks; when git still cannot decide
// it returns a Result with All set and a Reason, never an empty change set.
// defaultBranch is the repository's default branch (from the event, or the
// main-branch input), used for the first push of a branch.
// Errors are kept for what no fallback can fix: a cancelled context, git
// failing in an unexpected way.
func (r *Repo) Changed(ctx context.Context, rng Range, defaultBranch string) (Result, error) {
	if rng.Base == "" {
		return all("no base commit to compare with (e.g. workflow_dispatch, schedule, or a local run without --base): every component is a candidate"), nil
	}
	headRev := rng.Head
	if headRev == "" {
		headRev = "HEAD"
	}
	if isZeroSHA(headRev) {
		return Result{}, fmt.Errorf("comparing with head %q: the ref was deleted, there is no commit to detect changes in", headRev)
	}
	head, err := r.ensureCommit(ctx, headRev)
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, err
		}
		return all("head commit %s cannot be read (%v): every component is a candidate", short(headRev), err), nil
	}

	var base string
	switch {
	case isZeroSHA(rng.Base):
		res, mb, err := r.newBranchBase(ctx, rng, head, defaultBranch)
		if err != nil || res.All {
			return res, err
		}
		base = mb
	default:
		b, err := r.ensureCommit(ctx, rng.Base)
		if err != nil {
			if ctx.Err() != nil {
				return Result{}, err
			}
			return all("base commit %s is neither in the checkout nor fetchable from %q (a force push that rewrote history, or a pruned commit): every component is a candidate (%v)", short(rng.Base), r.o.remote, err), nil
		}
		base = b
		if rng.ThreeDot {
			mb, reason, err := r.mergeBase(ctx, base, head)
			if err != nil {
				return Result{}, err
			}
			if reason != "" {
				return all("no merge base of %s and %s: %s: every component is a candidate", short(base), short(head), reason), nil
			}
			base = mb
		}
		// A two-dot range compares trees: a force push (base not an ancestor
		// of head) needs no history, only the old commit itself.
	}

	paths, err := r.diff(ctx, base, head)
	if err != nil {
		return Result{}, err
	}
	return Result{Paths: paths, Base: base, Head: head}, nil
}

// newBranchBase finds what the first push of a branch is compared with: its
// merge base with the default branch.
func (r *Repo) newBranchBase(ctx context.Context, rng Range, head, defaultBranch string) (Result, string, error) {
	if defaultBranch == "" {
		return all("first push of %s and the default branch is unknown: every component is a candidate", refOrHead(rng.Ref)), "", nil
	}
	if rng.Ref == "refs/heads/"+defaultBranch {
		return all("first push of the default branch %q: every component is new", defaultBranch), "", nil
	}
	tip, err := r.branchTip(ctx, defaultBranch)
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, "", err
		}
		return all("first push of %s and the default branch %q cannot be read (%v): every component is a candidate", refOrHead(rng.Ref), defaultBranch, err), "", nil
	}
	mb, reason, err := r.mergeBase(ctx, tip, head)
	if err != nil {
		return Result{}, "", err
	}
	if reason != "" {
		return all("first push of %s and no merge base with %q: %s: every component is a candidate", refOrHead(rng.Ref), defaultBranch, reason), "", nil
	}
	if mb == head {
		// The new ref points into the default branch's history (a branch or
		// tag cut from it): there is no change of its own to compare, and
		// "nothing changed" would be a guess.
		return all("first push of %s, which has no commits of its own beyond %q: every component is a candidate", refOrHead(rng.Ref), defaultBranch), "", nil
	}
	r.o.logf("first push of %s: comparing with its merge base %s with %q", refOrHead(rng.Ref), short(mb), defaultBranch)
	return Result{}, mb, nil
}

func refOrHead(ref string) string {
	if ref == "" {
		return "a new branch"
	}
	return fmt.Sprintf("%q", ref)
}

// branchTip returns the remote's tip of branch, fetching it (into FETCH_HEAD
// only, no ref is created) because a single-branch checkout does not have it
// and a local copy may be stale. Without a reachable remote, a local
// remote-tracking branch or branch is used.
func (r *Repo) branchTip(ctx context.Context, branch string) (string, error) {
	shallow, err := r.isShallow(ctx)
	if err != nil {
		return "", err
	}
	var flags []string
	if shallow {
		flags = []string{"--depth=1"}
	}
	r.o.logf("fetching the default branch %q from %q", branch, r.o.remote)
	fetchErr := r.fetch(ctx, flags, "refs/heads/"+branch)
	if fetchErr == nil {
		if sha, ok, err := r.resolve(ctx, "FETCH_HEAD"); err == nil && ok {
			return sha, nil
		}
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	for _, ref := range []string{"refs/remotes/" + r.o.remote + "/" + branch, "refs/heads/" + branch} {
		if sha, ok, err := r.resolve(ctx, ref); err == nil && ok {
			r.o.logf("cannot fetch %q (%v): using the local %s", branch, fetchErr, ref)
			return sha, nil
		}
	}
	return "", fmt.Errorf("fetching branch %q from %q: %w", branch, r.o.remote, fetchErr)
}

// mergeBase returns the best common ancestor of a and b, deepening a shallow
// clone as needed. When there is none it returns why in reason.
func (r *Repo) mergeBase(ctx context.Context, a, b string) (mb, reason string, err error) {
	find := func(ctx context.Context) (bool, error) {
		out, err := r.run(ctx, "merge-base", a, b)
		switch exitCode(err) {
		case 0:
			mb = strings.TrimSpace(out)
			return true, nil
		case 1:
			return false, nil
		}
		return false, err
	}
	ok, err := r.deepenUntil(ctx, []string{a, b}, find)
	switch {
	case errors.Is(err, ErrUndecided):
		return "", err.Error(), nil
	case err != nil:
		return "", "", fmt.Errorf("finding the merge base of %s and %s: %w", short(a), short(b), err)
	case !ok:
		return "", "the histories are unrelated", nil
	}
	return mb, "", nil
}

// diff lists the paths that differ between the trees of two commits.
// diff-tree is plumbing: the user's diff.* settings (renames, relative,
// external tools) cannot change its output.
func (r *Repo) diff(ctx context.Context, base, head string) ([]string, error) {
	out, err := r.run(ctx, "diff-tree", "-r", "-z", "--no-renames", "--name-only", "--no-commit-id", base, head, "--")
	if err != nil {
		return nil, fmt.Errorf("listing changed files between %s and %s: %w", short(base), short(head), err)
	}
	paths := []string{}
	for _, p := range strings.Split(out, "\x00") {
		if p != "" {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	return paths, nil
}
