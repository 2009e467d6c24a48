package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// TestRemoteStore walks one component's life in a registry (ggcr's in-memory one on loopback,
// which is plain HTTP without --insecure).
func TestRemoteStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := memRegistry(t, nil)
	c := New()
	s, err := c.Open(host + "/acme/apps/frontend")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got, want := s.String(), host+"/acme/apps/frontend"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	// A repository that does not exist yet: no tags, nothing at a tag or digest, no error.
	one, two := fluxImage(t, "one"), fluxImage(t, "two")
	if m := mustGet(t, s, "latest"); m != nil {
		t.Errorf("Get(latest) of a new repository = %s, want nil", m.Digest)
	}
	if tags := mustTags(t, s); len(tags) != 0 {
		t.Errorf("Tags() of a new repository = %q, want none", tags)
	}
	if m, err := s.GetDigest(ctx, digestOf(t, one)); m != nil || err != nil {
		t.Errorf("GetDigest(absent) = %v, %v, want nil, nil", m, err)
	}

	// Push by digest: readable by digest, no tag made.
	m1 := mustPush(t, s, one)
	if got, want := m1.Digest, digestOf(t, one); got != want {
		t.Errorf("Push digest = %s, want %s", got, want)
	}
	if got, ok := m1.LayerDigest(); !ok || got != layerDigestOf(t, one) {
		t.Errorf("LayerDigest() = %s, %v, want %s", got, ok, layerDigestOf(t, one))
	}
	if tags := mustTags(t, s); len(tags) != 0 {
		t.Errorf("Tags() after a push by digest = %q, want none", tags)
	}
	if m := mustGet(t, s, "latest"); m != nil {
		t.Errorf("Get(latest) after a push by digest = %s, want nil", m.Digest)
	}
	got, err := s.GetDigest(ctx, m1.Digest)
	if err != nil || got == nil {
		t.Fatalf("GetDigest(pushed) = %v, %v", got, err)
	}
	if diff := cmp.Diff(m1, got); diff != "" {
		t.Errorf("GetDigest(pushed) mismatch (-push +get):\n%s", diff)
	}
	if got, want := got.Annotation("org.opencontainers.image.source"), "https://github.com/acme/apps"; got != want {
		t.Errorf("Annotation(source) = %q, want %q", got, want)
	}

	// Tag uploads no blob: only the manifest, under its new name.
	before := c.Stats().BlobUploads.Load()
	mustTag(t, s, m1, "main-0123abcd")
	mustTag(t, s, m1, "latest")
	if n := c.Stats().BlobUploads.Load() - before; n != 0 {
		t.Errorf("Tag uploaded %d blobs, want 0", n)
	}
	if diff := cmp.Diff([]string{"latest", "main-0123abcd"}, mustTags(t, s)); diff != "" {
		t.Errorf("Tags() mismatch (-want +got):\n%s", diff)
	}
	if got := mustGet(t, s, "latest"); got == nil || string(got.Raw) != string(m1.Raw) || got.Digest != m1.Digest {
		t.Errorf("Get(latest) = %s, want %s byte for byte", digestOrNil(got), m1.Digest)
	}

	// Re-tag: latest moves, the other tag stays.
	m2 := mustPush(t, s, two)
	mustTag(t, s, m2, "latest")
	wantAt := map[string]string{"latest": m2.Digest.String(), "main-0123abcd": m1.Digest.String(), "v1.0.0": "<nil>"}
	gotAt := map[string]string{}
	for tag := range wantAt {
		gotAt[tag] = digestOrNil(mustGet(t, s, tag))
	}
	if diff := cmp.Diff(wantAt, gotAt); diff != "" {
		t.Errorf("tags after re-tag mismatch (-want +got):\n%s", diff)
	}
}

