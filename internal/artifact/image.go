package artifact

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"maps"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Flux media types (fluxcd/pkg oci) and the OpenContainers annotation keys
// Flux reads into OCIRepository.status.artifact.metadata.
const (
	ManifestMediaType = string(types.OCIManifestSchema1)
	ConfigMediaType   = "application/vnd.cncf.flux.config.v1+json"
	ContentMediaType  = "application/vnd.cncf.flux.content.v1.tar+gzip"

	SourceAnnotation   = "org.opencontainers.image.source"
	RevisionAnnotation = "org.opencontainers.image.revision"
	CreatedAnnotation  = "org.opencontainers.image.created"
)

// Meta is what the manifest says about where the artifact comes from.
type Meta struct {
	Source   string // https URL of the repository
	Revision string // "<branch|tag>@sha1:<40 hex>"
	// Created is the commit time. It is written in UTC, RFC 3339; the zero
	// time is written as the Unix epoch, as "flux push artifact
	// --reproducible" does. Never pass the wall clock: a re-run of the same
	// commit must give the same manifest digest.
	Created     time.Time
	Annotations map[string]string // extra manifest annotations
}

// ToAnnotations returns the manifest annotations for m, built the way Flux's
// Metadata.ToAnnotations builds them: the three OpenContainers keys, always
// present, then the user annotations, which may override them.
func (m Meta) ToAnnotations() map[string]string {
	created := m.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	a := map[string]string{
		CreatedAnnotation:  created.UTC().Format(time.RFC3339),
		SourceAnnotation:   m.Source,
		RevisionAnnotation: m.Revision,
	}
	maps.Copy(a, m.Annotations)
	return a
}

// Image wraps the layer in an OCI image the way fluxcd/pkg's oci push does:
// the empty image with the OCI manifest media type, the Flux config media
// type, the annotations from m and the layer appended with ContentMediaType.
// The config blob is the one go-containerregistry keeps for such artifacts.
func Image(l *Layer, m Meta) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, ConfigMediaType)
	annotated, ok := mutate.Annotations(img, m.ToAnnotations()).(v1.Image)
	if !ok {
		return nil, fmt.Errorf("annotating the artifact image: unexpected type")
	}
	img, err := mutate.Append(annotated, mutate.Addendum{Layer: contentLayer{l}})
	if err != nil {
		return nil, fmt.Errorf("appending the layer %s: %w", l.Digest, err)
	}
	return img, nil
}

// LayerDigest returns the digest of the Flux content layer of a manifest read
// from a registry, to compare with Layer.Digest: equal digests mean equal
// content. A manifest that is not a single-layer Flux artifact is an error.
func LayerDigest(m *v1.Manifest) (v1.Hash, error) {
	if m == nil {
		return v1.Hash{}, fmt.Errorf("reading the layer digest: no manifest")
	}
	if len(m.Layers) != 1 {
		return v1.Hash{}, fmt.Errorf("reading the layer digest: manifest has %d layers, a Flux artifact has 1", len(m.Layers))
	}
	if mt := string(m.Layers[0].MediaType); mt != ContentMediaType {
		return v1.Hash{}, fmt.Errorf("reading the layer digest: layer media type %q, a Flux artifact has %q", mt, ContentMediaType)
	}
	return m.Layers[0].Digest, nil
}

// SameContent reports whether the manifest m (read from a registry) carries
// exactly this layer.
func (l *Layer) SameContent(m *v1.Manifest) (bool, error) {
	d, err := LayerDigest(m)
	if err != nil {
		return false, err
	}
	return d == l.Digest, nil
}

// contentLayer is the layer as a go-containerregistry v1.Layer; digests are
// the ones Build computed, so nothing is hashed or compressed again.
type contentLayer struct{ l *Layer }

func (c contentLayer) Digest() (v1.Hash, error) { return c.l.Digest, nil }
func (c contentLayer) DiffID() (v1.Hash, error) { return c.l.DiffID, nil }
func (c contentLayer) Size() (int64, error)     { return c.l.Size, nil }
func (c contentLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(ContentMediaType), nil
}
func (c contentLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(c.l.Compressed)), nil
}
func (c contentLayer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(c.l.Compressed))
}
