package app

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/checkout"
	"github.com/fleetpush/fleetpush/internal/component"
	"github.com/fleetpush/fleetpush/internal/registry"
)

// repository is an opened OCI repository: what the modes read and write, and the name the signer
// needs for a digest in it.
type repository interface {
	registry.Store
	// Reference names digest d for the signer and the verifier. An OCI layout folder cannot
	// carry signatures: it answers an error that says so.
	Reference(d v1.Hash) (name.Digest, error)
}

// stores opens the repositories of a run, all through one registry client.
type stores struct {
	client     *registry.Client
	repository string // the repository input: a registry prefix or oci-layout:DIR
	layout     string // DIR when the target is an OCI layout folder
	isLayout   bool
}

func newStores(client *registry.Client, repositoryInput string) *stores {
	dir, ok := strings.CutPrefix(repositoryInput, registry.LayoutScheme)
	return &stores{client: client, repository: repositoryInput, layout: dir, isLayout: ok}
}

// target is where a component is published: <repository>/<name>, or the repository itself for
// a single artifact.
func (s *stores) target(c component.Component) string {
	switch {
	case c.Name == "":
		return s.repository
	case s.isLayout:
		return registry.LayoutScheme + layoutTarget(s.layout, c)
	}
	return s.repository + "/" + c.Name
}

// layoutTarget is the OCI layout folder component c is written to inside the layout folder dir:
// dir itself for a single artifact, dir/<name> for a component. It is joined as text, not
// cleaned: "link/../out" names the folder the kernel finds, which cleaning would change.
func layoutTarget(dir string, c component.Component) string {
	switch {
	case c.Name == "":
		return dir
	case dir == "":
		return c.Name
	}
	if t := strings.TrimRight(dir, "/"); t != "" {
		return t + "/" + c.Name
	}
	return "/" + c.Name
}

// open opens the repository at ref, as target names it.
func (s *stores) open(ref string) (repository, error) {
	if dir, ok := strings.CutPrefix(ref, registry.LayoutScheme); ok {
		// Written where the kernel resolves the name, as the artifact builder resolves it to
		// leave it out: ".." after a link, which path cleaning gets wrong, cannot make the two
		// disagree.
		real, err := checkout.RealPath(dir)
		if err != nil {
			return nil, fmt.Errorf("resolving the OCI layout folder %q: %w: check the repository input", dir, err)
		}
		st, err := registry.OpenLayout(real)
		if err != nil {
			return nil, err
		}
		return layoutRepo{Store: st, ref: ref}, nil
	}
	repo, err := s.client.Repository(ref)
	if err != nil {
		return nil, err
	}
	st, err := s.client.Open(ref)
	if err != nil {
		return nil, err
	}
	return remoteRepo{Store: st, repo: repo}, nil
}

// remoteRepo is a repository in a registry.
type remoteRepo struct {
	registry.Store
	repo name.Repository
}

func (r remoteRepo) Reference(d v1.Hash) (name.Digest, error) { return r.repo.Digest(d.String()), nil }

// layoutRepo is an OCI image layout folder, opened at its real path and named as the
// repository input spells it.
type layoutRepo struct {
	registry.Store
	ref string
}

func (r layoutRepo) String() string { return r.ref }

func (r layoutRepo) Reference(v1.Hash) (name.Digest, error) {
	return name.Digest{}, fmt.Errorf("%s is an OCI layout folder, which cannot carry signatures: publish to a registry, or set sign to none", r)
}
