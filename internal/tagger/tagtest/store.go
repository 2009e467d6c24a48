// Package tagtest holds the test doubles of the tag engine: an in-memory
// registry.Store with injectable faults and crash points, a fake clock, and
// a scheduler that runs several publishes one registry operation at a time in
// a chosen order. Tests of any package may use them; nothing here talks to a
// network or sleeps.
package tagtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/registry"
)

// Kind is the kind of a store operation.
type Kind string

// Kinds of operations. Writes are PushBlob, PushManifest and Tag.
const (
	Get          Kind = "get"           // Get: a manifest by tag
	GetDigest    Kind = "get-digest"    // GetDigest: a manifest by digest
	List         Kind = "list"          // Tags
	PushBlob     Kind = "push-blob"     // one blob of Push (only those missing)
	PushManifest Kind = "push-manifest" // the manifest of Push, by digest
	Tag          Kind = "tag"           // Tag
)

// IsWrite reports whether operations of kind k change the store.
func (k Kind) IsWrite() bool { return k == PushBlob || k == PushManifest || k == Tag }

// Op is one operation, as faults and the scheduler see it.
type Op struct {
	Kind   Kind
	Tag    string  // Get, Tag
	Digest v1.Hash // GetDigest, PushBlob, PushManifest, Tag
}

func (o Op) String() string {
	switch {
	case o.Tag != "":
		return fmt.Sprintf("%s %s", o.Kind, o.Tag)
	case o.Digest != (v1.Hash{}):
		return fmt.Sprintf("%s %s", o.Kind, o.Digest)
	}
	return string(o.Kind)
}

// ErrKilled is what every operation returns once a crash point is passed.
var ErrKilled = errors.New("the job was killed (simulated)")

// ErrInjected is the default error of a Fault.
var ErrInjected = errors.New("injected fault (simulated): 503 Service Unavailable")

// Fault makes operations fail. It matches operations of Kind (any kind when
// empty) whose tag matches the pattern Tag (path.Match: "v1.0.0",
// "main-*", "*.sig"; any operation when empty); the Nth match (1-based; 0
// means the first) and the Times-1 matches after it fail with Err (default
// ErrInjected). Times < 0 fails every match from the Nth on.
type Fault struct {
	Kind  Kind
	Tag   string
	Nth   int
	Times int
	Err   error
	// Kill makes the fault a crash point: the matching operation fails with
	// ErrKilled and so does every later one, as when the job is killed just
	// before it, until CrashAfter(0) or Clear. With Landing, the job is
	// killed with the write in flight, and the write lands anyway.
	Kill bool
	// With Landing, a failing write takes effect anyway, after Lands more
	// operations of anyone (0: at once; a Clear does not stop it): a request
	// whose answer was lost while the registry still applied it, possibly
	// late.
	Lands   int
	Landing bool // the failing write lands (else it is lost)
	seen    int
	// Hits counts the operations the fault failed.
	Hits int
}

type pending struct {
	after int
	apply func()
}

// Store is an in-memory registry.Store of one repository. Tags are
// last-writer-wins registers, as in a registry; manifests and blobs are kept
// by digest and never deleted. The zero value is not usable: call NewStore.
type Store struct {
	name string

	mu        sync.Mutex
	tags      map[string]v1.Hash
	manifests map[v1.Hash]*registry.Manifest
	blobs     map[v1.Hash][]byte
	writes    int
	crashAt   int // crash after this many writes; 0: never
	dead      bool
	faults    []*Fault
	pending   []*pending
	log       []Op
}

// NewStore returns an empty store named name.
func NewStore(name string) *Store {
	return &Store{
		name:      name,
		tags:      map[string]v1.Hash{},
		manifests: map[v1.Hash]*registry.Manifest{},
		blobs:     map[v1.Hash][]byte{},
	}
}

// String names the store.
func (s *Store) String() string { return s.name }

// CrashAfter simulates the job being killed right after its k-th successful
// write from now on (k counts from the store's current write count): every
// later operation fails with ErrKilled. k <= 0 disarms it and revives the
// store, as a new job would find it.
func (s *Store) CrashAfter(k int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = false
	s.crashAt = 0
	if k > 0 {
		s.crashAt = s.writes + k
	}
}

// Inject adds a fault.
func (s *Store) Inject(f *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// Clear removes every fault and crash point.
func (s *Store) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.crashAt, s.dead = nil, 0, false
}

// Writes is the number of successful writes so far.
func (s *Store) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Log is every operation attempted so far, in order.
func (s *Store) Log() []Op {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// TagMap returns every tag and the digest it points at.
func (s *Store) TagMap() map[string]v1.Hash {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]v1.Hash, len(s.tags))
	for t, d := range s.tags {
		out[t] = d
	}
	return out
}

// Digest returns the digest tag points at, or the zero hash.
func (s *Store) Digest(tag string) v1.Hash {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tags[tag]
}

// Check reports every tag that does not name a complete manifest: the
// manifest and each blob it references must be in the store.
func (s *Store) Check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, t := range slices.Sorted(maps.Keys(s.tags)) {
		d := s.tags[t]
		m, ok := s.manifests[d]
		if !ok {
			errs = append(errs, fmt.Errorf("%s:%s names %s, which is not in the store", s.name, t, d))
			continue
		}
		if m.Parsed == nil {
			continue
		}
		for _, b := range append([]v1.Descriptor{m.Parsed.Config}, m.Parsed.Layers...) {
			if _, ok := s.blobs[b.Digest]; !ok {
				errs = append(errs, fmt.Errorf("%s:%s → %s: blob %s is missing", s.name, t, d, b.Digest))
			}
		}
	}
	return errors.Join(errs...)
}

