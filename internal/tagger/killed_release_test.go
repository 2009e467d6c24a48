package tagger_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/tagger"
	"github.com/fleetpush/fleetpush/internal/tagger/tagtest"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// TestKilledReleaseWhoseVersionLands: a release run A is killed with its
// version write in flight, leaving its claim live; the write lands after
// each possible number of operations of the next release run B (or never).
// B decides as for any existing version as soon as it can see the tag: other
// content is the immutable-version error, the same content (under another
// digest) is "present" with latest-stable on the version's digest; B waits
// out the claim ("claimed by another run") only when the tag had not landed
// by B's last few operations. B never writes the version.
func TestKilledReleaseWhoseVersionLands(t *testing.T) {
	t.Parallel()
	a := release("a", 1, "v2.0.0")
	other := release("b", 2, "v2.0.0")
	same := release("c", 3, "v2.0.0")
	same.content = a.content // another commit, the same files: another digest
	for _, tt := range []struct {
		name    string
		b       commit
		landing bool
	}{
		{"other content, the version lands", other, true},
		{"same content under another digest, the version lands", same, true},
		{"other content, the version is lost (lease expiry)", other, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			maxLands := 80
			if !tt.landing {
				maxLands = 1
			}
			for lands := 1; lands <= maxLands; lands++ {
				st, clock := newWorld()
				st.Inject(&tagtest.Fault{Kind: tagtest.Tag, Tag: "v2.0.0", Kill: true, Landing: tt.landing, Lands: lands})
				if ja := (&job{c: a, store: st, clock: clock, seed: 1}).run(); !errors.Is(ja.err, tagtest.ErrKilled) {
					t.Fatalf("a: %v, want it killed", ja.err)
				}
				st.Clear()
				clock.Advance(time.Minute) // the next run comes later: a's claim goes first
				killed := lastOp(st, tagtest.Tag, "v2.0.0")
				start := clock.Now()
				jb := (&job{c: tt.b, store: st, clock: clock, seed: 2}).run()
				waited := clock.Now().Sub(start)
				// The tag is visible to operations from killed+lands on; b must
				// see it unless it landed within b's last few operations (the
				// reads of one round after its last read of the version).
				last := len(st.Log()) - 1
				landed := tt.landing && killed+lands <= last
				seen := landed && killed+lands <= last-3
				if landed && !seen && errors.Is(jb.err, tagger.ErrBusy) {
					seen = false // it landed as b gave up: either outcome is right
				} else if landed {
					seen = true
				}
				for _, d := range tagWrites(st, "v2.0.0") {
					if d != a.digest(t) {
						t.Fatalf("lands after %d: v2.0.0 was written with %s, not a's", lands, d)
					}
				}
				switch {
				case !seen:
					if !errors.Is(jb.err, tagger.ErrBusy) || waited < tagger.DefaultClaimWait {
						t.Fatalf("lands after %d, not seen: %v after %s; want it to wait for a's claim and give up", lands, jb.err, waited)
					}
				case tt.b.content != a.content:
					if !errors.Is(jb.err, tags.ErrImmutable) || errors.Is(jb.err, tagger.ErrBusy) {
						t.Fatalf("lands after %d: %v, want the immutable-version error", lands, jb.err)
					}
				default:
					if jb.err != nil {
						t.Fatalf("lands after %d: %v, want the same content found present", lands, jb.err)
					}
					if got, want := st.Digest("latest-stable"), st.Digest("v2.0.0"); got != want {
						t.Errorf("lands after %d: latest-stable = %s, want the version's %s", lands, got, want)
					}
				}
				if seen && waited >= tagger.DefaultClaimWait {
					t.Errorf("lands after %d: b waited %s for a claim though the version was there", lands, waited)
				}
				st.Flush()
				checkStore(t, st)
				if !seen {
					// Past the lease the claim counts for nothing: b releases the
					// version if a's write was lost, else meets it.
					clock.Advance(tagger.DefaultClaimLease + time.Second)
					jb := (&job{c: tt.b, store: st, clock: clock, seed: 3}).run()
					if tt.landing {
						if !errors.Is(jb.err, tags.ErrImmutable) && (tt.b.content != a.content || jb.err != nil) {
							t.Fatalf("lands after %d, b after the lease: %v", lands, jb.err)
						}
					} else if jb.err != nil || st.Digest("v2.0.0") != tt.b.digest(t) {
						t.Fatalf("b after the lease: %v, v2.0.0 = %s; want b to release it", jb.err, st.Digest("v2.0.0"))
					}
					checkStore(t, st)
				}
			}
		})
	}
}

// lastOp is the index in st's log of the last operation of kind on tag, or -1.
func lastOp(st *tagtest.Store, kind tagtest.Kind, tag string) int {
	log := st.Log()
	for i := len(log) - 1; i >= 0; i-- {
		if log[i].Kind == kind && log[i].Tag == tag {
			return i
		}
	}
	return -1
}

