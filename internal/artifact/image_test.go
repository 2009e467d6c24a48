package artifact

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func testMeta() Meta {
	return Meta{
		Source:      "https://github.com/acme/d2-apps",
		Revision:    "main@sha1:0123456789abcdef0123456789abcdef01234567",
		Created:     time.Date(2026, 3, 1, 14, 5, 6, 0, time.FixedZone("CET", 3600)),
		Annotations: map[string]string{"org.opencontainers.image.description": "podinfo"},
	}
}

func TestImage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, component(), nil)
	l := mustBuild(t, dir)
	img, err := Image(l, testMeta())
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || string(m.MediaType) != ManifestMediaType {
		t.Errorf("manifest media type %q", m.MediaType)
	}
	if got := string(m.Config.MediaType); got != ConfigMediaType {
		t.Errorf("config media type %q, want %q", got, ConfigMediaType)
	}
	if len(m.Layers) != 1 {
		t.Fatalf("%d layers, want 1", len(m.Layers))
	}
	want := v1.Descriptor{MediaType: types.MediaType(ContentMediaType), Size: l.Size, Digest: l.Digest}
	if diff := cmp.Diff(want, m.Layers[0]); diff != "" {
		t.Errorf("layer descriptor (-want +got):\n%s", diff)
	}
	wantAnn := map[string]string{
		"org.opencontainers.image.created":     "2026-03-01T13:05:06Z",
		"org.opencontainers.image.source":      "https://github.com/acme/d2-apps",
		"org.opencontainers.image.revision":    "main@sha1:0123456789abcdef0123456789abcdef01234567",
		"org.opencontainers.image.description": "podinfo",
	}
	if diff := cmp.Diff(wantAnn, m.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if got, err := LayerDigest(m); err != nil || got != l.Digest {
		t.Errorf("LayerDigest = %s, %v; want %s", got, err, l.Digest)
	}
	if same, err := l.SameContent(m); err != nil || !same {
		t.Errorf("SameContent = %v, %v; want true", same, err)
	}

	// The layer read back through the image is the layer.
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	diffID, _, err := v1.SHA256(rc)
	if err != nil {
		t.Fatal(err)
	}
	if diffID != l.DiffID {
		t.Errorf("uncompressed layer hash %s, want DiffID %s", diffID, l.DiffID)
	}

	// The config blob is what fluxcd/pkg's push leaves there, and is valid JSON.
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(raw) {
		t.Errorf("config blob is not JSON: %q", raw)
	}
	t.Logf("config blob: %s", raw)
}

func TestImageDigestIsStable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, component(), nil)
	digest := func(l *Layer, m Meta) v1.Hash {
		t.Helper()
		img, err := Image(l, m)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	first := digest(mustBuild(t, dir), testMeta())
	if again := digest(mustBuild(t, dir), testMeta()); again != first {
		t.Errorf("same inputs: %s then %s", first, again)
	}
	sameInstant := testMeta()
	sameInstant.Created = sameInstant.Created.In(time.FixedZone("PST", -8*3600))
	if got := digest(mustBuild(t, dir), sameInstant); got != first {
		t.Errorf("same instant in another zone: %s, want %s", got, first)
	}
	later := testMeta()
	later.Created = later.Created.Add(time.Second)
	if got := digest(mustBuild(t, dir), later); got == first {
		t.Errorf("another commit time gave the same digest %s", got)
	}
}

func TestMetaAnnotations(t *testing.T) {
	t.Parallel()
	got := Meta{}.ToAnnotations()
	want := map[string]string{
		"org.opencontainers.image.created":  "1970-01-01T00:00:00Z",
		"org.opencontainers.image.source":   "",
		"org.opencontainers.image.revision": "",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("zero Meta (-want +got):\n%s", diff)
	}
	// User annotations win, as with Flux's --annotations.
	m := Meta{Revision: "main@sha1:x", Annotations: map[string]string{RevisionAnnotation: "override"}}
	if got := m.ToAnnotations()[RevisionAnnotation]; got != "override" {
		t.Errorf("revision = %q, want the user's override", got)
	}
}

func TestLayerDigestRejectsOtherManifests(t *testing.T) {
	t.Parallel()
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	tests := []struct {
		name string
		m    *v1.Manifest
	}{
		{"nil", nil},
		{"no layers", &v1.Manifest{}},
		{"two layers", &v1.Manifest{Layers: []v1.Descriptor{{MediaType: ContentMediaType, Digest: d}, {MediaType: ContentMediaType, Digest: d}}}},
		{"container image", &v1.Manifest{Layers: []v1.Descriptor{{MediaType: types.OCILayer, Digest: d}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := LayerDigest(tt.m); err == nil {
				t.Error("LayerDigest succeeded, want an error")
			}
		})
	}
}
