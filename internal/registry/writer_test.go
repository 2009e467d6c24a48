package registry

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// writerWorld serves h on loopback, pushes a subject to acme/app through a new client, and
// returns the host, a ReferrerClient that writes through that client's BlobWriter, and the
// subject's reference and descriptor.
func writerWorld(t *testing.T, h http.Handler) (string, *ReferrerClient, name.Digest, v1.Descriptor) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	c := New()
	s, err := c.Open(host + "/acme/app")
	if err != nil {
		t.Fatal(err)
	}
	m := mustPush(t, s, fluxImage(t, "subject"))
	rc, err := NewReferrerClient(c.RemoteOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	rc.WithBlobWriter(c.BlobWriter())
	desc := v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: m.Digest, Size: int64(len(m.Raw))}
	return host, rc, s.(*remoteStore).Reference(m.Digest), desc
}

// TestReferrersThroughTheClientWriter: referrers pushed with the client's BlobWriter take the
// fewest requests the registry allows (a POST and a PUT per blob, no existence check of a fresh
// or small blob, no read of the referrers API after a manifest PUT: the OCI-Subject header
// decides), on a registry with the referrers API and on one without, and read back the same as
// go-containerregistry's own writes.
func TestReferrersThroughTheClientWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, api := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers API %t", api), func(t *testing.T) {
			t.Parallel()
			l := newRequestLog()
			host, rc, subject, desc := writerWorld(t, l.wrap(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(api))))
			big := strings.Repeat("x", smallBlob+1)
			rs := []Referrer{
				{ArtifactType: "application/vnd.example+json", Layers: []Blob{{MediaType: "application/vnd.example+json", Data: []byte("fresh"), Fresh: true}}},
				{ArtifactType: "application/vnd.example+json", Layers: []Blob{{MediaType: "application/vnd.example+json", Data: []byte(big)}}},
			}
			l.take()
			withoutAPI.Delete(host) // what an earlier test learnt of this address
			pushed, err := rc.Push(ctx, subject, desc, rs)
			if err != nil {
				t.Fatal(err)
			}
			got := l.take()
			// Three blobs (the empty config, the fresh layer, the big one), one HEAD for the
			// big one only.
			want := map[string]int{"POST blob-upload": 3, "PUT blob-upload": 3, "HEAD blob": 1}
			// Beside the blobs, the registry is asked about the API (once: its answer also
			// stands for the OCI-Subject header the in-memory registry does not send) and
			// the referrers tag schema's index is read (on a registry with the API a read
			// thrown away, this once).
			want["GET manifest"] = 1
			if api {
				want["PUT manifest"] = 2 // by digest; the registry indexes them
			} else {
				// By record tag at once (the probe said the API is missing); the index:
				// written from the read beside the blobs, then the check of the records
				// with the index read again.
				want["PUT manifest"] = 2 + 1
				want["GET manifest"] = 2
				want["GET tags"] = 1
			}
			if n := got["GET other"]; n != 1 {
				t.Errorf("referrers API asked %d times, want once", n)
			}
			delete(got, "GET other")
			if api && got["GET manifest"] == 0 {
				// The index read thrown away may be cancelled before it reaches the registry:
				// the push ends, and cancels it, once the API has answered and the PUTs are done.
				got["GET manifest"] = 1
			}
			if !cmp.Equal(got, want) {
				t.Errorf("requests of the push: %v, want %v", got, want)
			}

			listed, err := rc.List(ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			if listed.API != api || len(listed.Manifests) != 2 || len(pushed) != 2 {
				t.Fatalf("List() = %+v, want the 2 referrers (API %t)", listed, api)
			}
			for i := range pushed {
				if listed.Manifests[i].Digest != pushed[0].Digest && listed.Manifests[i].Digest != pushed[1].Digest {
					t.Errorf("listed %s, which was not pushed", listed.Manifests[i].Digest)
				}
			}
			// A listing asks the API whatever pushes learnt: a verifier must not miss referrers
			// on the strength of a hint.
			if got := l.take(); got["GET other"] != 1 {
				t.Errorf("listing asked the referrers API %d times, want once", got["GET other"])
			}
			if _, err := rc.Push(ctx, subject, desc, []Referrer{{ArtifactType: "application/vnd.example+json", Layers: []Blob{{MediaType: "application/vnd.example+json", Data: []byte("third"), Fresh: true}}}}); err != nil {
				t.Fatal(err)
			}
			// A second push to a registry known to lack the API asks nothing about it; one
			// that serves the API without saying so in the header is asked again (only a
			// "no" is remembered: wrong, it costs an index the registry does not need).
			asks := 0
			if api {
				asks = 1
			}
			if got := l.take(); got["GET other"] != asks {
				t.Errorf("a second push asked the referrers API %d times, want %d", got["GET other"], asks)
			}
			// What go-containerregistry reads (Flux, cosign) agrees.
			idx, err := remote.Referrers(subject)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := idx.IndexManifest()
			if err != nil || len(theirs.Manifests) != 3 {
				t.Fatalf("go-containerregistry reads %v, %v; want 3 referrers", theirs, err)
			}
		})
	}
}

// TestBlobWriterChecksLength: a blob whose bytes do not match its descriptor is refused before
// anything is sent.
func TestBlobWriterChecksLength(t *testing.T) {
	t.Parallel()
	l := newRequestLog()
	host := memRegistry(t, l.wrap)
	c := New()
	repo, err := c.Repository(host + "/acme/app")
	if err != nil {
		t.Fatal(err)
	}
	d := v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}, Size: 3}
	if err := c.BlobWriter().WriteBlob(context.Background(), repo, d, []byte("four"), true); err == nil {
		t.Fatal("WriteBlob accepted 4 bytes for a 3-byte descriptor")
	}
	if got := l.take(); len(got) != 0 {
		t.Errorf("requests sent: %v, want none", got)
	}
}

// TestWrongOCISubjectHeader: a registry (or a proxy) that answers a referrer PUT with an
// OCI-Subject header naming another digest has not indexed the referrer: the tag schema index is
// written, so readers without the API find it.
func TestWrongOCISubjectHeader(t *testing.T) {
	t.Parallel()
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			w.Header().Set("OCI-Subject", "sha256:"+strings.Repeat("0", 64))
		}
		inner.ServeHTTP(w, r)
	})
	_, rc, subject, desc := writerWorld(t, h)
	ctx := context.Background()
	if _, err := rc.Push(ctx, subject, desc, []Referrer{{ArtifactType: "application/vnd.example+json", Layers: []Blob{{MediaType: "application/vnd.example+json", Data: []byte("sig"), Fresh: true}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Get(FallbackTag(subject)); err != nil {
		t.Errorf("no referrers tag schema index after a PUT answered with another subject: %v", err)
	}
}
