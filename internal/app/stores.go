package app

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

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
		return registry.LayoutScheme + filepath.Join(s.layout, c.Name)
	}
	return s.repository + "/" + c.Name
}

// open opens the repository at ref, as target names it.
func (s *stores) open(ref string) (repository, error) {
	if dir, ok := strings.CutPrefix(ref, registry.LayoutScheme); ok {
		st, err := registry.OpenLayout(dir)
		if err != nil {
			return nil, err
		}
		return layoutRepo{st}, nil
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

// layoutRepo is an OCI image layout folder.
type layoutRepo struct{ registry.Store }

func (r layoutRepo) Reference(v1.Hash) (name.Digest, error) {
	return name.Digest{}, fmt.Errorf("%s is an OCI layout folder, which cannot carry signatures: publish to a registry, or set sign to none", r.Store)
}
