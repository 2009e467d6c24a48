package tags_test

import (
	"testing"
	"time"

	"github.com/fleetpush/fleetpush/internal/tags"
)

// history is a fake git history for MoveLatest: child → parent. Commits not
// in it are unknown, as in a shallow clone.
type history map[string]string

func (h history) ancestor(a, b string) (bool, bool) {
	if _, ok := h[b]; !ok {
		return false, false
	}
	for c, ok := h[b]; ok; c, ok = h[c] {
		if c == a {
			return true, true
		}
	}
	return false, true
}

func TestMoveLatest(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	// c1 ← c2 ← c3 on main; x3 is c2's other child (a force push).
	const c1, c2, c3, x3 = "c100000000000000000000000000000000000000", "c200000000000000000000000000000000000000", "c300000000000000000000000000000000000000", "e300000000000000000000000000000000000000"
	full := history{c2: c1, c3: c2, x3: c2, c1: ""}
	shallow := history{} // knows nothing
	for _, tt := range []struct {
		name     string
		current  tags.Head
		ours     tags.Head
		ancestor func(a, b string) (bool, bool)
		want     bool
	}{
		{name: "absent tag", ours: tags.Head{SHA: c1, Created: t0}, ancestor: full.ancestor, want: true},
		{name: "absent tag, no ancestry", ours: tags.Head{SHA: c1, Created: t0}, want: true},
		{name: "same commit is idempotent", current: tags.Head{SHA: c2, Created: t0}, ours: tags.Head{SHA: c2, Created: t0}, ancestor: full.ancestor, want: true},
		{name: "forward by ancestry", current: tags.Head{SHA: c1, Created: t0}, ours: tags.Head{SHA: c3, Created: t0.Add(time.Hour)}, ancestor: full.ancestor, want: true},
		{name: "never backwards by ancestry", current: tags.Head{SHA: c3, Created: t0.Add(time.Hour)}, ours: tags.Head{SHA: c1, Created: t0}, ancestor: full.ancestor, want: false},
		{
			name:    "ancestry beats a skewed clock forward",
			current: tags.Head{SHA: c1, Created: t0.Add(time.Hour)}, ours: tags.Head{SHA: c2, Created: t0},
			ancestor: full.ancestor, want: true,
		},
		{
			name:    "ancestry beats a skewed clock backward",
			current: tags.Head{SHA: c2, Created: t0}, ours: tags.Head{SHA: c1, Created: t0.Add(time.Hour)},
			ancestor: full.ancestor, want: false,
		},
		{name: "unknown ancestry, ours newer", current: tags.Head{SHA: c1, Created: t0}, ours: tags.Head{SHA: c2, Created: t0.Add(time.Second)}, ancestor: shallow.ancestor, want: true},
		{name: "never backwards by time", current: tags.Head{SHA: c2, Created: t0.Add(time.Second)}, ours: tags.Head{SHA: c1, Created: t0}, ancestor: shallow.ancestor, want: false},
		{name: "nil ancestry uses time", current: tags.Head{SHA: c2, Created: t0.Add(time.Minute)}, ours: tags.Head{SHA: c1, Created: t0}, want: false},
		{
			name:    "diverged history uses time: newer force push moves",
			current: tags.Head{SHA: c3, Created: t0}, ours: tags.Head{SHA: x3, Created: t0.Add(time.Minute)},
			ancestor: full.ancestor, want: true,
		},
		{
			name:    "diverged history uses time: older does not",
			current: tags.Head{SHA: x3, Created: t0.Add(time.Minute)}, ours: tags.Head{SHA: c3, Created: t0},
			ancestor: full.ancestor, want: false,
		},
		{name: "equal time, ours sorts after", current: tags.Head{SHA: c1, Created: t0}, ours: tags.Head{SHA: c2, Created: t0}, ancestor: shallow.ancestor, want: true},
		{name: "equal time, ours sorts before", current: tags.Head{SHA: c2, Created: t0}, ours: tags.Head{SHA: c1, Created: t0}, ancestor: shallow.ancestor, want: false},
		{
			name:    "times compared to the second",
			current: tags.Head{SHA: c2, Created: t0}, ours: tags.Head{SHA: c1, Created: t0.Add(999 * time.Millisecond)},
			ancestor: shallow.ancestor, want: false,
		},
		{
			name:    "time zones do not matter",
			current: tags.Head{SHA: c1, Created: t0}, ours: tags.Head{SHA: c2, Created: t0.Add(time.Second).In(time.FixedZone("CEST", 2*3600))},
			ancestor: shallow.ancestor, want: true,
		},
		{name: "current without revision, ours newer", current: tags.Head{Created: t0}, ours: tags.Head{SHA: c1, Created: t0.Add(time.Second)}, ancestor: full.ancestor, want: true},
		{name: "current without revision, ours older", current: tags.Head{Created: t0}, ours: tags.Head{SHA: c1, Created: t0.Add(-time.Second)}, ancestor: full.ancestor, want: false},
		{name: "current without created, ancestry unknown", current: tags.Head{SHA: c1}, ours: tags.Head{SHA: c2, Created: t0}, ancestor: shallow.ancestor, want: true},
		{
			name:    "ancestor called with current first",
			current: tags.Head{SHA: c1, Created: t0}, ours: tags.Head{SHA: c2, Created: t0.Add(-time.Hour)},
			ancestor: func(a, b string) (bool, bool) { return a == c1 && b == c2, true },
			want:     true,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, want := tags.MoveLatest(tt.current, tt.ours, tt.ancestor), tt.want; got != want {
				t.Errorf("MoveLatest(%+v, %+v) = %v, want %v", tt.current, tt.ours, got, want)
			}
		})
	}
}

