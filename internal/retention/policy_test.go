package retention

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func daysAgo(d float64) time.Time { return now.Add(-time.Duration(d * 24 * float64(time.Hour))) }

// mains returns n main builds, one a day, the newest one day old: digest "d<i>", tag
// "main-<8 hex of i>".
func mains(n int) []Version {
	var vs []Version
	for i := 0; i < n; i++ {
		vs = append(vs, Version{Digest: digestN(i), Tags: []string{buildTag("main", i)}, Created: daysAgo(float64(i + 1))})
	}
	return vs
}

func digestN(i int) string { return "sha256:" + strings.Repeat("0", 60) + hex4(i) }
func hex4(i int) string {
	const h = "0123456789abcdef"
	return string([]byte{h[i>>12&15], h[i>>8&15], h[i>>4&15], h[i&15]})
}
func buildTag(branch string, i int) string { return branch + "-" + "abcd" + hex4(i) }

// deleted lists the deleted digests and, for kept ones, the tags that go alone.
func summarize(ds []Decision) (deleted []string, tagsOnly []string) {
	for _, d := range ds {
		if d.Delete {
			deleted = append(deleted, d.Digest)
		} else {
			tagsOnly = append(tagsOnly, d.DeleteTags...)
		}
	}
	return deleted, tagsOnly
}

func TestDecide(t *testing.T) {
	t.Parallel()
	def := Policy{Keep: DefaultKeep, KeepDays: DefaultKeepDays, Grace: DefaultGrace}
	tests := []struct {
		name         string
		p            Policy
		in           func() Input
		wantDeleted  []string
		wantTagsOnly []string
	}{
		{
			name: "defaults keep the 10 newest and the last 30 days",
			p:    def,
			in:   func() Input { return Input{Versions: mains(40), Now: now} },
			// Builds 0..29 are younger than 30 days (1..30 days old: day 30 is not younger).
			wantDeleted: digests(29, 40),
		},
		{
			name:        "keep-days 0 keeps by count only",
			p:           Policy{Keep: 3, KeepDays: 0},
			in:          func() Input { return Input{Versions: mains(6), Now: now} },
			wantDeleted: digests(3, 6),
		},
		{
			name: "keep 0 and keep-days 0 delete every build past the grace period",
			p:    Policy{Keep: 0, KeepDays: 0, Grace: 36 * time.Hour},
			in:   func() Input { return Input{Versions: mains(3), Now: now} },
			// build 0 is one day old: inside the grace period.
			wantDeleted: digests(1, 3),
		},
		{
			name: "channels, releases, records and unknown tags keep their digests",
			p:    Policy{Keep: 0, KeepDays: 0},
			in: func() Input {
				vs := mains(6)
				vs[1].Tags = append(vs[1].Tags, "latest")
				vs[2].Tags = append(vs[2].Tags, "v1.2.3")
				vs[3].Tags = append(vs[3].Tags, "fleetpush-promotion.latest-stable")
				vs[4].Tags = append(vs[4].Tags, "staging")
				return Input{Versions: vs, Now: now}
			},
			wantDeleted:  []string{digestN(0), digestN(5)},
			wantTagsOnly: []string{buildTag("main", 1), buildTag("main", 2), buildTag("main", 3), buildTag("main", 4)},
		},
		{
			name: "a promoted digest is kept, tagged or not",
			p:    Policy{Keep: 0, KeepDays: 0},
			in: func() Input {
				return Input{Versions: mains(3), Promoted: []string{digestN(1)}, Now: now}
			},
			wantDeleted:  []string{digestN(0), digestN(2)},
			wantTagsOnly: []string{buildTag("main", 1)},
		},
		{
			name: "each branch keeps its own newest",
			p:    Policy{Keep: 1, KeepDays: 0},
			in: func() Input {
				vs := mains(3)
				for i := 0; i < 3; i++ {
					vs = append(vs, Version{Digest: digestN(100 + i), Tags: []string{buildTag("feature-x", 100+i)}, Created: daysAgo(float64(50 + i))})
				}
				return Input{Versions: vs, Now: now}
			},
			wantDeleted: []string{digestN(1), digestN(2), digestN(101), digestN(102)},
		},
		{
			name: "a digest shared by a kept and a pruned build loses only the pruned tag",
			p:    Policy{Keep: 1, KeepDays: 0},
			in: func() Input {
				// One digest reused by two commits of main, and a newer release-branch build.
				return Input{Versions: []Version{
					{Digest: digestN(0), Tags: []string{buildTag("main", 0), buildTag("release", 0)}, Created: daysAgo(100)},
					{Digest: digestN(1), Tags: []string{buildTag("release", 1)}, Created: daysAgo(10)},
				}, Now: now}
			},
			wantTagsOnly: []string{buildTag("release", 0)},
		},
		{
			name: "nothing younger than grace goes, tag alone neither",
			p:    Policy{Keep: 0, KeepDays: 0, Grace: time.Hour},
			in: func() Input {
				return Input{Versions: []Version{
					{Digest: digestN(0), Tags: []string{buildTag("main", 0)}, Created: now.Add(-30 * time.Minute)},
					{Digest: digestN(1), Tags: []string{buildTag("main", 1), "latest"}, Created: now.Add(-30 * time.Minute)},
					// An old commit pushed a moment ago (GitHub Packages says when).
					{Digest: digestN(2), Tags: []string{buildTag("main", 2)}, Created: daysAgo(90), Pushed: now.Add(-time.Minute)},
				}, Now: now}
			},
		},
		{
			name: "grace 0 deletes a build of a moment ago",
			p:    Policy{Keep: 0, KeepDays: 0, Grace: 0},
			in: func() Input {
				return Input{Versions: []Version{{Digest: digestN(0), Tags: []string{buildTag("main", 0)}, Created: now}}, Now: now}
			},
			wantDeleted: []string{digestN(0)},
		},
		{
			name: "unknown commit time keeps the digest",
			p:    Policy{Keep: 0, KeepDays: 0},
			in: func() Input {
				return Input{Versions: []Version{{Digest: digestN(0), Tags: []string{buildTag("main", 0)}}}, Now: now}
			},
		},
		{
			name: "version-like and pre-release-like tags are never builds",
			p:    Policy{Keep: 0, KeepDays: 0},
			in: func() Input {
				return Input{Versions: []Version{
					{Digest: digestN(0), Tags: []string{"v1.2.3-abcdef12"}, Created: daysAgo(400)}, // a release
					{Digest: digestN(1), Tags: []string{"1.2-abcdef12"}, Created: daysAgo(400)},
					{Digest: digestN(2), Tags: []string{"V2-abcdef12"}, Created: daysAgo(400)},
					{Digest: digestN(3), Tags: []string{"latest-abcdef"}, Created: daysAgo(400)}, // 6 hex: not a build
				}, Now: now}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ds := Decide(tt.p, tt.in())
			gotDeleted, gotTagsOnly := summarize(ds)
			if diff := cmp.Diff(tt.wantDeleted, gotDeleted); diff != "" {
				t.Errorf("deleted digests (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantTagsOnly, gotTagsOnly); diff != "" {
				t.Errorf("tags deleted alone (-want +got):\n%s", diff)
			}
			for _, d := range ds {
				if d.Reason == "" {
					t.Errorf("%s: no reason", d.Digest)
				}
				if d.Delete != strings.HasPrefix(d.Reason, "deleted:") {
					t.Errorf("%s: delete=%v but reason %q", d.Digest, d.Delete, d.Reason)
				}
			}
		})
	}
}

func digests(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, digestN(i))
	}
	return out
}