// begin records op, lands the late writes due, and returns the error op must
// fail with (nil: go ahead). A failing write that lands anyway is applied
// (or queued) through apply. It is called with s.mu held.
func (s *Store) begin(op Op, apply func()) error {
	s.log = append(s.log, op)
	s.tick()
	if s.dead {
		return ErrKilled
	}
	for _, f := range s.faults {
		if f.Kind != "" && f.Kind != op.Kind {
			continue
		}
		if ok, _ := path.Match(f.Tag, op.Tag); f.Tag != "" && !ok {
			continue
		}
		f.seen++
		nth := max(f.Nth, 1)
		if f.seen < nth || (f.Times >= 0 && f.seen >= nth+max(f.Times, 1)) {
			continue
		}
		f.Hits++
		if op.Kind.IsWrite() && f.Landing && apply != nil {
			if f.Lands == 0 {
				apply()
			} else {
				s.pending = append(s.pending, &pending{after: f.Lands, apply: apply})
			}
		}
		if f.Kill {
			s.dead = true
			return ErrKilled
		}
		if f.Err != nil {
			return f.Err
		}
		return ErrInjected
	}
	return nil
}

// tick counts an operation against the writes that land late.
func (s *Store) tick() {
	keep := s.pending[:0]
	for _, p := range s.pending {
		if p.after--; p.after <= 0 {
			p.apply()
			continue
		}
		keep = append(keep, p)
	}
	s.pending = keep
}

// Flush lands every late write now.
func (s *Store) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pending {
		p.apply()
	}
	s.pending = nil
}

// wrote counts a successful write and arms the crash.
func (s *Store) wrote() {
	s.writes++
	if s.crashAt > 0 && s.writes >= s.crashAt {
		s.dead = true
	}
}

// Get implements registry.Store.
func (s *Store) Get(_ context.Context, tag string) (*registry.Manifest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(Op{Kind: Get, Tag: tag}, nil); err != nil {
		return nil, fmt.Errorf("reading %s:%s: %w", s.name, tag, err)
	}
	d, ok := s.tags[tag]
	if !ok {
		return nil, nil
	}
	return s.manifests[d], nil
}

// GetDigest implements registry.Store.
func (s *Store) GetDigest(_ context.Context, d v1.Hash) (*registry.Manifest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(Op{Kind: GetDigest, Digest: d}, nil); err != nil {
		return nil, fmt.Errorf("reading %s@%s: %w", s.name, d, err)
	}
	return s.manifests[d], nil
}

// Tags implements registry.Store: sorted, as distribution lists them.
func (s *Store) Tags(_ context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.begin(Op{Kind: List}, nil); err != nil {
		return nil, fmt.Errorf("listing tags of %s: %w", s.name, err)
	}
	return slices.Sorted(maps.Keys(s.tags)), nil
}

// Push implements registry.Store: each missing blob is one write, then the
// manifest, so a crash can fall between them.
func (s *Store) Push(_ context.Context, img v1.Image) (*registry.Manifest, error) {
	m, blobs, err := Manifest(img)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range blobs {
		if _, ok := s.blobs[b.digest]; ok {
			continue
		}
		put := func() { s.blobs[b.digest] = b.data }
		if err := s.begin(Op{Kind: PushBlob, Digest: b.digest}, put); err != nil {
			return nil, fmt.Errorf("pushing %s@%s: %w", s.name, m.Digest, err)
		}
		put()
		s.wrote()
	}
	put := func() { s.manifests[m.Digest] = m }
	if err := s.begin(Op{Kind: PushManifest, Digest: m.Digest}, put); err != nil {
		return nil, fmt.Errorf("pushing %s@%s: %w", s.name, m.Digest, err)
	}
	put()
	s.wrote()
	return m, nil
}

// Tag implements registry.Store. Like a registry it refuses a manifest it
// does not hold.
func (s *Store) Tag(_ context.Context, m *registry.Manifest, tag string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	put := func() {
		if _, ok := s.manifests[m.Digest]; !ok {
			// A registry receives the manifest itself with the tag: keep it.
			s.manifests[m.Digest] = m
		}
		s.tags[tag] = m.Digest
	}
	if err := s.begin(Op{Kind: Tag, Tag: tag, Digest: m.Digest}, put); err != nil {
		return fmt.Errorf("tagging %s:%s: %w", s.name, tag, err)
	}
	put()
	s.wrote()
	return nil
}

type blob struct {
	digest v1.Hash
	data   []byte
}

// Manifest returns the registry.Manifest of img, as a store that just
// received it would hold it, and its blobs (config first).
func Manifest(img v1.Image) (*registry.Manifest, []blob, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, nil, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, nil, err
	}
	d, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, err
	}
	parsed, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, nil, err
	}
	blobs := []blob{{parsed.Config.Digest, cfg}}
	ls, err := img.Layers()
	if err != nil {
		return nil, nil, err
	}
	for _, l := range ls {
		ld, err := l.Digest()
		if err != nil {
			return nil, nil, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, nil, err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, nil, err
		}
		blobs = append(blobs, blob{ld, data})
	}
	return &registry.Manifest{Digest: d, MediaType: string(mt), Raw: raw, Parsed: parsed}, blobs, nil
}

var _ registry.Store = (*Store)(nil)
