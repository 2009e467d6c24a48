package tagger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fleetpush/fleetpush/internal/registry"
)

// Records are fleetpush's own bookkeeping in a repository: release claims,
// the tombstone a withdrawn claim points at, and promotion records. Each is a
// manifest with no content, as OCI 1.1 describes an artifact without layers:
// the empty descriptor ("{}") as config and as its only layer, and the facts
// in annotations. A record is never one of the artifact's manifests, so
// moving a record's tag never touches an artifact's tags.
const (
	// RecordArtifactType is the artifactType of every record manifest.
	RecordArtifactType = "application/vnd.fleetpush.record.v1"

	annoKind = "com.github.fleetpush.record" // claim, withdrawn, promotion

	annoVersion = "com.github.fleetpush.version"
	annoDigest  = "com.github.fleetpush.digest"
	annoNonce   = "com.github.fleetpush.nonce"
	annoAt      = "com.github.fleetpush.at"
	annoChannel = "com.github.fleetpush.channel"
	annoOver    = "com.github.fleetpush.over"
	annoHeld    = "com.github.fleetpush.held"

	kindClaim     = "claim"
	kindWithdrawn = "withdrawn"
	kindPromotion = "promotion"
)

// emptyJSON is the OCI empty descriptor's content.
var emptyJSON = []byte("{}")

var emptyDesc = func() v1.Descriptor {
	d, n, err := v1.SHA256(bytes.NewReader(emptyJSON))
	if err != nil {
		panic(err)
	}
	return v1.Descriptor{MediaType: types.MediaType("application/vnd.oci.empty.v1+json"), Digest: d, Size: n}
}()

// recordImage is a record as a v1.Image, for registry.Store.Push.
type recordImage struct{ raw []byte }

func (r recordImage) RawConfigFile() ([]byte, error)      { return emptyJSON, nil }
func (r recordImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (r recordImage) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r recordImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h != emptyDesc.Digest {
		return nil, fmt.Errorf("record: no blob %s", h)
	}
	return emptyBlob{}, nil
}

type emptyBlob struct{}

func (emptyBlob) Digest() (v1.Hash, error) { return emptyDesc.Digest, nil }
func (emptyBlob) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(emptyJSON)), nil
}
func (emptyBlob) Size() (int64, error)                { return emptyDesc.Size, nil }
func (emptyBlob) MediaType() (types.MediaType, error) { return emptyDesc.MediaType, nil }

// recordManifest returns the image of a record with these annotations.
func recordManifest(annotations map[string]string) (v1.Image, error) {
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  RecordArtifactType,
		Config:        emptyDesc,
		Layers:        []v1.Descriptor{emptyDesc},
		Annotations:   annotations,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(recordImage{raw: raw})
}

// pushRecord pushes a record by digest and returns it, ready to be tagged.
func (t *Tagger) pushRecord(ctx context.Context, annotations map[string]string) (*registry.Manifest, error) {
	img, err := recordManifest(annotations)
	if err != nil {
		return nil, err
	}
	return t.store.Push(ctx, img)
}

// annotations returns a manifest's annotations, also of one the store could
// not parse as an image manifest.
func annotations(m *registry.Manifest) map[string]string {
	if m == nil {
		return nil
	}
	if m.Parsed != nil {
		return m.Parsed.Annotations
	}
	var probe struct {
		Annotations map[string]string `json:"annotations"`
	}
	if json.Unmarshal(m.Raw, &probe) != nil {
		return nil
	}
	return probe.Annotations
}

// timeFormat is how records write times: UTC, to the nanosecond, so that the
// order of two claims of one second is kept.
const timeFormat = time.RFC3339Nano

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(timeFormat, s)
	return t, err == nil
}

// splitList reads a comma-separated annotation value; "" is no element.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
