package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

const bundleType = "application/vnd.example.signature.v1+json"

// memHost serves go-containerregistry's in-memory registry, with or without the referrers API.
// slowIndex delays the answers to reads of referrers tags, which widens the window in which
// concurrent writers read an index that another is about to replace.
func memHost(t testing.TB, referrersAPI, slowIndex bool) string {
	t.Helper()
	h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(referrersAPI))
	if slowIndex {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/sha256-") {
				time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
			}
			inner.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func pushSubject(t testing.TB, repo string) name.Digest {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewDigest(repo+"@"+d.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

func referrer(content string) registry.Referrer {
	return registry.Referrer{
		ArtifactType: bundleType,
		// New content is uploaded without the existence check; "one" takes the usual path.
		Layers:      []registry.Blob{{MediaType: bundleType, Data: []byte(content), Fresh: content != "one"}},
		Annotations: map[string]string{"example.kind": "signature", "example.content": content},
	}
}

// fallbackIndex reads the referrers tag of subject the way a reader without this package does.
func fallbackIndex(t testing.TB, subject name.Digest) (*v1.IndexManifest, bool) {
	t.Helper()
	d, err := remote.Get(registry.FallbackTag(subject))
	if registry.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(d.Manifest, &im); err != nil {
		t.Fatal(err)
	}
	return &im, true
}

// checkWellFormed fails unless im is an index whose every entry carries what the referrers API
// would list: media type, digest, size, artifact type and the manifest's annotations.
func checkWellFormed(t testing.TB, subject name.Digest, im *v1.IndexManifest) {
	t.Helper()
	if im.SchemaVersion != 2 || im.MediaType != types.OCIImageIndex {
		t.Errorf("index schema %d, media type %q", im.SchemaVersion, im.MediaType)
	}
	for _, d := range im.Manifests {
		raw, _, err := registry.FetchManifest(context.Background(), subject.Context().Digest(d.Digest.String()), 1<<20)
		if err != nil {
			t.Errorf("entry %s: %v", d.Digest, err)
			continue
		}
		var m struct {
			ArtifactType string            `json:"artifactType"`
			Annotations  map[string]string `json:"annotations"`
			Subject      *v1.Descriptor    `json:"subject"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if d.MediaType != types.OCIManifestSchema1 || d.Size != int64(len(raw)) || d.ArtifactType != m.ArtifactType || !cmp.Equal(d.Annotations, m.Annotations) {
			t.Errorf("entry %+v does not describe its manifest %s", d, raw)
		}
		if m.Subject == nil || m.Subject.Digest.String() != subject.DigestStr() {
			t.Errorf("entry %s: subject %v, want %s", d.Digest, m.Subject, subject.DigestStr())
		}
	}
}

func TestPushReferrers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, api := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers API %t", api), func(t *testing.T) {
			t.Parallel()
			subject := pushSubject(t, memHost(t, api, false)+"/acme/app")
			descs, err := registry.PushReferrers(ctx, subject, v1.Descriptor{}, []registry.Referrer{referrer("one"), referrer("two")})
			if err != nil {
				t.Fatal(err)
			}
			got, err := registry.ListReferrers(ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			if got.API != api {
				t.Errorf("ListReferrers().API = %t, want %t", got.API, api)
			}
			if diff := cmp.Diff(digests(descs), digests(got.Manifests)); diff != "" {
				t.Errorf("listed referrers (-pushed +listed):\n%s", diff)
			}
			for _, d := range got.Manifests {
				// go-containerregistry's in-memory registry lists the config's media type as
				// the artifact type, whatever the manifest says; real registries and the
				// fallback index list the manifest's.
				if (!api && d.ArtifactType != bundleType) || d.Annotations["example.kind"] != "signature" {
					t.Errorf("listed %+v, want the artifact type and annotations", d)
				}
			}
			im, ok := fallbackIndex(t, subject)
			if ok == api {
				t.Errorf("referrers tag present = %t with the referrers API %t: the tag is only for registries without the API", ok, api)
			}
			if ok {
				checkWellFormed(t, subject, im)
				// A reader such as cosign or Flux goes through go-containerregistry's own
				// fallback.
				idx, err := remote.Referrers(subject)
				if err != nil {
					t.Fatal(err)
				}
				theirs, err := idx.IndexManifest()
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(digests(descs), digests(theirs.Manifests)); diff != "" {
					t.Errorf("go-containerregistry reads (-pushed +read):\n%s", diff)
				}
			}

			// Pushing the same referrers again changes nothing.
			if _, err := registry.PushReferrers(ctx, subject, v1.Descriptor{}, []registry.Referrer{referrer("one"), referrer("two")}); err != nil {
				t.Fatal(err)
			}
			again, err := registry.ListReferrers(ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Manifests) != 2 {
				t.Errorf("after a repeated push: %d referrers, want 2", len(again.Manifests))
			}
		})
	}
}

func TestListReferrersWithoutAny(t *testing.T) {
	t.Parallel()
	for _, api := range []bool{true, false} {
		subject := pushSubject(t, memHost(t, api, false)+"/acme/app")
		got, err := registry.ListReferrers(context.Background(), subject)
		if err != nil || len(got.Manifests) != 0 || got.API != api {
			t.Errorf("API %t: ListReferrers() = %+v, %v; want none", api, got, err)
		}
	}
}

// TestFallbackIndexRepairsAndRefuses: an index written by another tool whose entries lack the
// artifact type and annotations (cosign#4641) is repaired when this package adds to it; a tag
// that holds something else than an index is not overwritten.
func TestFallbackIndexRepairsAndRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := memHost(t, false, false)

	subject := pushSubject(t, host+"/acme/app")
	theirs, err := registry.PushReferrers(ctx, subject, v1.Descriptor{}, []registry.Referrer{referrer("theirs")})
	if err != nil {
		t.Fatal(err)
	}
	// Strip the entry down to what an old go-containerregistry wrote.
	bare := &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{{
		MediaType: types.OCIManifestSchema1, Digest: theirs[0].Digest, Size: theirs[0].Size,
	}}}
	if err := remote.Put(registry.FallbackTag(subject), indexTaggable{bare}); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.PushReferrers(ctx, subject, v1.Descriptor{}, []registry.Referrer{referrer("ours")}); err != nil {
		t.Fatal(err)
	}
	im, _ := fallbackIndex(t, subject)
	if len(im.Manifests) != 2 {
		t.Fatalf("index lists %d referrers, want 2", len(im.Manifests))
	}
	checkWellFormed(t, subject, im)

	other := pushSubject(t, host+"/acme/app")
	img, err := random.Image(16, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(registry.FallbackTag(other), img); err != nil {
		t.Fatal(err)
	}
	_, err = registry.PushReferrers(ctx, other, v1.Descriptor{}, []registry.Referrer{referrer("x")})
	if err == nil || !strings.Contains(err.Error(), "something other than an OCI image index") {
		t.Errorf("PushReferrers over an image at the referrers tag = %v, want a refusal", err)
	}
	d, err := remote.Head(registry.FallbackTag(other))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := img.Digest(); d.Digest != want {
		t.Errorf("the image at the referrers tag was replaced")
	}
}

// TestConcurrentReferrerWriters: runs that attach referrers to the same digest at the same time
// lose none of them, on a registry with the referrers API, on the in-memory one without it (with
// its index reads slowed down to widen the race) and on a real distribution registry.
func TestConcurrentReferrerWriters(t *testing.T) {
	t.Parallel()
	const (
		iterations = 20
		writers    = 3
	)
	hosts := map[string]func(t *testing.T) string{
		"in-memory with referrers API":    func(t *testing.T) string { return memHost(t, true, false) },
		"in-memory without referrers API": func(t *testing.T) string { return memHost(t, false, true) },
		"distribution":                    func(t *testing.T) string { return testenv.Registry(t) },
	}
	for name, host := range hosts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			h := host(t)
			for i := range iterations {
				subject := pushSubject(t, fmt.Sprintf("%s/acme/app%d", h, i))
				var wg sync.WaitGroup
				pushed := make([][]v1.Descriptor, writers)
				errs := make([]error, writers)
				for w := range writers {
					wg.Go(func() {
						// Each run attaches two referrers, as a signer with bundle and
						// provenance does.
						pushed[w], errs[w] = registry.PushReferrers(ctx, subject, v1.Descriptor{}, []registry.Referrer{
							referrer(fmt.Sprintf("sig-%d-%d", i, w)), referrer(fmt.Sprintf("prov-%d-%d", i, w)),
						})
					})
				}
				wg.Wait()
				var want []string
				for w := range writers {
					if errs[w] != nil {
						t.Fatalf("iteration %d writer %d: %v", i, w, errs[w])
					}
					want = append(want, digests(pushed[w])...)
				}
				got, err := registry.ListReferrers(ctx, subject)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(sorted(want), digests(got.Manifests)); diff != "" {
					t.Fatalf("iteration %d: referrers (-pushed +listed):\n%s", i, diff)
				}
				if im, ok := fallbackIndex(t, subject); ok {
					checkWellFormed(t, subject, im)
				}
			}
		})
	}
}

func digests(ds []v1.Descriptor) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Digest.String())
	}
	return sorted(out)
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

type indexTaggable struct{ im *v1.IndexManifest }

func (i indexTaggable) RawManifest() ([]byte, error)        { return json.Marshal(i.im) }
func (i indexTaggable) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }
