package tags

import (
	"errors"
	"fmt"
	"strings"
)

// ErrImmutable is the policy outcome of a release version tag that already
// holds other content. Test for it with errors.Is.
var ErrImmutable = errors.New("release versions are immutable")

// ImmutableConflict returns the error for release tag tag holding have when
// this run built want (digests, or any printable content ids). It wraps
// ErrImmutable and says what to do: release the change as a new version.
func ImmutableConflict(tag, have, want string) error {
	next := "a new version"
	if n := nextPatch(tag); n != "" {
		next += ", such as " + n
	}
	return fmt.Errorf("tag %q already holds %s, not %s: %w; release the change as %s, or rebuild %s from the commit it was released from", tag, have, want, ErrImmutable, next, tag)
}

// nextPatch returns stable release v with its patch number raised by one, or
// "" if v is not a stable release. It counts in decimal digits, so no version
// is too large.
func nextPatch(v string) string {
	if !IsStable(v) {
		return ""
	}
	i := strings.LastIndexByte(v, '.') + 1
	d := []byte(v[i:])
	for j := len(d) - 1; j >= 0; j-- {
		if d[j] < '9' {
			d[j]++
			return v[:i] + string(d)
		}
		d[j] = '0'
	}
	return v[:i] + "1" + string(d)
}

// BuildConflict returns the error for branch build tag tag holding have when
// this run built want from the same commit. It wraps ErrImmutable, so that
// callers treat both kinds of immutable tags alike, but speaks of the commit,
// not of releases: the content changed without a commit (the ignore-paths
// input, or files edited in the checkout).
func BuildConflict(tag, have, want string) error {
	return &buildConflict{fmt.Sprintf("tag %q already holds %s, but this build of the same commit gives %s: the ignore-paths input or the files changed without a commit; commit the change (or restore the input) and publish again", tag, have, want)}
}

type buildConflict struct{ msg string }

func (e *buildConflict) Error() string { return e.msg }
func (e *buildConflict) Unwrap() error { return ErrImmutable }
