package tags

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/mod/semver"
)

// Release is a release git tag, parsed.
type Release struct {
	Component string // "" in single-artifact mode
	Version   string // canonical semantic version, such as "v1.2.3" or "v1.2.3-rc.1"
}

// IsRelease reports whether tag is a release version: a canonical semantic
// version with the "v" prefix (vMAJOR.MINOR.PATCH, optionally -PRERELEASE, no
// +BUILD), such as "v1.2.3" or "v1.2.3-rc.1", and a valid OCI tag.
func IsRelease(tag string) bool {
	return semver.IsValid(tag) && semver.Canonical(tag) == tag && len(tag) <= MaxTagLength
}

// IsStable reports whether tag is a release version without a pre-release.
func IsStable(tag string) bool {
	return IsRelease(tag) && semver.Prerelease(tag) == ""
}

// ValidateVersion checks that v is a release version (see IsRelease) and
// otherwise says which form is expected, with a suggestion when one is
// obvious ("v1.2" → "v1.2.0", "1.2.3" → "v1.2.3", "v1.2.3+meta" → "v1.2.3").
func ValidateVersion(v string) error {
	if IsRelease(v) {
		return nil
	}
	if semver.IsValid(v) && semver.Canonical(v) == v {
		return fmt.Errorf("version %q is longer than an OCI tag may be (%d characters): shorten the pre-release", v, MaxTagLength)
	}
	msg := fmt.Sprintf("version %q is not a canonical semantic version: expected vMAJOR.MINOR.PATCH such as v1.2.3, optionally with a pre-release such as v1.2.3-rc.1 and without +build metadata", v)
	if s := suggestVersion(v); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	return errors.New(msg)
}

// suggestVersion returns the canonical version v most likely meant, or "".
func suggestVersion(v string) string {
	candidates := []string{v, "v" + v}
	if strings.HasPrefix(v, "V") {
		candidates = append(candidates, "v"+v[1:])
	}
	for _, c := range candidates {
		if semver.IsValid(c) {
			if s := semver.Canonical(c); s != v && IsRelease(s) {
				return s
			}
		}
	}
	return ""
}

// ParseRelease parses a release git tag (the name of a refs/tags/ ref). In
// component mode it is "<component>/vX.Y.Z" and the component must be one of
// components; in single-artifact mode (p.Single) it is "vX.Y.Z". The version
// must be canonical (see IsRelease). Every problem is reported at once.
func (p Policy) ParseRelease(tag string, components []string) (Release, error) {
	if p.Single {
		if strings.Contains(tag, "/") {
			return Release{}, fmt.Errorf("tag %q is not a release tag: in single-artifact mode release tags are vX.Y.Z, such as v1.2.3", tag)
		}
		if err := ValidateVersion(tag); err != nil {
			return Release{}, fmt.Errorf("tag %q: %w", tag, err)
		}
		return Release{Version: tag}, nil
	}
	i := strings.LastIndexByte(tag, '/')
	if i < 0 {
		return Release{}, fmt.Errorf("tag %q is not a release tag: in component mode release tags are <component>/vX.Y.Z, such as %s/v1.2.3 (known components: %s)", tag, exampleComponent(components), knownList(components))
	}
	r := Release{Component: tag[:i], Version: tag[i+1:]}
	var errs []error
	if r.Component == "" || !slices.Contains(components, r.Component) {
		errs = append(errs, fmt.Errorf("tag %q names component %q, which is not one of the known components (%s): tag <component>/vX.Y.Z with one of them", tag, r.Component, knownList(components)))
	}
	if err := ValidateVersion(r.Version); err != nil {
		errs = append(errs, fmt.Errorf("tag %q: %w", tag, err))
	}
	if err := errors.Join(errs...); err != nil {
		return Release{}, err
	}
	return r, nil
}

func knownList(components []string) string {
	if len(components) == 0 {
		return "none"
	}
	s := slices.Clone(components)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ", ")
}

func exampleComponent(components []string) string {
	if len(components) == 0 {
		return "<component>"
	}
	return slices.Min(components)
}