// TestRemotePushCounts: a cold push uploads the config and the layer; a warm one (same
// content) uploads no blob. The benchmark's "zero blob uploads" depends on it.
func TestRemotePushCounts(t *testing.T) {
	t.Parallel()
	host := memRegistry(t, nil)
	c := New()
	s, err := c.Open(host + "/acme/apps/backend")
	if err != nil {
		t.Fatal(err)
	}
	img := fluxImage(t, strings.Repeat("payload ", 100))
	m := mustPush(t, s, img)
	st := c.Stats()
	if got := st.BlobUploads.Load(); got != 2 {
		t.Errorf("cold push: %d blob uploads, want 2 (config and layer)", got)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layer, _ := m.LayerDigest()
	wantBytes := int64(len(m.Raw)) + int64(len(cfg)) + m.Parsed.Layers[0].Size
	if got := st.BytesUploaded.Load(); got != wantBytes {
		t.Errorf("cold push: %d bytes uploaded, want %d (manifest + config + layer %s)", got, wantBytes, layer)
	}
	if st.Requests.Load() == 0 {
		t.Errorf("cold push: no request counted")
	}

	// Warm, from a new client as a second run has: the registry is asked, nothing is uploaded.
	c2 := New()
	s2, err := c2.Open(host + "/acme/apps/backend")
	if err != nil {
		t.Fatal(err)
	}
	mustPush(t, s2, img)
	if got := c2.Stats().BlobUploads.Load(); got != 0 {
		t.Errorf("warm push: %d blob uploads, want 0", got)
	}
	if got := c2.Stats().BytesUploaded.Load(); got > int64(len(m.Raw)) {
		t.Errorf("warm push: %d bytes uploaded, want at most the manifest (%d)", got, len(m.Raw))
	}
	if c2.Stats().Requests.Load() == 0 {
		t.Errorf("warm push: no request counted")
	}
}

// TestRemoteTagsPagination: a registry that pages its tag list (ECR caps n at 1000, distribution
// pages too) must still give every tag, so latest-stable is computed over all releases.
func TestRemoteTagsPagination(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tags      int
		pageSize  int
		wantPages int
	}{
		{name: "several pages, last one partial", tags: 7, pageSize: 3, wantPages: 3},
		{name: "exact multiple: a last, empty page", tags: 6, pageSize: 3, wantPages: 3},
		{name: "one tag per page", tags: 4, pageSize: 1, wantPages: 5},
		{name: "one page", tags: 2, pageSize: 5, wantPages: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &pager{n: tt.pageSize}
			host := memRegistry(t, func(h http.Handler) http.Handler { p.next = h; return p })
			s, err := New().Open(host + "/acme/apps/frontend")
			if err != nil {
				t.Fatal(err)
			}
			m := mustPush(t, s, fluxImage(t, "paged"))
			var want []string
			for i := range tt.tags {
				tag := fmt.Sprintf("v1.0.%d", i)
				want = append(want, tag)
				mustTag(t, s, m, tag)
			}
			if diff := cmp.Diff(want, mustTags(t, s)); diff != "" {
				t.Errorf("Tags() mismatch (-want +got):\n%s", diff)
			}
			queries := p.seen()
			if got := len(queries); got != tt.wantPages {
				t.Errorf("Tags() made %d list requests %q, want %d", got, queries, tt.wantPages)
			}
			if len(queries) > 0 && queries[0] != fmt.Sprintf("n=%d", defaultPageSize) {
				t.Errorf("first list request asked %q, want n=%d", queries[0], defaultPageSize)
			}
			for _, q := range queries[1:] {
				if !strings.Contains(q, "last=") {
					t.Errorf("follow-up list request %q does not come from the Link header", q)
				}
			}
		})
	}
}

// TestRemoteErrors: registry refusals come back wrapped, naming the reference and saying what
// to do; a missing manifest is not an error.
func TestRemoteErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		op       func(s Store) error
		wantText []string
	}{
		{
			name:   "401 on read",
			status: http.StatusUnauthorized,
			op: func(s Store) error {
				_, err := s.Get(context.Background(), "latest")
				return err
			},
			wantText: []string{`reading "`, `:latest"`, "check registry-username/registry-password", "`permissions: packages: write`"},
		},
		{
			name:   "403 on push",
			status: http.StatusForbidden,
			op: func(s Store) error {
				_, err := s.Push(context.Background(), fluxImage(t, "x"))
				return err
			},
			wantText: []string{`pushing "`, "@sha256:", "no write access", "`permissions: packages: write`"},
		},
		{
			name:   "403 on tag",
			status: http.StatusForbidden,
			op: func(s Store) error {
				m := &Manifest{Raw: []byte(`{}`), MediaType: "application/vnd.oci.image.manifest.v1+json"}
				return s.Tag(context.Background(), m, "latest")
			},
			wantText: []string{`tagging "`, `:latest"`, "`permissions: packages: write`"},
		},
		{
			name:   "401 on list",
			status: http.StatusUnauthorized,
			op: func(s Store) error {
				_, err := s.Tags(context.Background())
				return err
			},
			wantText: []string{`listing tags of "`, "`permissions: packages: write`"},
		},
		{
			name:   "400 has no hint",
			status: http.StatusBadRequest,
			op: func(s Store) error {
				_, err := s.Tags(context.Background())
				return err
			},
			wantText: []string{`listing tags of "`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Refuse everything but the ping, so the error comes from the operation itself.
			host := memRegistry(t, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/v2/" {
						h.ServeHTTP(w, r)
						return
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.status)
					fmt.Fprint(w, `{"errors":[{"code":"DENIED","message":"no"}]}`)
				})
			})
			c := New(WithTransport(http.DefaultTransport))
			s, err := c.Open(host + "/acme/apps/frontend")
			if err != nil {
				t.Fatal(err)
			}
			err = tt.op(s)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tt.wantText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if tt.status != http.StatusUnauthorized && tt.status != http.StatusForbidden && strings.Contains(err.Error(), "packages: write") {
				t.Errorf("error %q has the permissions hint on a %d", err, tt.status)
			}
			var te *transport.Error
			if !errors.As(err, &te) || te.StatusCode != tt.status {
				t.Errorf("error %q does not wrap the registry's %d", err, tt.status)
			}
		})
	}
}

// TestRemoteReusesHandshake: one Client pings a registry once, whatever the number of calls and
// repositories, so a run of many components stays cheap.
func TestRemoteReusesHandshake(t *testing.T) {
	t.Parallel()
	var pings atomic.Int64
	host := memRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/" {
				pings.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	c := New()
	for _, name := range []string{"frontend", "backend"} {
		s, err := c.Open(host + "/acme/apps/" + name)
		if err != nil {
			t.Fatal(err)
		}
		m := mustPush(t, s, fluxImage(t, name))
		for _, tag := range []string{"a", "b", "c"} {
			mustTag(t, s, m, tag)
			mustGet(t, s, tag)
		}
		mustTags(t, s)
	}
	if got := pings.Load(); got != 1 {
		t.Errorf("%d pings for one registry, want 1", got)
	}
}
