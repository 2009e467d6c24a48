package tagtest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/registry"
)

// Kinds of the delete operations of registry.Pruner. Both are writes: crash points and faults
// count them.
const (
	DeleteTag      Kind = "delete-tag"      // DeleteTag
	DeleteManifest Kind = "delete-manifest" // DeleteManifest
	Head           Kind = "head"            // Exists
	ListReferrers  Kind = "referrers"       // Referrers
)

var _ registry.Pruner = (*Store)(nil)

// DeleteTag implements registry.Pruner: the tag alone goes.
func (s *Store) DeleteTag(_ context.Context, tag string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	del := func() { delete(s.tags, tag) }
	if err := s.begin(Op{Kind: DeleteTag, Tag: tag}, del); err != nil {
		return fmt.Errorf("deleting %s:%s: %w", s.name, tag, err)
	}
	del()
	s.wrote()
	return nil
}

// DeleteManifest implements registry.Pruner as a distribution registry does: the manifest and
// every tag on it go in one step. Blobs stay (a registry frees them in its garbage collection).
func (s *Store) DeleteManifest(_ context.Context, d v1.Hash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	del := func() {
		delete(s.manifests, d)
		maps.DeleteFunc(s.tags, func(_ string, h v1.Hash) bool { return h == d })
	}
	if err := s.begin(Op{Kind: DeleteManifest, Digest: d}, del); err != nil {
		return fmt.Errorf("deleting %s@%s: %w", s.name, d, err)
	}
	del()
	s.wrote()
	return nil
}

// Exists implements registry.Pruner.
func (s *Store) Exists(_ context.Context, d v1.Hash) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(Op{Kind: Head, Digest: d}, nil); err != nil {
		return false, fmt.Errorf("checking %s@%s: %w", s.name, d, err)
	}
	_, ok := s.manifests[d]
	return ok, nil
}

// Referrers implements registry.Pruner as a registry with the referrers API does: every
// manifest whose subject is d, plus the entries Lie adds for d.
func (s *Store) Referrers(_ context.Context, d v1.Hash) ([]v1.Descriptor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(Op{Kind: ListReferrers, Digest: d}, nil); err != nil {
		return nil, fmt.Errorf("listing the referrers of %s@%s: %w", s.name, d, err)
	}
	var out []v1.Descriptor
	for _, h := range slices.SortedFunc(maps.Keys(s.manifests), func(a, b v1.Hash) int {
		if a.Hex < b.Hex {
			return -1
		}
		if a.Hex > b.Hex {
			return 1
		}
		return 0
	}) {
		var probe struct {
			Subject *v1.Descriptor `json:"subject"`
		}
		if json.Unmarshal(s.manifests[h].Raw, &probe) == nil && probe.Subject != nil && probe.Subject.Digest == d {
			out = append(out, v1.Descriptor{Digest: h, MediaType: "application/vnd.oci.image.manifest.v1+json"})
		}
	}
	return append(out, s.lies[d]...), nil
}

// Lie makes Referrers of subject also list desc: a hostile or confused registry whose
// referrers index names digests that do not refer to subject.
func (s *Store) Lie(subject v1.Hash, desc v1.Descriptor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lies == nil {
		s.lies = map[v1.Hash][]v1.Descriptor{}
	}
	s.lies[subject] = append(s.lies[subject], desc)
}

// Pruner returns run id's view of st as a registry.Pruner: every operation is one step.
func (s *Sched) Pruner(id int, st registry.Pruner) registry.Pruner {
	return &gatedPruner{gatedStore: gatedStore{s: s, id: id, st: st}, p: st}
}

type gatedPruner struct {
	gatedStore
	p registry.Pruner
}

func (g *gatedPruner) DeleteTag(ctx context.Context, tag string) error {
	g.s.gate(g.id)
	return g.p.DeleteTag(ctx, tag)
}

func (g *gatedPruner) DeleteManifest(ctx context.Context, d v1.Hash) error {
	g.s.gate(g.id)
	return g.p.DeleteManifest(ctx, d)
}

func (g *gatedPruner) Exists(ctx context.Context, d v1.Hash) (bool, error) {
	g.s.gate(g.id)
	return g.p.Exists(ctx, d)
}

func (g *gatedPruner) Referrers(ctx context.Context, d v1.Hash) ([]v1.Descriptor, error) {
	g.s.gate(g.id)
	return g.p.Referrers(ctx, d)
}
