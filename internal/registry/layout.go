package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fleetpush/fleetpush/internal/inputfile"
)

// refNameAnnotation names a manifest in an OCI layout index, as the image-spec defines; oras and
// crane read tags from it.
const refNameAnnotation = "org.opencontainers.image.ref.name"

type layoutStore struct {
	dir    string
	mu     sync.Mutex
	p      layout.Path
	exists bool // the folder is an OCI layout; created on the first write, so reads (a dry run) write nothing
}

// OpenLayout opens the OCI image layout folder dir. A missing folder reads as an empty layout
// and is created on the first write.
func OpenLayout(dir string) (Store, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("opening OCI layout %q: %w", dir, err)
		}
		return &layoutStore{dir: dir}, nil
	}
	return &layoutStore{dir: dir, p: p, exists: true}, nil
}

// create makes the folder an (empty) OCI layout before the first write.
func (s *layoutStore) create() error {
	if s.exists {
		return nil
	}
	if err := notOthers(s.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("creating OCI layout %q: %w", s.dir, err)
	}
	p, err := layout.Write(s.dir, empty.Index)
	if err != nil {
		return fmt.Errorf("creating OCI layout %q: %w", s.dir, err)
	}
	s.p, s.exists = p, true
	return nil
}

// notOthers refuses to make a layout in a folder that holds files of someone else's: they would
// be mixed with the layout, and a build that leaves the layout folder out would leave them out
// too. A folder with only what a layout write leaves (an interrupted one) is fine.
func notOthers(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil // missing: created below; anything else fails there
	}
	for _, e := range entries {
		switch n := e.Name(); {
		case n == "oci-layout", n == "index.json", n == "blobs", strings.HasPrefix(n, ".index-"):
		default:
			return fmt.Errorf("creating OCI layout %q: the folder holds other files (%q), which the layout would be mixed with: give an empty or new folder with --repository oci-layout:DIR", dir, n)
		}
	}
	return nil
}

func (s *layoutStore) String() string { return LayoutScheme + filepath.ToSlash(s.dir) }

// index reads the layout's index.json as every file an input names is read: a regular file,
// never a link, and capped (inputfile.LayoutIndex). The folder may sit in the checkout, where a
// pull request puts anything at that name, and a dry run or a preview reads it.
func (s *layoutStore) index() (*v1.IndexManifest, error) {
	if !s.exists {
		return &v1.IndexManifest{SchemaVersion: 2}, nil
	}
	name := filepath.Join(s.dir, "index.json")
	if fi, err := os.Lstat(name); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("reading %s/index.json: it is a symbolic link, and an OCI layout fleetpush writes holds a regular file there: give an empty or new folder with --repository oci-layout:DIR", s.dir)
	}
	raw, err := inputfile.Read(inputfile.LayoutIndex, name)
	if err != nil {
		return nil, fmt.Errorf("reading %s/index.json: %w", s.dir, err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(raw, &im); err != nil {
		return nil, fmt.Errorf("reading %s/index.json: not an OCI image index: %w", s.dir, err)
	}
	return &im, nil
}

func (s *layoutStore) Get(_ context.Context, tag string) (*Manifest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	im, err := s.index()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Annotations[refNameAnnotation] == tag {
			return s.read(d.Digest, string(d.MediaType))
		}
	}
	return nil, nil
}

func (s *layoutStore) GetDigest(_ context.Context, d v1.Hash) (*Manifest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.exists {
		return nil, nil
	}
	m, err := s.read(d, "")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return m, err
}

func (s *layoutStore) read(d v1.Hash, mediaType string) (*Manifest, error) {
	raw, err := s.manifestBytes(d)
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s from %s: %w", d, s.dir, err)
	}
	return parseManifest(raw, mediaType)
}

// manifestBytes reads the manifest blob d: a regular file, never a link (go-containerregistry's
// layout refuses both), and capped at ManifestLimit as a registry's answer is. The folder may sit
// in the checkout, where a pull request puts anything at a blob's name, and a preview reads it.
func (s *layoutStore) manifestBytes(d v1.Hash) ([]byte, error) {
	rc, err := s.p.Blob(d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, ManifestLimit+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > ManifestLimit {
		return nil, fmt.Errorf("more than %d bytes, the most a manifest may weigh (as from a registry): not a manifest fleetpush wrote", ManifestLimit)
	}
	return raw, nil
}

// ReadLayoutBlob reads the blob desc of the OCI layout folder dir (a published layer, for a
// preview), no larger than limit, checking its digest. It is read as the layout store reads its
// manifests: a regular file only, never a link.
func ReadLayoutBlob(dir string, desc v1.Descriptor, limit int64) ([]byte, error) {
	if desc.Digest.Algorithm != "sha256" || len(desc.Digest.Hex) != 64 || strings.ContainsAny(desc.Digest.Hex, "./\\") {
		return nil, fmt.Errorf("unsupported layer digest %q", desc.Digest)
	}
	if desc.Size > limit || desc.Size < 0 {
		return nil, fmt.Errorf("the layer is %d bytes, more than the %d expected", desc.Size, limit)
	}
	rc, err := layout.Path(dir).Blob(desc.Digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, desc.Size+1))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	if int64(len(b)) != desc.Size || hex.EncodeToString(sum[:]) != desc.Digest.Hex {
		return nil, errors.New("the layer's content does not match its digest")
	}
	return b, nil
}

func (s *layoutStore) Push(_ context.Context, img v1.Image) (*Manifest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.create(); err != nil {
		return nil, err
	}
	if err := s.p.WriteImage(img); err != nil {
		return nil, fmt.Errorf("writing to %s: %w", s.dir, err)
	}
	return manifestOf(img)
}

func (s *layoutStore) Tag(_ context.Context, m *Manifest, tag string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	desc := v1.Descriptor{
		MediaType:   types.MediaType(m.MediaType),
		Size:        int64(len(m.Raw)),
		Digest:      m.Digest,
		Annotations: map[string]string{refNameAnnotation: tag},
	}
	if err := s.create(); err != nil {
		return err
	}
	im, err := s.index()
	if err != nil {
		return err
	}
	out := *im
	out.Manifests = nil
	for _, d := range im.Manifests {
		if d.Annotations[refNameAnnotation] != tag {
			out.Manifests = append(out.Manifests, d)
		}
	}
	out.Manifests = append(out.Manifests, desc)
	if err := s.writeIndex(&out); err != nil {
		return fmt.Errorf("tagging %s:%s: %w", s.dir, tag, err)
	}
	return nil
}

// writeIndex replaces index.json through a rename, so a crash never leaves it half-written and
// every earlier tag survives.
func (s *layoutStore) writeIndex(im *v1.IndexManifest) error {
	raw, err := json.MarshalIndent(im, "", "   ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.dir, ".index-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(s.dir, "index.json"))
}

func (s *layoutStore) Tags(_ context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	im, err := s.index()
	if err != nil {
		return nil, err
	}
	var tags []string
	for _, d := range im.Manifests {
		if t := d.Annotations[refNameAnnotation]; t != "" {
			tags = append(tags, t)
		}
	}
	return tags, nil
}