// TestMoveLatestConverges runs two overlapping publishes in both orders, each
// re-reading the tag right before moving it: both orders end at the same
// commit, and never at the older one when the order is known.
func TestMoveLatestConverges(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	const a, b = "aaaa000000000000000000000000000000000000", "bbbb000000000000000000000000000000000000"
	for _, tt := range []struct {
		name     string
		a, b     tags.Head
		ancestor func(x, y string) (bool, bool)
		want     string
	}{
		{name: "b descends from a", a: tags.Head{SHA: a, Created: t0}, b: tags.Head{SHA: b, Created: t0}, ancestor: history{b: a, a: ""}.ancestor, want: b},
		{name: "a descends from b", a: tags.Head{SHA: a, Created: t0}, b: tags.Head{SHA: b, Created: t0}, ancestor: history{a: b, b: ""}.ancestor, want: a},
		{name: "unknown, a newer", a: tags.Head{SHA: a, Created: t0.Add(time.Second)}, b: tags.Head{SHA: b, Created: t0}, want: a},
		{name: "unknown, same second", a: tags.Head{SHA: a, Created: t0}, b: tags.Head{SHA: b, Created: t0}, want: b},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, order := range [][2]tags.Head{{tt.a, tt.b}, {tt.b, tt.a}} {
				var latest tags.Head
				for _, run := range order {
					if tags.MoveLatest(latest, run, tt.ancestor) {
						latest = run
					}
				}
				if got, want := latest.SHA, tt.want; got != want {
					t.Errorf("publishing %s then %s leaves latest at %s, want %s", order[0].SHA[:4], order[1].SHA[:4], got[:4], want[:4])
				}
			}
		})
	}
}

func TestMoveStable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		version  string
		existing []string
		want     bool
	}{
		{name: "first release", version: "v1.0.0", want: true},
		{name: "first release, listed", version: "v1.0.0", existing: []string{"v1.0.0", "latest", "main-1a2b3c4d"}, want: true},
		{name: "newer release", version: "v1.1.0", existing: []string{"v1.0.0", "v1.0.1", "v1.1.0", "latest-stable"}, want: true},
		{name: "older hotfix does not move it", version: "v1.0.1", existing: []string{"v1.0.0", "v1.1.0", "v1.0.1"}, want: false},
		{name: "re-release of the greatest is idempotent", version: "v1.1.0", existing: []string{"v1.1.0", "v1.0.0"}, want: true},
		{name: "pre-release never", version: "v2.0.0-rc.1", existing: []string{"v1.0.0"}, want: false},
		{name: "pre-release never, even first", version: "v1.0.0-alpha", want: false},
		{name: "greater pre-release present is ignored", version: "v1.1.0", existing: []string{"v1.2.0-rc.1", "v1.1.0"}, want: true},
		{name: "non-canonical tags ignored", version: "v1.1.0", existing: []string{"v2", "v2.0", "2.0.0", "V2.0.0", "v1.1.0"}, want: true},
		{name: "numeric not lexical order", version: "v1.10.0", existing: []string{"v1.9.0", "v1.10.0"}, want: true},
		{name: "numeric not lexical order, older", version: "v1.9.0", existing: []string{"v1.9.0", "v1.10.0"}, want: false},
		{name: "major version", version: "v2.0.0", existing: []string{"v1.99.99"}, want: true},
		{name: "v-less version", version: "1.2.3", want: false},
		{name: "short version", version: "v1.2", want: false},
		{name: "build metadata", version: "v1.2.3+meta", want: false},
		{name: "empty", version: "", want: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, want := tags.MoveStable(tt.version, tt.existing), tt.want; got != want {
				t.Errorf("MoveStable(%q, %q) = %v, want %v", tt.version, tt.existing, got, want)
			}
		})
	}
}

func TestHighestStable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		in   []string
		want string
	}{
		{name: "none"},
		{name: "only moving and pre-release tags", in: []string{"latest", "latest-stable", "v1.0.0-rc.1", "v1.0"}},
		{name: "numeric order", in: []string{"v1.9.0", "v1.10.0", "v1.2.0", "v2.0.0-rc.1"}, want: "v1.10.0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, want := tags.HighestStable(tt.in), tt.want; got != want {
				t.Errorf("HighestStable(%q) = %q, want %q", tt.in, got, want)
			}
		})
	}
}
