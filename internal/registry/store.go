package registry

import (
	"context"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Store is one OCI repository: a component's artifacts and tags.
type Store interface {
	// Get returns the manifest a tag points at, or nil and no error when the tag does not exist.
	Get(ctx context.Context, tag string) (*Manifest, error)
	// GetDigest returns the manifest with the given digest, or nil when it does not exist.
	GetDigest(ctx context.Context, d v1.Hash) (*Manifest, error)
	// Push uploads the image's blobs (those missing) and its manifest by digest: no tag moves.
	Push(ctx context.Context, img v1.Image) (*Manifest, error)
	// Tag points tag at m, uploading nothing but the manifest under the new name.
	Tag(ctx context.Context, m *Manifest, tag string) error
	// Tags lists every tag in the repository, following pagination.
	Tags(ctx context.Context) ([]string, error)
	// String names the repository for humans: ghcr.io/acme/apps/frontend or oci-layout:dist/frontend.
	String() string
}

// Manifest is a pushed artifact as the registry holds it.
type Manifest struct {
	Digest    v1.Hash
	MediaType string
	Raw       []byte
	Parsed    *v1.Manifest // nil when the tag holds something other than an image manifest (an index)
}

// LayerDigest is the digest of the artifact's content layer: the first layer, as Flux reads it.
// ok is false when the manifest is not a single-content-layer artifact.
func (m *Manifest) LayerDigest() (v1.Hash, bool) {
	if m == nil || m.Parsed == nil || len(m.Parsed.Layers) == 0 {
		return v1.Hash{}, false
	}
	return m.Parsed.Layers[0].Digest, true
}

// Annotation returns a manifest annotation, or "".
func (m *Manifest) Annotation(key string) string {
	if m == nil || m.Parsed == nil {
		return ""
	}
	return m.Parsed.Annotations[key]
}

// Size is the size of the manifest and the blobs it references.
func (m *Manifest) Size() int64 {
	if m == nil {
		return 0
	}
	n := int64(len(m.Raw))
	if m.Parsed != nil {
		n += m.Parsed.Config.Size
		for _, l := range m.Parsed.Layers {
			n += l.Size
		}
	}
	return n
}

func parseManifest(raw []byte, mediaType string) (*Manifest, error) {
	m := &Manifest{Raw: raw, MediaType: mediaType}
	d, _, err := v1.SHA256(bytesReader(raw))
	if err != nil {
		return nil, err
	}
	m.Digest = d
	var probe struct {
		MediaType string            `json:"mediaType"`
		Layers    []json.RawMessage `json:"layers"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("parsing manifest %s: %w", d, err)
	}
	if m.MediaType == "" {
		m.MediaType = probe.MediaType
	}
	if probe.Layers != nil {
		p, err := v1.ParseManifest(bytesReader(raw))
		if err != nil {
			return nil, fmt.Errorf("parsing manifest %s: %w", d, err)
		}
		m.Parsed = p
	}
	return m, nil
}

// manifestOf is the Manifest of an image this client just wrote.
func manifestOf(img v1.Image) (*Manifest, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	return parseManifest(raw, string(mt))
}

// rawManifest lets remote.Tag and layout re-publish a manifest as it is, byte for byte.
type rawManifest struct{ m *Manifest }

func (r rawManifest) RawManifest() ([]byte, error) { return r.m.Raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) {
	return types.MediaType(r.m.MediaType), nil
}
