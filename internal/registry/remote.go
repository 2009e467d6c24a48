package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/fleetpush/fleetpush/internal/retry"
)

type remoteStore struct {
	repo name.Repository
	c    *Client
}

func (s *remoteStore) String() string { return s.repo.Name() }

// Reference is the pinned reference of a digest in this repository, for the signer.
func (s *remoteStore) Reference(d v1.Hash) name.Digest { return s.repo.Digest(d.String()) }

func (s *remoteStore) opts(ctx context.Context) []remote.Option {
	return append(s.c.reuse(s.repo), remote.WithContext(ctx))
}

func (s *remoteStore) Get(ctx context.Context, tag string) (*Manifest, error) {
	return s.get(ctx, s.repo.Tag(tag))
}

func (s *remoteStore) GetDigest(ctx context.Context, d v1.Hash) (*Manifest, error) {
	return s.get(ctx, s.repo.Digest(d.String()))
}

// get is one GET of the manifest at ref (after the repository's first request, which also
// authenticates): what decides whether a component is unchanged.
func (s *remoteStore) get(ctx context.Context, ref name.Reference) (*Manifest, error) {
	desc, err := remote.Get(ref, s.opts(ctx)...)
	if err != nil {
		if IsNotFound(err) {
			if isNameUnknown(err) {
				s.c.stateOf(s.repo).setAbsent(true)
			}
			return nil, nil
		}
		return nil, fmt.Errorf("reading %q: %w", ref, explain(err))
	}
	return parseManifest(desc.Manifest, string(desc.MediaType))
}

// Push uploads the blobs the repository lacks and puts the manifest by digest, skipping what the
// client can infer (see pushImage).
func (s *remoteStore) Push(ctx context.Context, img v1.Image) (*Manifest, error) {
	m, err := manifestOf(img)
	if err != nil {
		return nil, err
	}
	ref := s.repo.Digest(m.Digest.String())
	if err := s.pushImage(ctx, img, m); err != nil {
		return nil, fmt.Errorf("pushing %q: %w", ref, explain(err))
	}
	return m, nil
}

func (s *remoteStore) Tag(ctx context.Context, m *Manifest, tag string) error {
	ref := s.repo.Tag(tag)
	if err := remote.Put(ref, rawManifest{m}, s.opts(ctx)...); err != nil {
		return fmt.Errorf("tagging %q: %w", ref, explain(err))
	}
	s.c.stateOf(s.repo).setAbsent(false)
	return nil
}

func (s *remoteStore) Tags(ctx context.Context) ([]string, error) {
	tags, err := listTags(ctx, s.repo, s.c.maxTagPages, s.opts(ctx))
	if err != nil {
		if IsNotFound(err) {
			// No tag list: the repository does not exist, so it holds no blobs either.
			s.c.stateOf(s.repo).setAbsent(true)
			return nil, nil
		}
		return nil, fmt.Errorf("listing tags of %q: %w", s.repo, explain(err))
	}
	return tags, nil
}

// IsNotFound reports whether err is the registry saying the manifest, tag or repository does not
// exist.
func IsNotFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		if te.StatusCode == http.StatusNotFound {
			return true
		}
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
				return true
			}
		}
	}
	return false
}

// isNameUnknown reports whether err is the registry saying the repository does not exist.
func isNameUnknown(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		for _, d := range te.Errors {
			if d.Code == transport.NameUnknownErrorCode {
				return true
			}
		}
	}
	return false
}

// explain adds what to do to the registry errors users meet most.
func explain(err error) error {
	var tl *retry.TooLargeError
	if errors.As(err, &tl) {
		return fmt.Errorf("%w (no real answer of its kind is that large: a manifest or index is at most %d MiB, the most a distribution registry stores; a blob at most what max-size allows; check that the registry and the reference are the ones meant, and report the answer to the registry's operator)", err, ManifestLimit>>20)
	}
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	switch te.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("%w (the registry refused the credentials: check registry-username/registry-password or the docker config; on ghcr.io the workflow needs `permissions: packages: write`)", err)
	case http.StatusForbidden:
		return fmt.Errorf("%w (no write access: on ghcr.io the workflow needs `permissions: packages: write` and the package must grant this repository access)", err)
	case http.StatusTooManyRequests:
		return fmt.Errorf("%w (the registry kept rate-limiting after retries: re-run the job later; it resumes where this run stopped)", err)
	}
	if te.StatusCode >= 500 {
		return fmt.Errorf("%w (the registry kept failing after retries: re-run the job; it resumes where this run stopped, nothing half-written is tagged)", err)
	}
	return err
}
