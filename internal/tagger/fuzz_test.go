package tagger_test

import (
	"errors"
	"fmt"
	"strings"
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
	f.Add(uint64(9<<32|42), uint8(4), uint8(0b0110), uint8(128))
	f.Fuzz(func(t *testing.T, seed uint64, n, contents, stay uint8) {
		n = 2 + n%3
		st, clock := newWorld()
		jobs := make([]*job, n)
		for i := range jobs {
			name := fmt.Sprintf("c%d", contents>>i&1)
			jobs[i] = &job{c: release(name, 1, "v3.0.0"), seed: seed + uint64(i)}
		}
		sideFirstBits(seed>>32, jobs...) // each job's read order too, from the seed
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

// FuzzLatestRace races 2 or 3 builds of main, of commits made one after the
// other, in an interleaving chosen by the fuzzer: latest always ends at the
// newest commit, whichever run finishes last (no lost update: a run that
// overwrote a newer run's move finds that build and hands latest to it).
func FuzzLatestRace(f *testing.F) {
	f.Add(uint64(0), uint8(2), uint8(0), false)
	f.Add(uint64(43), uint8(2), uint8(218), true)
	f.Add(uint64(238), uint8(3), uint8(240), false)
	f.Add(uint64(5<<32|238), uint8(3), uint8(240), true)
	f.Add(uint64(2<<32|43), uint8(3), uint8(218), false)
	f.Fuzz(func(t *testing.T, seed uint64, n, stay uint8, known bool) {
		n = 2 + n%2
		commits := make([]commit, n)
		for i := range commits {
			commits[i] = onMain(fmt.Sprintf("m%d", i), i+1)
		}
		var anc tagger.Ancestry
		if known {
			anc = linear(commits...)
		}
		st, clock := newWorld()
		jobs := make([]*job, n)
		for i := range jobs {
			// The newest commit's run starts first: the order that loses updates.
			jobs[i] = &job{c: commits[int(n)-1-i], seed: seed + uint64(i), ancestry: anc}
		}
		sideFirstBits(seed>>32, jobs...) // each job's read order too, from the seed
		race(st, clock, tagtest.Sticky(seed, float64(stay)/256), jobs...)
		for _, j := range jobs {
			if j.err != nil {
				t.Fatalf("%s: %v", j.c.content, j.err)
			}
		}
		if got, want := st.Digest("latest"), commits[n-1].digest(t); got != want {
			t.Fatalf("latest = %s, want the newest commit's %s", got, want)
		}
	})
}

// FuzzPromotionRecord reads a promotion record of latest whose held commits
// are whatever the fuzzer writes (bytes from the registry): it never fails,
// keeps at most tags.MaxHeld commits, each a full commit id.
func FuzzPromotionRecord(f *testing.F) {
	f.Add("")
	f.Add(sha("a") + "@2025-01-01T00:00:00Z," + sha("b") + "@2025-01-01T00:00:01Z")
	f.Add("x@y,,@," + sha("a") + "@not-a-time")
	f.Fuzz(func(t *testing.T, held string) {
		ctx := t.Context()
		st, _ := newWorld()
		m, err := st.Push(ctx, recordImage(t, map[string]string{
			"com.github.fleetpush.record": "promotion", "com.github.fleetpush.channel": "latest",
			"com.github.fleetpush.version": "v1.0.0", "com.github.fleetpush.held": held,
		}))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Tag(ctx, m, tags.PromotionTag("latest")); err != nil {
			t.Fatal(err)
		}
		p, err := tagger.New(st, nil).ReadPromotion(ctx, "latest")
		if err != nil || p == nil {
			t.Fatalf("ReadPromotion = %v, %v", p, err)
		}
		if len(p.Held) > tags.MaxHeld {
			t.Fatalf("%d held commits, want at most %d", len(p.Held), tags.MaxHeld)
		}
		for _, h := range p.Held {
			if len(h.SHA) != 40 || strings.Trim(h.SHA, "0123456789abcdef") != "" {
				t.Fatalf("held %q, not a full commit id", h.SHA)
			}
		}
	})
}
