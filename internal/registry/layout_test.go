package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fleetpush/fleetpush/internal/inputfile"
)

// TestLayoutStore walks one component's life in an OCI layout folder: the embedded default
// target that oras and crane must be able to read.
func TestLayoutStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "dist", "frontend")
	s, err := New().Open("oci-layout:" + dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got, want := s.String(), "oci-layout:"+filepath.ToSlash(dir); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	// A missing layout reads as empty and is not created by reading (a dry run writes nothing).
	if tags := mustTags(t, s); len(tags) != 0 {
		t.Errorf("Tags() of a new layout = %q, want none", tags)
	}
	if m := mustGet(t, s, "latest"); m != nil {
		t.Errorf("Get(latest) of a new layout = %s, want nil", m.Digest)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("reading a missing layout created %s (stat: %v)", dir, err)
	}
	one, two := fluxImage(t, "one"), fluxImage(t, "two")
	if m, err := s.GetDigest(ctx, digestOf(t, one)); m != nil || err != nil {
		t.Errorf("GetDigest(absent) = %v, %v, want nil, nil", m, err)
	}

	// Push by digest: the manifest is readable by digest, and no tag appears.
	m1 := mustPush(t, s, one)
	if got, want := m1.Digest, digestOf(t, one); got != want {
		t.Errorf("Push digest = %s, want %s", got, want)
	}
	if got, want := m1.MediaType, string(types.OCIManifestSchema1); got != want {
		t.Errorf("Push media type = %q, want %q", got, want)
	}
	if got, ok := m1.LayerDigest(); !ok || got != layerDigestOf(t, one) {
		t.Errorf("LayerDigest() = %s, %v, want %s", got, ok, layerDigestOf(t, one))
	}
	if tags := mustTags(t, s); len(tags) != 0 {
		t.Errorf("Tags() after a push by digest = %q, want none", tags)
	}
	got, err := s.GetDigest(ctx, m1.Digest)
	if err != nil || got == nil {
		t.Fatalf("GetDigest(pushed) = %v, %v", got, err)
	}
	if diff := cmp.Diff(m1, got); diff != "" {
		t.Errorf("GetDigest(pushed) mismatch (-push +get):\n%s", diff)
	}

	// Tag twice, then read by tag.
	mustTag(t, s, m1, "main-0123abcd")
	mustTag(t, s, m1, "latest")
	if diff := cmp.Diff([]string{"main-0123abcd", "latest"}, mustTags(t, s)); diff != "" {
		t.Errorf("Tags() mismatch (-want +got):\n%s", diff)
	}
	if got := mustGet(t, s, "latest"); got == nil || got.Digest != m1.Digest || string(got.Raw) != string(m1.Raw) {
		t.Errorf("Get(latest) = %s, want %s byte for byte", digestOrNil(got), m1.Digest)
	}

	// Re-tag: latest moves to the second artifact; the other tags stay where they were.
	m2 := mustPush(t, s, two)
	mustTag(t, s, m2, "main-4567cdef")
	mustTag(t, s, m2, "latest")
	wantAt := map[string]string{
		"main-0123abcd": m1.Digest.String(),
		"main-4567cdef": m2.Digest.String(),
		"latest":        m2.Digest.String(),
		"v9.9.9":        "<nil>",
	}
	gotAt := map[string]string{}
	for tag := range wantAt {
		gotAt[tag] = digestOrNil(mustGet(t, s, tag))
	}
	if diff := cmp.Diff(wantAt, gotAt); diff != "" {
		t.Errorf("tags after re-tag mismatch (-want +got):\n%s", diff)
	}
	tags := mustTags(t, s)
	sort.Strings(tags)
	if diff := cmp.Diff([]string{"latest", "main-0123abcd", "main-4567cdef"}, tags); diff != "" {
		t.Errorf("Tags() after re-tag mismatch (-want +got):\n%s", diff)
	}
	// Tagging the same digest again with the same tag changes nothing.
	mustTag(t, s, m2, "latest")
	if got := len(mustTags(t, s)); got != 3 {
		t.Errorf("Tags() after a repeated tag has %d entries, want 3", got)
	}

	checkIndex(t, dir, map[string]*Manifest{"main-0123abcd": m1, "main-4567cdef": m2, "latest": m2})

	// The layout survives a reopen, as a second run sees it.
	again, err := OpenLayout(dir)
	if err != nil {
		t.Fatalf("OpenLayout(existing) = %v", err)
	}
	if got := digestOrNil(mustGet(t, again, "latest")); got != m2.Digest.String() {
		t.Errorf("after reopen, Get(latest) = %s, want %s", got, m2.Digest)
	}

	// Another OCI reader (ggcr's layout package, as crane uses) finds the image by digest.
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(m1.Digest)
	if err != nil {
		t.Fatalf("reading the pushed image back: %v", err)
	}
	if got := digestOf(t, img); got != m1.Digest {
		t.Errorf("image read back has digest %s, want %s", got, m1.Digest)
	}
	ls, err := img.Layers()
	if err != nil || len(ls) != 1 {
		t.Fatalf("image read back: layers %v, %v", ls, err)
	}
	if mt, _ := ls[0].MediaType(); mt != fluxContentType {
		t.Errorf("layer media type = %q, want %q", mt, fluxContentType)
	}
}

