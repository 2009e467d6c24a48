package registry

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// hostileManifests answers every manifest GET in one hostile shape and counts the bytes it
// managed to send.
type hostileManifests struct {
	shape   string // "announced": Content-Length 100 MiB; "endless": chunked, never ends; "large": a valid-looking manifest of size bytes
	size    int
	written atomic.Int64
}

func (h *hostileManifests) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v2/" {
		return
	}
	if !strings.Contains(r.URL.Path, "/manifests/") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	switch h.shape {
	case "announced":
		w.Header().Set("Content-Length", strconv.Itoa(100<<20))
	case "large":
		const head, tail = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"x":"`, `"}}`
		body := head + strings.Repeat("a", h.size-len(head)-len(tail)) + tail // exactly size bytes
		n, _ := w.Write([]byte(body))
		h.written.Add(int64(n))
		return
	}
	chunk := []byte(strings.Repeat(" ", 32<<10))
	for {
		n, err := w.Write(chunk)
		h.written.Add(int64(n))
		if err != nil {
			return
		}
	}
}

// TestManifestCap: a registry answering a manifest read with 100 MiB, or with a body that never
// ends, is refused at the manifest cap (4 MiB, the most distribution stores) with an error that
// says so, after reading no more than the cap; the room it took in the budget is given back.
func TestManifestCap(t *testing.T) {
	t.Parallel()
	for _, shape := range []string{"announced", "endless"} {
		t.Run(shape, func(t *testing.T) {
			t.Parallel()
			h := &hostileManifests{shape: shape}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			c := New()
			s, err := c.Open(strings.TrimPrefix(srv.URL, "http://") + "/acme/app")
			if err != nil {
				t.Fatal(err)
			}
			for _, get := range []func() (*Manifest, error){
				func() (*Manifest, error) { return s.Get(context.Background(), "latest") },
				func() (*Manifest, error) {
					return s.GetDigest(context.Background(), v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)})
				},
			} {
				m, err := get()
				if err == nil || !strings.Contains(err.Error(), "a manifest or index is at most 4 MiB") {
					t.Fatalf("Get = %v, %v; want the manifest cap", m, err)
				}
			}
			if c.Budget().Held() != 0 {
				t.Errorf("the budget holds %d bytes after the reads failed", c.Budget().Held())
			}
			// What the server could push into socket buffers before the client hung up, not 100
			// MiB or more.
			if w := h.written.Load(); w > 2*(ManifestLimit+8<<20) {
				t.Errorf("the server sent %d bytes for two reads", w)
			}
		})
	}
}

// TestManifestsInFlightWithinBudget: many components reading manifests at once, each as large
// as the cap allows, hold no more than the run's budget in memory at once, and every read
// succeeds (it waits for room rather than failing).
func TestManifestsInFlightWithinBudget(t *testing.T) {
	t.Parallel()
	h := &hostileManifests{shape: "large", size: 3 << 20}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := New(WithBudget(8 << 20))
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.Open(fmt.Sprintf("%s/acme/c%d", strings.TrimPrefix(srv.URL, "http://"), i))
			if err != nil {
				errs <- err
				return
			}
			m, err := s.Get(context.Background(), "latest")
			if err != nil || m == nil || len(m.Raw) != 3<<20 {
				errs <- fmt.Errorf("component %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	b := c.Budget()
	if b.Peak() > b.Total() || b.Peak() < 3<<20 {
		t.Errorf("peak of answers in memory %d bytes, budget %d", b.Peak(), b.Total())
	}
	if b.Held() != 0 {
		t.Errorf("the budget holds %d bytes after every read", b.Held())
	}
}

// TestAnswerCaps: each registry request gets the cap of what it reads.
func TestAnswerCaps(t *testing.T) {
	t.Parallel()
	a := &answerCaps{maxBlob: 100 << 20}
	for _, tc := range []struct {
		method, path string
		want         int64
	}{
		{"GET", "/v2/acme/app/manifests/latest", ManifestLimit},
		{"HEAD", "/v2/acme/app/manifests/sha256:ab", ManifestLimit},
		{"PUT", "/v2/acme/app/manifests/v1.0.0", ManifestLimit},
		{"GET", "/v2/acme/app/referrers/sha256:ab", ManifestLimit},
		{"GET", "/v2/acme/app/tags/list", tagPageLimit},
		{"GET", "/v2/acme/app/blobs/sha256:ab", 100<<20 + 100<<20/8 + 1<<20},
		{"PATCH", "/v2/acme/app/blobs/uploads/123", serviceAnswerLimit},
		{"GET", "/v2/acme/app/blobs/uploads/123", serviceAnswerLimit},
		{"GET", "/token", serviceAnswerLimit},
	} {
		req, _ := http.NewRequest(tc.method, "http://r"+tc.path, nil)
		if got := a.limitOf(req); got != tc.want {
			t.Errorf("%s %s: cap %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}
}
