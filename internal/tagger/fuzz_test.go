package tagger_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/fleetpush/fleetpush/internal/tagger"
	"github.com/fleetpush/fleetpush/internal/tagger/tagtest"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// FuzzReleaseRace races 2 to 4 releases of one version, each with one of
// two contents (same content: the same commit re-run), in an interleaving
// chosen by the fuzzer. Whatever the order: exactly one content wins, every
// run of another content fails with the immutable-version error, and the
// version tag is never written with a loser's digest. A run may also give up
// with ErrBusy, having written nothing: the fuzzer can starve the claim
// holder for longer than the claim wait (a picker that nearly always picks
// the waiter, whose sleeps move the shared clock on), which is what a stalled
// holder looks like in real time. Liveness under fair interleavings is the
// race tests' concern.
func FuzzReleaseRace(f *testing.F) {
	f.Add(uint64(0), uint8(2), uint8(0b10), uint8(0))
	f.Add(uint64(7), uint8(3), uint8(0b101), uint8(200))
	f.Add(uint64(42), uint8(4), uint8(0b0110), uint8(128))
	f.Fuzz(func(t *testing.T, seed uint64, n, contents, stay uint8) {
		n = 2 + n%3
		st, clock := newWorld()
		jobs := make([]*job, n)
		for i := range jobs {
			name := fmt.Sprintf("c%d", contents>>i&1)
			jobs[i] = &job{c: release(name, 1, "v3.0.0"), seed: seed + uint64(i)}
		}
		race(st, clock, tagtest.Sticky(seed, float64(stay)/256), jobs...)
		winner := ""
		for _, j := range jobs {
			switch {
			case errors.Is(j.err, tagger.ErrBusy):
				if errors.Is(j.err, tags.ErrImmutable) {
					t.Fatalf("%s: %v: both busy and immutable", j.c.content, j.err)
				}
			case j.err == nil:
				if winner != "" && winner != j.c.content {
					t.Fatalf("%s and %s both won", winner, j.c.content)
				}
				winner = j.c.content
			case !errors.Is(j.err, tags.ErrImmutable):
				t.Fatalf("%s: %v, want a win or the immutable-version error", j.c.content, j.err)
			}
		}
		if winner == "" {
			t.Fatal("nobody won")
		}
		want := release(winner[len("content of "):], 1, "v3.0.0").digest(t)
		for _, d := range tagWrites(st, "v3.0.0") {
			if d != want {
				t.Fatalf("v3.0.0 was written with %s besides the winner's %s", d, want)
			}
		}
		for _, j := range jobs {
			if errors.Is(j.err, tagger.ErrBusy) {
				continue
			}
			if (j.err == nil) != (j.c.content == winner) {
				t.Fatalf("%s: %v, but %s won", j.c.content, j.err, winner)
			}
		}
	})
}