// checkIndex reads index.json as an outside tool would: valid JSON, an OCI index, one
// descriptor per tag, each naming its manifest exactly; no temporary files left behind.
func checkIndex(t *testing.T, dir string, want map[string]*Manifest) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(raw) {
		t.Fatalf("index.json is not valid JSON:\n%s", raw)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	if idx.SchemaVersion != 2 {
		t.Errorf("index.json schemaVersion = %d, want 2", idx.SchemaVersion)
	}
	got := map[string]v1.Descriptor{}
	for _, d := range idx.Manifests {
		tag := d.Annotations[refNameAnnotation]
		if _, dup := got[tag]; dup {
			t.Errorf("index.json names tag %q twice", tag)
		}
		got[tag] = d
	}
	wantDesc := map[string]v1.Descriptor{}
	for tag, m := range want {
		wantDesc[tag] = v1.Descriptor{
			MediaType:   types.MediaType(m.MediaType),
			Size:        int64(len(m.Raw)),
			Digest:      m.Digest,
			Annotations: map[string]string{refNameAnnotation: tag},
		}
	}
	if diff := cmp.Diff(wantDesc, got); diff != "" {
		t.Errorf("index.json descriptors mismatch (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".index-") {
			t.Errorf("temporary file %s left in the layout", e.Name())
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o644 {
		t.Errorf("index.json mode = %v, want 0644", got)
	}
}

// TestLayoutConcurrentTags: components share nothing, but one store may be tagged from several
// goroutines (a release moves vX.Y.Z and latest-stable); no tag may be lost.
func TestLayoutConcurrentTags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := OpenLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := mustPush(t, s, fluxImage(t, "content"))
	var wg sync.WaitGroup
	var want []string
	for i := range 20 {
		tag := fmt.Sprintf("t%02d", i)
		want = append(want, tag)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Tag(context.Background(), m, tag); err != nil {
				t.Errorf("Tag(%q): %v", tag, err)
			}
		}()
	}
	wg.Wait()
	got := mustTags(t, s)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Tags() after concurrent tagging mismatch (-want +got):\n%s", diff)
	}
}

// TestLayoutExistingEmptyFolder: a folder that exists but holds no layout yet (a fresh dist/) is
// made one.
func TestLayoutExistingEmptyFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := OpenLayout(dir)
	if err != nil {
		t.Fatalf("OpenLayout(empty folder) = %v", err)
	}
	if tags := mustTags(t, s); len(tags) != 0 {
		t.Errorf("Tags() = %q, want none", tags)
	}
}

func TestLayoutOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLayout(filepath.Join(file, "sub")); err == nil {
		t.Errorf("OpenLayout(under a file) = nil error")
	}

	corrupt := filepath.Join(dir, "corrupt")
	if err := os.MkdirAll(corrupt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(corrupt, "index.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := OpenLayout(corrupt)
	if err != nil {
		t.Fatalf("OpenLayout(corrupt) = %v", err)
	}
	if _, err := s.Tags(context.Background()); err == nil || !strings.Contains(err.Error(), "index.json") {
		t.Errorf("Tags() on a corrupt index = %v, want an error naming index.json", err)
	}
	if _, err := s.Get(context.Background(), "latest"); err == nil {
		t.Errorf("Get() on a corrupt index = nil error")
	}
}

// TestLayoutIndexIsBounded: a layout folder may sit in the checkout, where a pull request puts
// anything at index.json. An index that is a link, not a regular file, or larger than its cap is
// refused before it is read whole, naming the file.
func TestLayoutIndexIsBounded(t *testing.T) {
	t.Parallel()
	mk := func(t *testing.T, fill func(index string)) Store {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		fill(filepath.Join(dir, "index.json"))
		s, err := OpenLayout(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, c := range []struct {
		name, want string
		fill       func(t *testing.T, index string)
	}{
		{"link to a file outside", "symbolic link", func(t *testing.T, index string) {
			outside := filepath.Join(t.TempDir(), "secret.json")
			if err := os.WriteFile(outside, []byte(`{"schemaVersion":2,"manifests":[]}`), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, index); err != nil {
				t.Fatal(err)
			}
		}},
		{"larger than its cap", "larger than", func(t *testing.T, index string) {
			f, err := os.Create(index)
			if err != nil {
				t.Fatal(err)
			}
			// Sparse: the size is what is checked, before a byte is read.
			if err := f.Truncate(inputfile.LayoutIndex.Max + 1); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}},
		{"a folder", "not a regular file", func(t *testing.T, index string) {
			if err := os.Mkdir(index, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mk(t, func(index string) { c.fill(t, index) })
			_, err := s.Tags(context.Background())
			if err == nil || !strings.Contains(err.Error(), "index.json") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Tags() = %v, want an error naming index.json and %q", err, c.want)
			}
		})
	}
}
