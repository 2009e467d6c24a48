package sign_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/sign"
)

// layerAnnotation is where fleetpush's bundle manifests name their layer (a published format:
// the listing of referrers carries it, so that a reader reads the blob beside the manifest).
const layerAnnotation = "dev.fleetpush.bundle.layer"

// gatedRegistry is the in-memory registry, with or without the referrers API, that records the
// paths of the GET requests it answers and can hold the answer to a manifest until a blob is
// asked for.
type gatedRegistry struct {
	host string
	mu   sync.Mutex
	gets []string
	// hold maps a manifest digest to the blob digest whose request releases it.
	hold    map[string]string
	arrived map[string]chan struct{}
}

func newGatedRegistry(t *testing.T, api bool) *gatedRegistry {
	t.Helper()
	g := &gatedRegistry{hold: map[string]string{}, arrived: map[string]chan struct{}{}}
	next := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(api))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			digest := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
			g.mu.Lock()
			g.gets = append(g.gets, r.URL.Path)
			blob, held := g.hold[digest]
			var wait chan struct{}
			if held && strings.Contains(r.URL.Path, "/manifests/") {
				wait = g.arrival(blob)
			}
			if strings.Contains(r.URL.Path, "/blobs/") {
				ch := g.arrival(digest)
				select {
				case <-ch:
				default:
					close(ch)
				}
			}
			g.mu.Unlock()
			if wait != nil {
				select {
				case <-wait:
				case <-r.Context().Done():
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	g.host = strings.TrimPrefix(srv.URL, "http://")
	return g
}

// arrival is the channel closed once blob is asked for; g.mu is held.
func (g *gatedRegistry) arrival(blob string) chan struct{} {
	ch, ok := g.arrived[blob]
	if !ok {
		ch = make(chan struct{})
		g.arrived[blob] = ch
	}
	return ch
}

func (g *gatedRegistry) gotten(path string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.gets {
		if strings.HasSuffix(p, path) {
			return true
		}
	}
	return false
}

// listedManifest is a referrer as listed, with its manifest.
type listedManifest struct {
	desc v1.Descriptor
	m    v1.Manifest
}

// bundleManifests lists d's referrers and reads their manifests.
func bundleManifests(t *testing.T, d name.Digest) []listedManifest {
	t.Helper()
	ctx := context.Background()
	rs, err := registry.ListReferrers(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	var out []listedManifest
	for _, desc := range rs.Manifests {
		raw, _, err := registry.FetchManifest(ctx, d.Context().Digest(desc.Digest.String()), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, listedManifest{desc, m})
	}
	return out
}

// TestBundleLayerHint: fleetpush's bundle manifests name their layer in an annotation, which the
// referrers listing carries (the API's, and the fallback index fleetpush writes), and a reader
// fetches that blob beside the manifest: the manifest's answer is held here until the blob is
// asked for, which a reader that waits for the manifest first would never do.
func TestBundleLayerHint(t *testing.T) {
	t.Parallel()
	for _, api := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "fallback index"}[api], func(t *testing.T) {
			t.Parallel()
			g := newGatedRegistry(t, api)
			d := pushRandom(t, g.host, "acme/app/frontend")
			s := sharedKeySigner(t, 0, sign.FormatBundle)
			ctx := context.Background()
			if _, err := s.Sign(ctx, d); err != nil {
				t.Fatal(err)
			}
			listed := bundleManifests(t, d)
			if len(listed) == 0 {
				t.Fatal("no referrers listed after signing")
			}
			hold := map[string]string{}
			for _, l := range listed {
				desc, m := l.desc, l.m
				want := m.Layers[0].Digest.String()
				if got := m.Annotations[layerAnnotation]; got != want {
					t.Errorf("manifest %s: %s = %q, want its layer %s", desc.Digest, layerAnnotation, got, want)
				}
				if got := desc.Annotations[layerAnnotation]; got != want {
					t.Errorf("listing of %s: %s = %q, want the layer %s", desc.Digest, layerAnnotation, got, want)
				}
				hold[desc.Digest.String()] = want
			}
			g.mu.Lock()
			g.hold = hold
			g.mu.Unlock()
			// Bounded only so that a reader that reads one after the other fails instead of
			// hanging: the held manifest waits for a blob request that then never comes.
			vctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			if v, err := s.Verification(vctx, d); err != nil || v.Format != sign.FormatBundle {
				t.Fatalf("Verification() = %+v, %v; want the bundle, its blob read beside its manifest", v, err)
			}
		})
	}
}

// TestBundleLayerHintIsOnlyAHint: a listing whose annotation names another blob (one that exists,
// one that does not, or something that is no digest) costs at most a wasted read: the layer the
// manifest names is what is read and verified, as cosign and Flux read it.
func TestBundleLayerHintIsOnlyAHint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The bundle is made on one registry, then stored on another under a manifest whose
	// annotation lies.
	src := memRegistryAPI(t, true)
	d := pushRandom(t, src, "acme/app/frontend")
	s := sharedKeySigner(t, 0, sign.FormatBundle)
	if _, err := s.Sign(ctx, d); err != nil {
		t.Fatal(err)
	}
	var bundle []byte
	var layerDigest v1.Hash
	ms := bundleManifests(t, d)
	if len(ms) != 1 {
		t.Fatalf("%d referrers after signing one bundle", len(ms))
	}
	for _, l := range ms {
		m := l.m
		b, err := registry.FetchBlob(ctx, d.Context(), m.Layers[0], 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		bundle, layerDigest = b, m.Layers[0].Digest
	}
	img, err := remote.Image(d)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	for _, hint := range []string{cfg.String(), "sha256:" + strings.Repeat("0", 64), "not a digest"} {
		t.Run(hint, func(t *testing.T) {
			t.Parallel()
			g := newGatedRegistry(t, false)
			dst, err := name.NewDigest(g.host + "/acme/app/frontend@" + d.DigestStr())
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(dst.Context().Tag("tmp"), img); err != nil {
				t.Fatal(err)
			}
			descs, err := registry.PushReferrers(ctx, dst, v1.Descriptor{}, []registry.Referrer{{
				ArtifactType: sign.BundleMediaType, ConfigArtifactType: sign.BundleMediaType,
				Layers: []registry.Blob{{MediaType: sign.BundleMediaType, Data: bundle}},
				Annotations: map[string]string{
					"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1",
					layerAnnotation: hint,
				},
			}})
			if err != nil {
				t.Fatal(err)
			}
			h, herr := v1.NewHash(hint)
			if herr == nil {
				// The manifest is answered only once the hinted blob is asked for: a hint that
				// differs from the layer is cancelled as soon as the manifest is read, which
				// could otherwise come before its request is sent.
				g.mu.Lock()
				g.hold[descs[0].Digest.String()] = h.String()
				g.mu.Unlock()
			}
			vctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // fails instead of hanging
			defer cancel()
			if v, err := s.Verification(vctx, dst); err != nil || v.Format != sign.FormatBundle {
				t.Fatalf("Verification() = %+v, %v; want the bundle the manifest names", v, err)
			}
			if !g.gotten("/blobs/" + layerDigest.String()) {
				t.Errorf("the manifest's own layer %s was not read", layerDigest)
			}
			if herr == nil && !g.gotten("/blobs/"+h.String()) {
				t.Errorf("the hinted blob %s was not asked for: the test does not reach the hint", h)
			}
		})
	}
}
