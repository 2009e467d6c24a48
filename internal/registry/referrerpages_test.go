package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/registry"
)

// pagedReferrers serves the in-memory registry with the referrers API, splitting every
// referrers list into pages of one entry linked by Link headers, as the distribution spec
// allows; shape makes the links hostile: "loop" links page 1 forever, "elsewhere" links
// another host.
func pagedReferrers(t *testing.T, shape string) string {
	t.Helper()
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(true))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/referrers/") {
			inner.ServeHTTP(w, r)
			return
		}
		all := r.Clone(r.Context())
		all.URL.RawQuery = ""
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, all)
		var im v1.IndexManifest
		if err := json.Unmarshal(rec.Body.Bytes(), &im); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		// The in-memory registry lists in map order: a stable order, as a paging registry keeps.
		sort.Slice(im.Manifests, func(i, j int) bool { return im.Manifests[i].Digest.String() < im.Manifests[j].Digest.String() })
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if page < len(im.Manifests)-1 {
			next := fmt.Sprintf("%s?page=%d", r.URL.Path, page+1)
			switch shape {
			case "loop":
				next = r.URL.Path + "?page=0"
			case "elsewhere":
				next = "http://attacker.example" + next
			}
			w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next))
		}
		if page < len(im.Manifests) {
			im.Manifests = im.Manifests[page : page+1]
		} else {
			im.Manifests = nil
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
		_ = json.NewEncoder(w).Encode(im)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestReferrerPages: a registry that pages its referrers list has every page read (a verifier
// must not miss a signature on page two, which go-containerregistry alone does); a page loop or
// a link to another host ends the listing with an error instead.
func TestReferrerPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct{ shape, wantErr string }{
		{"pages", ""},
		{"loop", "repeats a page it sent before"},
		{"elsewhere", "not on the registry"},
	} {
		t.Run(tc.shape, func(t *testing.T) {
			t.Parallel()
			subject := pushSubject(t, pagedReferrers(t, tc.shape)+"/acme/app")
			c := registry.New()
			rc, err := registry.NewReferrerClient(c.RemoteOptions()...)
			if err != nil {
				t.Fatal(err)
			}
			rc.WithBlobWriter(c.BlobWriter())
			descs, err := rc.Push(ctx, subject, v1.Descriptor{}, []registry.Referrer{referrer("one"), referrer("two"), referrer("three")})
			if err != nil {
				t.Fatal(err)
			}
			got, err := rc.List(ctx, subject)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "the referrers of") {
					t.Fatalf("List = %v, want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g, w := strings.Join(sorted(digests(got.Manifests)), ","), strings.Join(sorted(digests(descs)), ","); g != w {
				t.Errorf("listed %s, pushed %s", g, w)
			}
		})
	}
}
