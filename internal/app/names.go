package app

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// MaxRepositoryName is the longest repository name (registry host and path) that the
// distribution reference grammar accepts (NameTotalLengthMax), which Flux's clients and a
// distribution registry enforce: a longer name is refused at push time, or cannot be pulled.
const MaxRepositoryName = 255

// written is a tag a run may write, and the input that names it.
type written struct {
	tag   string
	input string
}

// checkNames checks, before a run writes anything, every name it would write: the repository of
// each component and every tag of the run (the immutable tag, the moving tags, release claims,
// promotion records, signature and referrer tags). A registry refuses an over-long or malformed
// name only when it is written, by which time other components were published; checked here, a
// bad name stops the run with nothing written. Every problem is reported at once, naming the
// component, the input that makes the name and the limit.
func checkNames(st *stores, comps []component.Component, writes []written) error {
	var errs []error
	for _, c := range comps {
		if err := checkRepository(st, c); err != nil {
			errs = append(errs, err)
		}
	}
	for _, w := range writes {
		if !tags.ValidTag(w.tag) {
			errs = append(errs, fmt.Errorf("%s: tag %q is not a valid OCI tag (at most %d letters, digits, '_', '.' or '-', starting with a letter, digit or '_'): change %s", w.input, w.tag, tags.MaxTagLength, w.input))
		}
	}
	return errors.Join(errs...)
}

// checkRepository checks the repository a component is published to.
func checkRepository(st *stores, c component.Component) error {
	target := st.target(c)
	if st.isLayout {
		return nil // a folder: its own name rules are the file system's, met when it is made
	}
	who, inputs := fmt.Sprintf("component %q", c.Name), "the repository input or the component's name (components)"
	if c.Name == "" {
		who, inputs = "the artifact", "the repository input"
	}
	repo, err := st.client.Repository(target)
	if err != nil {
		return fmt.Errorf("%s: %w: change %s", who, err, inputs)
	}
	if n := repositoryNameLength(repo); n > MaxRepositoryName {
		return fmt.Errorf("%s: repository %q is %d characters long, over the %d a registry accepts for a repository name (host and path): shorten %s", who, target, n, MaxRepositoryName, inputs)
	}
	return nil
}

// repositoryNameLength is the length of the name a distribution reference parser sees: host and
// path, with Docker Hub as docker.io.
func repositoryNameLength(r name.Repository) int {
	host := r.RegistryStr()
	if host == name.DefaultRegistry {
		host = "docker.io"
	}
	return len(host) + 1 + len(r.RepositoryStr())
}

// signatureTags are the tags signing may write for a digest, shown for one: the legacy `.sig`
// tag, the referrers fallback index and a referrer's record. Their lengths do not depend on any
// input, but they are checked with the rest.
func signatureTags() []written {
	d := "sha256-" + strings.Repeat("0", 64)
	return []written{
		{d + ".sig", "the signature tag"},
		{d, "the referrers tag"},
		{d + ".ref." + strings.Repeat("0", 32), "the referrer record tag"},
	}
}
