package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	fluxConfigType  types.MediaType = "application/vnd.cncf.flux.config.v1+json"
	fluxContentType types.MediaType = "application/vnd.cncf.flux.content.v1.tar+gzip"
)

// fluxImage is a small artifact shaped like the ones fleetpush pushes: an OCI manifest with the
// Flux config media type and one content layer. Different content gives a different digest.
func fluxImage(t testing.TB, content string) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, fluxConfigType)
	img, err := mutate.Append(img, mutate.Addendum{Layer: static.NewLayer([]byte(content), fluxContentType)})
	if err != nil {
		t.Fatal(err)
	}
	return mutate.Annotations(img, map[string]string{
		"org.opencontainers.image.source": "https://github.com/acme/apps",
	}).(v1.Image)
}

func digestOf(t testing.TB, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func layerDigestOf(t testing.TB, img v1.Image) v1.Hash {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, err := ls[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// memRegistry serves go-containerregistry's in-memory registry on loopback, behind wrap when
// given, and returns its host:port.
func memRegistry(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// pager wraps a registry so that tag listing is paginated with page size n, whatever the client
// asks for, with a Link header to the next page as distribution does. The in-memory registry
// does not send Link headers itself, so without this remote.List would never need to follow one.
type pager struct {
	next http.Handler
	n    int

	mu      sync.Mutex
	queries []string // the query of every tags/list request, as the client sent it
}

func (p *pager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/tags/list") {
		p.next.ServeHTTP(w, r)
		return
	}
	p.mu.Lock()
	p.queries = append(p.queries, r.URL.RawQuery)
	p.mu.Unlock()

	// Ask the wrapped registry for every tag and cut the page here, with the spec's semantics
	// (tags after last, at most n).
	last := r.URL.Query().Get("last")
	all := r.Clone(r.Context())
	all.URL.RawQuery = ""
	rec := httptest.NewRecorder()
	p.next.ServeHTTP(rec, all)
	if rec.Code != http.StatusOK {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	var body struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sort.Strings(body.Tags)
	page := []string{}
	for _, tag := range body.Tags {
		if tag > last && len(page) < p.n {
			page = append(page, tag)
		}
	}
	if len(page) == p.n {
		w.Header().Set("Link", fmt.Sprintf(`<%s?last=%s&n=%d>; rel="next"`, r.URL.Path, page[len(page)-1], p.n))
	}
	body.Tags = page
	raw, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(raw)
}

func (p *pager) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.queries...)
}

// mustPush pushes img and returns its manifest.
func mustPush(t testing.TB, s Store, img v1.Image) *Manifest {
	t.Helper()
	m, err := s.Push(context.Background(), img)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	return m
}

func mustTag(t testing.TB, s Store, m *Manifest, tag string) {
	t.Helper()
	if err := s.Tag(context.Background(), m, tag); err != nil {
		t.Fatalf("Tag(%q): %v", tag, err)
	}
}

func mustGet(t testing.TB, s Store, tag string) *Manifest {
	t.Helper()
	m, err := s.Get(context.Background(), tag)
	if err != nil {
		t.Fatalf("Get(%q): %v", tag, err)
	}
	return m
}

func mustTags(t testing.TB, s Store) []string {
	t.Helper()
	tags, err := s.Tags(context.Background())
	if err != nil {
		t.Fatalf("Tags: %v", err)
	}
	return tags
}

// digestOrNil renders a manifest for comparisons: its digest, or "<nil>".
func digestOrNil(m *Manifest) string {
	if m == nil {
		return "<nil>"
	}
	return m.Digest.String()
}

// withAnnotation is img with one more manifest annotation: another manifest over the same
// config and layer, as a release of content already pushed from the main branch is.
func withAnnotation(t testing.TB, img v1.Image, key, value string) v1.Image {
	t.Helper()
	out, ok := mutate.Annotations(img, map[string]string{key: value}).(v1.Image)
	if !ok {
		t.Fatal("annotated image is not an image")
	}
	return out
}
