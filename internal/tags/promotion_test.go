package tags_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetpush/fleetpush/internal/tags"
)

func TestPastPromotion(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	const c1, c2, c3, c4, x3 = "c100000000000000000000000000000000000000", "c200000000000000000000000000000000000000", "c300000000000000000000000000000000000000", "c400000000000000000000000000000000000000", "e300000000000000000000000000000000000000"
	// c1 ← c2 ← c3 ← c4; x3 is c2's other child.
	full := history{c2: c1, c3: c2, c4: c3, x3: c2, c1: ""}
	h := func(sha string, s int) tags.Head {
		return tags.Head{SHA: sha, Created: t0.Add(time.Duration(s) * time.Second)}
	}
	// A rollback of latest from c3 to c1: both are held.
	rollback := []tags.Head{h(c3, 3), h(c1, 1)}
	for _, tt := range []struct {
		name     string
		held     []tags.Head
		at       time.Time
		ours     tags.Head
		ancestor func(a, b string) (bool, bool)
		want     bool
	}{
		{name: "re-run of the commit rolled back from", held: rollback, ours: h(c3, 3), ancestor: full.ancestor, want: false},
		{name: "re-run of the promoted commit", held: rollback, ours: h(c1, 1), ancestor: full.ancestor, want: false},
		{name: "re-run of a commit in between", held: rollback, ours: h(c2, 2), ancestor: full.ancestor, want: false},
		{name: "a newer commit", held: rollback, ours: h(c4, 4), ancestor: full.ancestor, want: true},
		{name: "a newer commit with a skewed clock", held: rollback, ours: h(c4, -60), ancestor: full.ancestor, want: true},
		{name: "an older commit with a skewed clock", held: rollback, ours: h(c2, 60), ancestor: full.ancestor, want: false},
		{name: "no ancestry: newer by time", held: rollback, ours: h(c4, 4), want: true},
		{name: "no ancestry: older by time", held: rollback, ours: h(c2, 2), want: false},
		{name: "diverged, newer by time", held: rollback, ours: h(x3, 10), ancestor: full.ancestor, want: true},
		{name: "diverged, older by time", held: rollback, ours: h(x3, 2), ancestor: full.ancestor, want: false},
		{name: "nothing held: the promotion time decides, older", at: t0.Add(time.Minute), ours: h(c4, 4), want: false},
		{name: "nothing held: the promotion time decides, newer", at: t0, ours: h(c4, 4), want: true},
		{name: "nothing held, no time: nothing to hold", ours: h(c1, 1), want: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tags.PastPromotion(tt.held, tt.at, tt.ours, tt.ancestor); got != tt.want {
				t.Errorf("PastPromotion(%v, %v, %v) = %v, want %v", tt.held, tt.at, tt.ours, got, tt.want)
			}
		})
	}
}

func TestMergeHeld(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	h := func(c byte, s int) tags.Head {
		sha := make([]byte, 40)
		for i := range sha {
			sha[i] = c
		}
		return tags.Head{SHA: string(sha), Created: t0.Add(time.Duration(s) * time.Second)}
	}
	for _, tt := range []struct {
		name string
		in   []tags.Head
		want []tags.Head
	}{
		{name: "none", in: nil, want: nil},
		{name: "zero heads dropped", in: []tags.Head{{}, {Created: t0}, h('a', 1)}, want: []tags.Head{h('a', 1)}},
		{name: "newest first", in: []tags.Head{h('a', 1), h('b', 3), h('c', 2)}, want: []tags.Head{h('b', 3), h('c', 2), h('a', 1)}},
		{name: "one per commit, newest time kept", in: []tags.Head{h('a', 1), h('a', 5)}, want: []tags.Head{h('a', 5)}},
		{name: "sub-second times truncated", in: []tags.Head{{SHA: h('a', 0).SHA, Created: t0.Add(700 * time.Millisecond)}}, want: []tags.Head{h('a', 0)}},
		{name: "at most MaxHeld, the oldest dropped", in: []tags.Head{h('a', 1), h('b', 2), h('c', 3), h('d', 4), h('e', 5)}, want: []tags.Head{h('e', 5), h('d', 4), h('c', 3), h('b', 2)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tags.MergeHeld(tt.in...)); diff != "" {
				t.Errorf("MergeHeld (-want +got):\n%s", diff)
			}
		})
	}
}
