package tagger_test

import (
	"errors"
	"testing"
	"time"

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
