package tags

import (
	"fmt"
	"slices"
	"strings"
)

// Plan says which tags a run publishes for a ref.
type Plan struct {
	// Immutable is the tag that never moves: "<branch>-<sha[:n]>" for a
	// branch (see Policy.BranchTag), the version ("v1.2.3") for a release.
	Immutable string
	// Latest is true for pushes to the main branch: LatestTag should move to
	// this build, subject to MoveLatest right before moving it.
	Latest bool
	// Stable is true for a stable (non-pre-release) release: StableTag is a
	// candidate to move, subject to MoveStable right before moving it.
	Stable bool
	// Components are the components this ref publishes: for a release in
	// component mode exactly the one its tag names; otherwise all given.
	Components []string
}

// Plan returns the tags to publish for ref at commit sha (40 lower-case hex
// digits). components are the candidates: for a branch, all of them are
// published; for a release in component mode, only the one the tag names,
// which must be among them. Unset fields of p take their defaults.
func (p Policy) Plan(ref Ref, sha string, components []string) (Plan, error) {
	p = p.WithDefaults()
	if err := p.Validate(); err != nil {
		return Plan{}, err
	}
	if err := validateSHA(sha); err != nil {
		return Plan{}, err
	}
	switch ref.Kind {
	case Branch:
		tag, err := p.BranchTag(ref.Name, sha)
		if err != nil {
			return Plan{}, err
		}
		return Plan{
			Immutable:  tag,
			Latest:     ref.Name == p.MainBranch,
			Components: slices.Clone(components),
		}, nil
	case Tag:
		rel, err := p.ParseRelease(ref.Name, components)
		if err != nil {
			return Plan{}, err
		}
		pl := Plan{Immutable: rel.Version, Stable: IsStable(rel.Version)}
		if p.Single {
			pl.Components = slices.Clone(components)
		} else {
			pl.Components = []string{rel.Component}
		}
		return pl, nil
	}
	return Plan{}, fmt.Errorf("ref %q has no kind: parse it with ParseRef", ref.Name)
}

// BranchTag returns the immutable tag of a build of branch at commit sha:
// SanitizeBranch(branch), cut so that the whole tag fits in 128 characters,
// then "-" and the first p.SHALength hex digits of sha. Unset fields of p take
// their defaults.
func (p Policy) BranchTag(branch, sha string) (string, error) {
	p = p.WithDefaults()
	if p.SHALength < MinSHALength || p.SHALength > MaxSHALength {
		return "", fmt.Errorf("sha-length: %d is out of range: use %d to %d (default %d)", p.SHALength, MinSHALength, MaxSHALength, DefaultSHALength)
	}
	if err := validateSHA(sha); err != nil {
		return "", err
	}
	prefix := SanitizeBranch(branch)
	if room := MaxTagLength - 1 - p.SHALength; len(prefix) > room {
		prefix = prefix[:room]
	}
	return prefix + "-" + sha[:p.SHALength], nil
}

// BranchPrefix is put before a sanitized branch name that would otherwise
// look like a version, and stands alone for a name with no usable character.
const BranchPrefix = "branch"

// SanitizeBranch turns a branch name into the start of a valid OCI tag:
//   - every character other than A-Z, a-z, 0-9, '_', '.' and '-' becomes '-'
//     (one '-' per character, so "feature/Foo_bar" becomes "feature-Foo_bar");
//   - leading '.' and '-' are dropped, as a tag cannot start with them;
//   - a name left empty becomes "branch";
//   - a name that starts like a version (a digit, or "v"/"V" and a digit) gets
//     the prefix "branch-": "v1.2.3" becomes "branch-v1.2.3", because
//     "v1.2.3-1a2b3c4d" would read as a pre-release of v1.2.3 and a lenient
//     semver range (Flux's OCIRepository ref.semver) could select it;
//   - the result is cut to 128 characters.
//
// Distinct branches may give the same result ("a/b" and "a-b"); the commit in
// the tag keeps builds of different commits apart.
func SanitizeBranch(branch string) string {
	var b strings.Builder
	for _, r := range branch {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.TrimLeft(b.String(), ".-")
	switch {
	case s == "":
		s = BranchPrefix
	case versionLike(s):
		s = BranchPrefix + "-" + s
	}
	if len(s) > MaxTagLength {
		s = s[:MaxTagLength]
	}
	return s
}

// validateSHA checks for a full SHA-1 commit id in lower-case hex.
func validateSHA(sha string) error {
	if len(sha) != 40 || strings.Trim(sha, "0123456789abcdef") != "" {
		return fmt.Errorf("commit %q is not a full SHA-1 commit id (40 lower-case hex digits): pass the full id, as GITHUB_SHA or git rev-parse HEAD give it", sha)
	}
	return nil
}
