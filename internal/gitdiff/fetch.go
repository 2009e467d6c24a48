package gitdiff

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// isZeroSHA reports whether rev is the all-zeros SHA GitHub sends for a ref
// that did not exist before a push (or no longer exists after it).
func isZeroSHA(rev string) bool {
	return (len(rev) == 40 || len(rev) == 64) && strings.Trim(rev, "0") == ""
}

// isFullSHA reports whether rev is a full SHA-1 or SHA-256 object name, the
// only form a remote can be asked for.
func isFullSHA(rev string) bool {
	if len(rev) != 40 && len(rev) != 64 {
		return false
	}
	for _, c := range rev {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// resolve returns the SHA of the commit rev names, if the repository has it.
func (r *Repo) resolve(ctx context.Context, rev string) (string, bool, error) {
	out, err := r.run(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	switch {
	case err == nil:
		return strings.TrimSpace(out), true, nil
	case exitCode(err) == 1 || exitCode(err) == 128:
		return "", false, nil
	}
	return "", false, err
}

func (r *Repo) isShallow(ctx context.Context) (bool, error) {
	out, err := r.run(ctx, "rev-parse", "--is-shallow-repository")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(out) == "true", nil
}

// fetch fetches revs (full SHAs or remote ref names) from the remote, without
// tags or submodules, and without creating or moving any local ref.
func (r *Repo) fetch(ctx context.Context, flags []string, revs ...string) error {
	args := append([]string{"fetch", "--quiet", "--no-tags", "--no-recurse-submodules"}, flags...)
	args = append(append(args, "--", r.o.remote), revs...)
	if _, err := r.run(ctx, args...); err != nil {
		return err
	}
	return nil
}

// ensureCommit resolves rev to a commit SHA, fetching it by SHA from the
// remote when the checkout lacks it (a shallow clone, or a force-pushed-over
// commit another clone still has).
func (r *Repo) ensureCommit(ctx context.Context, rev string) (string, error) {
	sha, ok, err := r.resolve(ctx, rev)
	if err != nil {
		return "", fmt.Errorf("resolving %q: %w", rev, err)
	}
	if ok {
		return sha, nil
	}
	if !isFullSHA(rev) {
		return "", fmt.Errorf("resolving %q: no such commit in %q", rev, r.root)
	}
	shallow, err := r.isShallow(ctx)
	if err != nil {
		return "", err
	}
	var flags []string
	if shallow {
		// The tree is what a two-dot diff needs; history, if a merge base
		// is needed, is deepened later and only as far as needed.
		flags = []string{"--depth=1"}
	}
	// In a complete clone no --depth: it would turn the clone shallow.
	r.o.logf("commit %s is not in the checkout: fetching it from %q", short(rev), r.o.remote)
	if err := r.fetch(ctx, flags, rev); err != nil {
		return "", fmt.Errorf("fetching commit %s from %q: %w", short(rev), r.o.remote, err)
	}
	sha, ok, err = r.resolve(ctx, rev)
	if err != nil {
		return "", fmt.Errorf("resolving %q: %w", rev, err)
	}
	if !ok {
		return "", fmt.Errorf("fetching commit %s from %q: still not a commit after the fetch", short(rev), r.o.remote)
	}
	return sha, nil
}

// deepenUntil calls done until it reports true, deepening a shallow clone
// between calls: --depth=first, doubled up to max, then --unshallow if
// allowed. It returns true when done did; false when the history is complete
// and done still says no; an error wrapping ErrUndecided when the clone is
// still shallow and cannot be deepened further.
func (r *Repo) deepenUntil(ctx context.Context, revs []string, done func(context.Context) (bool, error)) (bool, error) {
	depth := r.o.firstDepth
	unshallowed := false
	for {
		ok, err := done(ctx)
		if err != nil || ok {
			return ok, err
		}
		shallow, err := r.isShallow(ctx)
		if err != nil {
			return false, err
		}
		if !shallow {
			return false, nil
		}
		var flags []string
		switch {
		case depth <= r.o.maxDepth:
			r.o.logf("the clone is shallow: fetching %d commits of history behind %s from %q", depth, shortAll(revs), r.o.remote)
			flags = []string{"--depth=" + strconv.Itoa(depth)}
			depth *= 2
		case r.o.unshallow && !unshallowed:
			r.o.logf("the clone is shallow: %d commits were not enough, fetching the complete history of %s from %q (--unshallow)", r.o.maxDepth, shortAll(revs), r.o.remote)
			flags = []string{"--unshallow"}
			unshallowed = true
		default:
			how := "--unshallow is disabled"
			if unshallowed {
				how = "--unshallow did not complete it"
			}
			return false, fmt.Errorf("%w: the clone is shallow, %d commits of history were not enough and %s", ErrUndecided, r.o.maxDepth, how)
		}
		if err := r.fetch(ctx, flags, revs...); err != nil {
			return false, fmt.Errorf("%w: deepening the shallow clone: %w", ErrUndecided, err)
		}
	}
}

func shortAll(revs []string) string {
	s := make([]string, len(revs))
	for i, rev := range revs {
		s[i] = short(rev)
	}
	return strings.Join(s, " and ")
}