// killOnVersion is one job's view of the store that kills that job (not the
// store) at its write of tag: the write is sent and lands lands operations
// of anyone later, and every later operation of the job fails.
type killOnVersion struct {
	registry.Store
	st    *tagtest.Store
	tag   string
	lands int
	dead  bool
}

func (k *killOnVersion) Get(ctx context.Context, tag string) (*registry.Manifest, error) {
	if k.dead {
		return nil, tagtest.ErrKilled
	}
	return k.Store.Get(ctx, tag)
}

func (k *killOnVersion) GetDigest(ctx context.Context, d v1.Hash) (*registry.Manifest, error) {
	if k.dead {
		return nil, tagtest.ErrKilled
	}
	return k.Store.GetDigest(ctx, d)
}

func (k *killOnVersion) Push(ctx context.Context, img v1.Image) (*registry.Manifest, error) {
	if k.dead {
		return nil, tagtest.ErrKilled
	}
	return k.Store.Push(ctx, img)
}

func (k *killOnVersion) Tags(ctx context.Context) ([]string, error) {
	if k.dead {
		return nil, tagtest.ErrKilled
	}
	return k.Store.Tags(ctx)
}

func (k *killOnVersion) Tag(ctx context.Context, m *registry.Manifest, tag string) error {
	if k.dead {
		return tagtest.ErrKilled
	}
	if tag != k.tag {
		return k.Store.Tag(ctx, m, tag)
	}
	k.st.Inject(&tagtest.Fault{Kind: tagtest.Tag, Tag: tag, Landing: true, Lands: k.lands})
	_ = k.Store.Tag(ctx, m, tag) // sent; the answer is never read
	k.dead = true
	return tagtest.ErrKilled
}

// TestRaceKilledReleaseLands: release runs A and B of one version with other
// contents race under the scheduler; A is killed at its version write, which
// lands a few operations later. In every interleaving the version holds one
// content: A's, with B failing with the immutable-version error (or, if it
// landed only as B gave up, "claimed by another run"), or B's when B got there
// first and A never wrote. B never waits out A's claim for a version it saw.
func TestRaceKilledReleaseLands(t *testing.T) {
	t.Parallel()
	a, b := release("a", 1, "v2.0.0"), release("b", 2, "v2.0.0")
	for _, lands := range []int{1, 4, 16} {
		t.Run(fmt.Sprintf("lands after %d", lands), func(t *testing.T) {
			t.Parallel()
			eachInterleaving(t, func(t *testing.T, pick tagtest.Picker, ord order) {
				st, clock := newWorld()
				ja, jb := &job{c: a, seed: 1}, &job{c: b, seed: 2}
				ord.apply(ja, jb)
				s := tagtest.NewSched(pick)
				ia, ib := 0, 1
				if ord.swap {
					ia, ib = 1, 0
				}
				ja.store, ja.clock = &killOnVersion{Store: s.Store(ia, st), st: st, tag: "v2.0.0", lands: lands}, s.Clock(ia, clock)
				jb.store, jb.clock = s.Store(ib, st), s.Clock(ib, clock)
				start := clock.Now()
				s.Run(2, func(id int) {
					if id == ia {
						ja.run()
					} else {
						jb.run()
					}
				})
				waited := clock.Now().Sub(start)
				st.Flush()
				killed := errors.Is(ja.err, tagtest.ErrKilled) && ja.store.(*killOnVersion).dead
				switch {
				case killed:
					if got := st.Digest("v2.0.0"); got != a.digest(t) {
						t.Fatalf("v2.0.0 = %s, want a's %s", got, a.digest(t))
					}
					if !errors.Is(jb.err, tags.ErrImmutable) && !errors.Is(jb.err, tagger.ErrBusy) {
						t.Fatalf("b: %v, want the immutable-version error", jb.err)
					}
					// The write is visible from operation killedAt+lands on; unless that
					// is among b's last few operations, b must have seen it.
					killedAt := lastOp(st, tagtest.Tag, "v2.0.0")
					if errors.Is(jb.err, tagger.ErrBusy) && (waited < tagger.DefaultClaimWait || killedAt+lands <= len(st.Log())-1-3) {
						t.Fatalf("b: %v after %s, though a's version landed at operation %d of %d", jb.err, waited, killedAt+lands, len(st.Log()))
					}
				case jb.err == nil:
					if got := st.Digest("v2.0.0"); got != b.digest(t) || !errors.Is(ja.err, tags.ErrImmutable) {
						t.Fatalf("b released: v2.0.0 = %s, a: %v", got, ja.err)
					}
				default:
					t.Fatalf("a: %v, b: %v: want a killed at its version write, or b released", ja.err, jb.err)
				}
				for _, d := range tagWrites(st, "v2.0.0") {
					if killed && d != a.digest(t) {
						t.Fatalf("v2.0.0 was written with %s besides a's", d)
					}
				}
			})
		})
	}
}
