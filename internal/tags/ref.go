package tags

import (
	"errors"
	"fmt"
	"strings"
)

// RefKind tells a branch ref from a tag ref. Its zero value is neither, so a
// zero Ref is never mistaken for a branch.
type RefKind int

// Kinds of refs.
const (
	Branch RefKind = iota + 1 // refs/heads/<name>
	Tag                       // refs/tags/<name>
)

// String returns "branch", "tag" or "RefKind(n)".
func (k RefKind) String() string {
	switch k {
	case Branch:
		return "branch"
	case Tag:
		return "tag"
	}
	return fmt.Sprintf("RefKind(%d)", int(k))
}

// Ref is a git branch or tag by its short name: "main", "feature/x",
// "frontend/v1.2.3", "v1.2.3".
type Ref struct {
	Kind RefKind
	Name string
}

// Full returns the full ref name, such as "refs/heads/main".
func (r Ref) Full() string {
	switch r.Kind {
	case Branch:
		return "refs/heads/" + r.Name
	case Tag:
		return "refs/tags/" + r.Name
	}
	return r.Name
}

// ParseRef parses a full git ref as GitHub gives it in GITHUB_REF:
// "refs/heads/<branch>" or "refs/tags/<tag>". The name must follow git's
// check-ref-format rules. Pull request refs ("refs/pull/...") are refused:
// publishing runs on push events, pull requests are checked with validate.
func ParseRef(ref string) (Ref, error) {
	if ref == "" {
		return Ref{}, errors.New("no git ref given: set GITHUB_REF (GitHub Actions sets it) or --ref, such as refs/heads/main or refs/tags/v1.2.3")
	}
	var r Ref
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		r = Ref{Kind: Branch, Name: strings.TrimPrefix(ref, "refs/heads/")}
	case strings.HasPrefix(ref, "refs/tags/"):
		r = Ref{Kind: Tag, Name: strings.TrimPrefix(ref, "refs/tags/")}
	case strings.HasPrefix(ref, "refs/pull/"):
		return Ref{}, fmt.Errorf("ref %q is a pull request: publish runs on push events (branches and tags); check pull requests with validate (command: validate)", ref)
	default:
		return Ref{}, fmt.Errorf("ref %q is neither a branch nor a tag: give refs/heads/<branch> or refs/tags/<tag>", ref)
	}
	if reason := refNameProblem(r.Name); reason != "" {
		return Ref{}, fmt.Errorf("ref %q: %q is not a valid git %s name: %s", ref, r.Name, r.Kind, reason)
	}
	if r.Kind == Branch && strings.HasPrefix(r.Name, "-") {
		return Ref{}, fmt.Errorf("ref %q: %q is not a valid git branch name: it starts with '-'", ref, r.Name)
	}
	return r, nil
}
