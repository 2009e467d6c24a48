package gitdiff

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrUndecided is returned by IsAncestor when the history needed to answer
// cannot be fetched. Callers fall back to another ordering (commit time).
var ErrUndecided = errors.New("cannot tell commit ancestry from the available history")

// Commit is one commit of the repository.
type Commit struct {
	SHA string
	// Time is the committer time in UTC: it is what makes a re-run of the
	// same commit produce the same artifact, unlike the wall clock.
	Time time.Time
	// Branch is the short branch name when the commit was named by a branch
	// (HEAD on a branch, or a branch name given to CommitInfo), else "".
	Branch string
}

// Head returns the checked-out commit and, unless HEAD is detached (pull
// requests, tags), its branch.
func (r *Repo) Head(ctx context.Context) (Commit, error) {
	c, err := r.commit(ctx, "HEAD")
	if err != nil {
		return Commit{}, err
	}
	out, err := r.run(ctx, "symbolic-ref", "--quiet", "--short", "HEAD")
	switch {
	case err == nil:
		c.Branch = strings.TrimSpace(out)
	case exitCode(err) == 1: // detached HEAD
	default:
		return Commit{}, fmt.Errorf("reading the branch of HEAD: %w", err)
	}
	return c, nil
}

// CommitInfo returns the commit rev names (a SHA, branch, tag or any git
// revision). A full SHA missing from a shallow checkout is fetched.
func (r *Repo) CommitInfo(ctx context.Context, rev string) (Commit, error) {
	// A full SHA of a commit the checkout has (the event's, as a rule) costs
	// one git process: every run starts here, before its first request.
	// Anything else (a name, a commit to fetch, something that is no commit:
	// git log would take a range) takes the long way, which resolves exactly
	// one commit and says what is wrong.
	var c Commit
	err := errors.New("not a full SHA")
	switch p := r.pre; {
	case p != nil && p.rev == rev:
		select {
		case <-p.done:
			c, err = p.c, p.err
		case <-ctx.Done():
			return Commit{}, ctx.Err()
		}
	case isFullSHA(rev):
		c, err = r.commit(ctx, rev+"^{commit}")
	}
	if err != nil {
		sha, err := r.ensureCommit(ctx, rev)
		if err != nil {
			return Commit{}, err
		}
		if c, err = r.commit(ctx, sha); err != nil {
			return Commit{}, err
		}
	}
	// rev-parse --symbolic-full-name ignores --end-of-options (git 2.39), so
	// an option-like rev is simply not looked up: it cannot be a branch. A
	// full SHA names the commit itself, not a branch.
	if !strings.HasPrefix(rev, "-") && !isFullSHA(rev) {
		if full, err := r.run(ctx, "rev-parse", "--symbolic-full-name", rev); err == nil {
			if b, ok := strings.CutPrefix(strings.TrimSpace(full), "refs/heads/"); ok {
				c.Branch = b
			}
		}
	}
	return c, nil
}

func (r *Repo) commit(ctx context.Context, rev string) (Commit, error) {
	out, err := r.run(ctx, "log", "-1", "--no-walk", "--format=%H %ct", "--end-of-options", rev, "--")
	if err != nil {
		return Commit{}, fmt.Errorf("reading commit %q: %w", rev, err)
	}
	sha, ct, ok := strings.Cut(strings.TrimSpace(out), " ")
	if !ok {
		return Commit{}, fmt.Errorf("reading commit %q: unexpected git output %q", rev, out)
	}
	sec, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return Commit{}, fmt.Errorf("reading the time of commit %q: %w", rev, err)
	}
	return Commit{SHA: sha, Time: time.Unix(sec, 0).UTC()}, nil
}

// IsAncestor reports whether commit a is an ancestor of (or equal to) commit
// b, for "latest never moves backwards". Missing commits are fetched and a
// shallow history is deepened until the answer is certain; when it cannot be,
// the error wraps ErrUndecided.
func (r *Repo) IsAncestor(ctx context.Context, a, b string) (bool, error) {
	as, err := r.ensureCommit(ctx, a)
	if err != nil {
		return false, fmt.Errorf("checking whether %q is an ancestor of %q: %w: %w", a, b, ErrUndecided, err)
	}
	bs, err := r.ensureCommit(ctx, b)
	if err != nil {
		return false, fmt.Errorf("checking whether %q is an ancestor of %q: %w: %w", a, b, ErrUndecided, err)
	}
	if as == bs {
		return true, nil
	}
	var answer bool
	decided := func(ctx context.Context) (bool, error) {
		yes, err := r.isAncestor(ctx, as, bs)
		if err != nil || yes {
			answer = yes
			return true, err
		}
		// b before a settles it too, without the whole history: the common
		// case when a newer run already moved the tag.
		back, err := r.isAncestor(ctx, bs, as)
		if err != nil || back {
			return true, err
		}
		return false, nil
	}
	ok, err := r.deepenUntil(ctx, []string{as, bs}, decided)
	if err != nil {
		return false, fmt.Errorf("checking whether %q is an ancestor of %q: %w", a, b, err)
	}
	if !ok { // the history is complete and neither is an ancestor of the other
		return false, nil
	}
	return answer, nil
}

func (r *Repo) isAncestor(ctx context.Context, a, b string) (bool, error) {
	_, err := r.run(ctx, "merge-base", "--is-ancestor", a, b)
	switch exitCode(err) {
	case 0:
		return true, nil
	case 1:
		return false, nil
	}
	return false, err
}