func TestDecideReleasesNeverDeleted(t *testing.T) {
	t.Parallel()
	// Whatever the policy, a release's digest stays, even one of a build that goes.
	for _, p := range []Policy{{}, {Keep: 1}, {KeepDays: 1}} {
		vs := mains(20)
		vs[15].Tags = append(vs[15].Tags, "v0.1.0")
		for _, d := range Decide(p, Input{Versions: vs, Now: now}) {
			if d.Digest == digestN(15) && d.Delete {
				t.Fatalf("policy %+v deletes the release's digest: %s", p, d.Reason)
			}
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	err := Policy{Keep: -1, KeepDays: -2, Grace: -time.Second}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, input := range []string{"keep:", "keep-days:", "grace:"} {
		if !strings.Contains(err.Error(), input) {
			t.Errorf("error does not name %s: %v", input, err)
		}
	}
	if err := (Policy{}).Validate(); err != nil {
		t.Errorf("zero policy: %v", err)
	}
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	for tag, want := range map[string]Kind{
		"main-1a2b3c4d":            Build,
		"feature-Foo_bar-1a2b3c4d": Build,
		"branch-v1.2.3-1a2b3c4d":   Build,
		"v1.2.3":                   Release,
		"v1.2.3-rc.1":              Release,
		"latest":                   Other,
		"latest-stable":            Other,
		"fleetpush-claim.v1.0.0.0123456789abcdef": Record,
		"fleetpush-promotion.latest-stable":       Record,
		"v1.2-1a2b3c4d":                           Other,
	} {
		if got := KindOf(tag); got != want {
			t.Errorf("KindOf(%q) = %v, want %v", tag, got, want)
		}
	}
}
