package tagger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetpush/fleetpush/internal/tagger"
	"github.com/fleetpush/fleetpush/internal/tagger/tagtest"
	"github.com/fleetpush/fleetpush/internal/tags"
)

// TestPromotionIsRespected walks the rollback of the D2 README: v1.2.4 and
// v1.3.0 are released, promote rolls latest-stable back to v1.2.4, and then
// each step publishes or promotes and says where latest-stable must be.
func TestPromotionIsRespected(t *testing.T) {
	t.Parallel()
	r123, r125 := release("r123", 4, "v1.2.3"), release("r125", 8, "v1.2.5")
	r140 := release("r140", 9, "v1.4.0")
	rc200, r200 := release("rc200", 10, "v2.0.0-rc.1"), release("r200", 11, "v2.0.0")
	type step struct {
		name    string
		publish commit // or
		promote string
		kill    string // kill the publish before writing this tag, then re-run it
		stable  string // where latest-stable must be after the step
		action  tagger.Action
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"re-run of the release rolled back over leaves the channel", []step{
			{name: "re-run v1.3.0", publish: r130, stable: "v1.2.4", action: tagger.ActionHold},
			{name: "and again", publish: r130, stable: "v1.2.4", action: tagger.ActionHold},
		}},
		{"a new higher release moves it", []step{
			{name: "release v1.3.1", publish: r131, stable: "v1.3.1", action: tagger.ActionMove},
			{name: "re-run v1.3.0", publish: r130, stable: "v1.3.1", action: tagger.ActionHold},
		}},
		{"a hotfix above the promoted release moves it", []step{
			{name: "release v1.2.5", publish: r125, stable: "v1.2.5", action: tagger.ActionMove},
			{name: "re-run v1.3.0", publish: r130, stable: "v1.2.5", action: tagger.ActionHold},
		}},
		{"a release below the promoted one leaves it", []step{
			{name: "re-run v1.2.3", publish: r123, stable: "v1.2.4", action: tagger.ActionLeave},
		}},
		{"a promotion forward to a pre-release is not undone by an older release", []step{
			{name: "release v2.0.0-rc.1", publish: rc200, stable: "v1.2.4"},
			{name: "promote v2.0.0-rc.1", promote: "v2.0.0-rc.1", stable: "v2.0.0-rc.1"},
			{name: "re-run v1.3.0", publish: r130, stable: "v2.0.0-rc.1", action: tagger.ActionHold},
			{name: "release v2.0.0", publish: r200, stable: "v2.0.0", action: tagger.ActionMove},
		}},
		{"a re-run of the promoted release keeps it", []step{
			{name: "re-run v1.2.4", publish: r124, stable: "v1.2.4", action: tagger.ActionPresent},
		}},
		{"a release that never reached the channel heals", []step{
			{name: "v1.4.0 dies before latest-stable", publish: r140, kill: "latest-stable", stable: "v1.4.0", action: tagger.ActionMove},
		}},
		{"promoting forward again lifts the hold", []step{
			{name: "promote v1.3.0", promote: "v1.3.0", stable: "v1.3.0"},
			{name: "re-run v1.3.0", publish: r130, stable: "v1.3.0", action: tagger.ActionPresent},
			{name: "re-run v1.2.4", publish: r124, stable: "v1.3.0", action: tagger.ActionLeave},
		}},
		{"a second rollback holds both", []step{
			{name: "promote v1.2.3", promote: "v1.2.3", stable: "v1.2.3"},
			{name: "re-run v1.2.4", publish: r124, stable: "v1.2.3", action: tagger.ActionHold},
			{name: "re-run v1.3.0", publish: r130, stable: "v1.2.3", action: tagger.ActionHold},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, clock := newWorld()
			publishAll(t, st, clock, nil, r123, r124, r130)
			if got := st.Digest("latest-stable"); got != st.Digest("v1.3.0") {
				t.Fatalf("latest-stable before the promotion = %s, want v1.3.0", got)
			}
			out, err := promote(t, st, clock, "latest-stable", "v1.2.4")
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Digest("latest-stable"); got != st.Digest("v1.2.4") || out.Moves[0].Action != tagger.ActionMove {
				t.Fatalf("after promote: latest-stable %s, moves %v; want v1.2.4, moved", got, out.Moves)
			}
			for i, s := range tt.steps {
				switch {
				case s.promote != "":
					if _, err := promote(t, st, clock, "latest-stable", s.promote); err != nil {
						t.Fatalf("%s: %v", s.name, err)
					}
				case s.kill != "":
					st.Inject(&tagtest.Fault{Kind: tagtest.Tag, Tag: s.kill, Kill: true})
					if j := (&job{c: s.publish, store: st, clock: clock, seed: uint64(10 + i)}).run(); !errors.Is(j.err, tagtest.ErrKilled) {
						t.Fatalf("%s: %v, want it killed", s.name, j.err)
					}
					st.Clear()
					fallthrough
				default:
					j := (&job{c: s.publish, store: st, clock: clock, seed: uint64(20 + i)}).run()
					if j.err != nil {
						t.Fatalf("%s: %v", s.name, j.err)
					}
					if got := j.out.Moves[len(j.out.Moves)-1]; s.action != "" && (got.Tag != "latest-stable" || got.Action != s.action) {
						t.Errorf("%s: %v, want latest-stable: %s", s.name, got, s.action)
					}
					if s.action == tagger.ActionHold && (len(j.out.Skipped) != 1 || !strings.Contains(j.out.Skipped[0], "promotion")) {
						t.Errorf("%s: skipped %q, want the promotion named", s.name, j.out.Skipped)
					}
				}
				if got, want := st.Digest("latest-stable"), st.Digest(s.stable); got != want {
					t.Fatalf("%s: latest-stable = %s, want %s (%s)", s.name, got, s.stable, want)
				}
			}
			checkStore(t, st)
		})
	}
}

func TestPromotionRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, clock := newWorld()
	publishAll(t, st, clock, nil, r124, r130, r131)
	tg := tagger.New(st, nil, tagger.WithClock(clock))
	if p, err := tg.ReadPromotion(ctx, "latest-stable"); err != nil || p != nil {
		t.Fatalf("ReadPromotion before any promote = %v, %v; want none", p, err)
	}
	m, _ := st.Get(ctx, "v1.2.4")
	p, err := tg.PlanPromote(ctx, "latest-stable", "v1.2.4", m)
	if err != nil {
		t.Fatal(err)
	}
	writes := st.Writes()
	if p.Move.Action != tagger.ActionMove || p.Move.From != st.Digest("v1.3.1").String() {
		t.Errorf("planned move %v, want a move from v1.3.1", p.Move)
	}
	if _, err := tg.Promote(ctx, p); err != nil {
		t.Fatal(err)
	}
	if st.Writes() == writes {
		t.Fatal("Promote wrote nothing")
	}
	got, err := tg.ReadPromotion(ctx, "latest-stable")
	if err != nil {
		t.Fatal(err)
	}
	// Held: the commit latest-stable pointed at (v1.3.1's) and the one promoted.
	want := &tagger.Promotion{Channel: "latest-stable", Version: "v1.2.4", Digest: m.Digest.String(), At: epoch, Over: []string{"v1.3.0", "v1.3.1"},
		Held: []tags.Head{{SHA: r131.sha, Created: r131.created}, {SHA: r124.sha, Created: r124.created}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	if tag := tags.PromotionTag("latest-stable"); st.Digest(tag) == (m.Digest) || tags.ValidateChannel(tag) == nil {
		t.Errorf("record tag %q: it must hold its own manifest and be refused as a channel", tag)
	}
	// The same promotion again writes no new record and moves nothing.
	writes = st.Writes()
	p, err = tg.PlanPromote(ctx, "latest-stable", "v1.2.4", m)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tg.Promote(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Writes() != writes || out.Moves[0].Action != tagger.ActionPresent {
		t.Errorf("the same promote again wrote %d times, moves %v; want nothing written, present", st.Writes()-writes, out.Moves)
	}
	// A channel that may not be a channel is refused before anything is read.
	if _, err := tg.PlanPromote(ctx, "v2", "v1.2.4", m); err == nil {
		t.Error("PlanPromote to channel v2 did not fail")
	}
}

// TestHostileRecords: records are bytes from the registry. A promotion
// record that holds versions not above the promoted one, or a claim dated
// far ahead, counts for nothing.
func TestHostileRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, clock := newWorld()
	publishAll(t, st, clock, nil, r124)
	forge := func(tag string, a map[string]string) {
		t.Helper()
		img := recordImage(t, a)
		m, err := st.Push(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Tag(ctx, m, tag); err != nil {
			t.Fatal(err)
		}
	}
	forge(tags.PromotionTag("latest-stable"), map[string]string{
		"com.github.fleetpush.record": "promotion", "com.github.fleetpush.channel": "latest-stable",
		"com.github.fleetpush.version": "v1.2.4", "com.github.fleetpush.over": "v1.0.0,v1.3.0,latest,v9.9.9-rc.1",
	})
	p, err := tagger.New(st, nil).ReadPromotion(ctx, "latest-stable")
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(p.Over, []string{"v1.3.0"}) {
		t.Errorf("Over = %q, want only the stable release above v1.2.4", p.Over)
	}
	// Held commits are bytes from the registry too: only full commit ids
	// with a time count, at most tags.MaxHeld of them.
	held := "junk,ABC@2025-01-01T00:00:00Z," + r124.sha + "@not-a-time"
	for i := range 10 {
		held += "," + sha(fmt.Sprint(i)) + "@2025-01-01T00:00:0" + fmt.Sprint(i) + "Z"
	}
	forge(tags.PromotionTag("latest"), map[string]string{
		"com.github.fleetpush.record": "promotion", "com.github.fleetpush.channel": "latest",
		"com.github.fleetpush.version": "v1.2.4", "com.github.fleetpush.held": held,
	})
	if p, err := tagger.New(st, nil).ReadPromotion(ctx, "latest"); err != nil || len(p.Held) != tags.MaxHeld || p.Held[0].SHA != sha("9") {
		t.Errorf("ReadPromotion(latest) = %+v, %v; want the %d newest well-formed commits", p, err, tags.MaxHeld)
	}
	// A claim dated a year ahead of a release with other content.
	forge(tags.ClaimTag("v2.0.0", "00000000000000aa"), map[string]string{
		"com.github.fleetpush.record": "claim", "com.github.fleetpush.version": "v2.0.0", "com.github.fleetpush.nonce": "00000000000000aa",
		"com.github.fleetpush.digest": "sha256:" + strings.Repeat("0", 64), "com.github.fleetpush.at": epoch.AddDate(1, 0, 0).Format("2006-01-02T15:04:05Z"),
	})
	if j := (&job{c: release("x", 9, "v2.0.0"), store: st, clock: clock, seed: 1}).run(); j.err != nil {
		t.Errorf("a release behind a claim dated a year ahead: %v", j.err)
	}
}
