package tags_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/semver"

	"github.com/fleetpush/fleetpush/internal/tags"
)

// Fuzz targets: run briefly with `go test -fuzz=FuzzX ./internal/tags`; any
// input that fails is kept under testdata/fuzz/FuzzX and replayed by go test.

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"", "refs/heads/main", "refs/heads/feature/Foo_bar", "refs/tags/frontend/v1.2.3",
		"refs/tags/v1.2.3", "refs/pull/1/merge", "refs/heads/", "refs/heads/a..b",
		"refs/heads/@", "refs/heads/a@{1}", "refs/heads/x.lock", "refs/heads/\xff", "main",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := tags.ParseRef(in)
		if err != nil {
			if r != (tags.Ref{}) {
				t.Errorf("ParseRef(%q) = %+v with error %v, want the zero Ref", in, r, err)
			}
			return
		}
		if r.Kind != tags.Branch && r.Kind != tags.Tag {
			t.Errorf("ParseRef(%q).Kind = %v", in, r.Kind)
		}
		if r.Name == "" || strings.Contains(r.Name, "..") || strings.Contains(r.Name, "//") {
			t.Errorf("ParseRef(%q).Name = %q, not a valid ref name", in, r.Name)
		}
		if got := r.Full(); got != in {
			t.Errorf("ParseRef(%q).Full() = %q, want the input back", in, got)
		}
	})
}

func FuzzParseRelease(f *testing.F) {
	for _, s := range []string{
		"frontend/v1.2.3", "backend/v2.0.0-rc.1", "v1.2.3", "v1.2", "1.2.3", "v1.2.3+meta",
		"frontend/v01.2.3", "db/v1.0.0", "/v1.0.0", "frontend/", "a/b/v1.0.0", "v1.2.3-" + strings.Repeat("x", 130),
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	components := []string{"frontend", "backend", "db"}
	f.Fuzz(func(t *testing.T, tag string, single bool) {
		rel, err := tags.Policy{Single: single}.ParseRelease(tag, components)
		if err != nil {
			if rel != (tags.Release{}) {
				t.Errorf("ParseRelease(%q) = %+v with error %v, want the zero Release", tag, rel, err)
			}
			if err.Error() == "" || !strings.Contains(err.Error(), "tag ") {
				t.Errorf("ParseRelease(%q) error %q does not name the tag", tag, err)
			}
			return
		}
		if !tags.IsRelease(rel.Version) || !tags.ValidTag(rel.Version) {
			t.Errorf("ParseRelease(%q).Version = %q, not a release version and valid tag", tag, rel.Version)
		}
		if semver.Canonical(rel.Version) != rel.Version {
			t.Errorf("ParseRelease(%q).Version = %q, not canonical", tag, rel.Version)
		}
		back := rel.Version
		if single {
			if rel.Component != "" {
				t.Errorf("ParseRelease(%q) in single mode: Component = %q, want empty", tag, rel.Component)
			}
		} else {
			back = rel.Component + "/" + rel.Version
			if !slices.Contains(components, rel.Component) {
				t.Errorf("ParseRelease(%q).Component = %q, not a known component", tag, rel.Component)
			}
		}
		if back != tag {
			t.Errorf("ParseRelease(%q) = %+v, which does not round-trip (%q)", tag, rel, back)
		}
	})
}

func FuzzMoveStable(f *testing.F) {
	f.Add("v1.0.1", "v1.1.0", "v1.0.0", "latest")
	f.Add("v1.1.0", "v1.0.0", "v1.1.0", "v1.2.0-rc.1")
	f.Add("v2.0.0-rc.1", "v1.0.0", "", "")
	f.Add("v1.10.0", "v1.9.0", "v1.2", "v2")
	f.Add("1.2.3", "v1.2.3+meta", "V2.0.0", "v01.0.0")
	f.Fuzz(func(t *testing.T, version, a, b, c string) {
		existing := []string{a, b, c}
		got := tags.MoveStable(version, existing)
		if got && semver.Prerelease(version) != "" {
			t.Errorf("MoveStable(%q, %q) = true for a pre-release", version, existing)
		}
		if got && !tags.IsStable(version) {
			t.Errorf("MoveStable(%q, %q) = true for a non-release", version, existing)
		}
		for _, e := range existing {
			if got && tags.IsStable(e) && semver.Compare(e, version) > 0 {
				t.Errorf("MoveStable(%q, %q) = true, but %q is greater", version, existing, e)
			}
		}
		high := tags.HighestStable(existing)
		want := tags.IsStable(version) && (high == "" || semver.Compare(version, high) >= 0)
		if got != want {
			t.Errorf("MoveStable(%q, %q) = %v, but the highest stable is %q", version, existing, got, high)
		}
		// Releasing the greatest version again is idempotent.
		if high != "" && !tags.MoveStable(high, existing) {
			t.Errorf("MoveStable(%q, %q) = false for the highest stable release", high, existing)
		}
	})
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{
		"main", "feature/Foo_bar", "", "日本", "v1.2.3", "V2", "2024-fix", "-.-x", "a\xffb",
		strings.Repeat("b", 300), "release/1.x", "@", "_wip",
	} {
		f.Add(s, uint8(8))
	}
	const sha = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
	f.Fuzz(func(t *testing.T, branch string, n uint8) {
		s := tags.SanitizeBranch(branch)
		if !tags.ValidTag(s) {
			t.Errorf("SanitizeBranch(%q) = %q, not a valid OCI tag", branch, s)
		}
		p := tags.Policy{SHALength: tags.MinSHALength + int(n)%(tags.MaxSHALength-tags.MinSHALength+1)}
		tag, err := p.BranchTag(branch, sha)
		if err != nil {
			t.Fatalf("BranchTag(%q) with sha-length %d: %v", branch, p.SHALength, err)
		}
		if !tags.ValidTag(tag) || len(tag) > tags.MaxTagLength {
			t.Errorf("BranchTag(%q) = %q, not a valid OCI tag", branch, tag)
		}
		if !strings.HasSuffix(tag, "-"+sha[:p.SHALength]) {
			t.Errorf("BranchTag(%q) = %q, lost its commit suffix", branch, tag)
		}
		if !strings.HasPrefix(s, strings.TrimSuffix(tag, "-"+sha[:p.SHALength])) {
			t.Errorf("BranchTag(%q) = %q, does not start with SanitizeBranch = %q", branch, tag, s)
		}
		// The three kinds of tags never clash.
		if semver.IsValid(tag) || tags.IsRelease(tag) {
			t.Errorf("BranchTag(%q) = %q, reads as a version", branch, tag)
		}
		if c := tag[0]; c >= '0' && c <= '9' || (c == 'v' || c == 'V') && len(tag) > 1 && tag[1] >= '0' && tag[1] <= '9' {
			t.Errorf("BranchTag(%q) = %q, starts like a version", branch, tag)
		}
		if tags.ValidateChannel(tag) == nil {
			t.Errorf("BranchTag(%q) = %q, is accepted as a moving tag name", branch, tag)
		}
	})
}

func FuzzParseRevision(f *testing.F) {
	const sha = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
	for _, s := range []string{
		"main@sha1:" + sha, "sha1:" + sha, sha, "main/" + sha, "@sha1:" + sha, "", "a@sha1:b@sha1:" + sha,
		"latest@sha256:" + sha,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rev string) {
		name, got, err := tags.ParseRevision(rev)
		if err != nil {
			return
		}
		if len(got) != 40 || strings.Trim(got, "0123456789abcdef") != "" {
			t.Errorf("ParseRevision(%q) sha = %q, not 40 lower-case hex", rev, got)
		}
		n2, s2, err := tags.ParseRevision(tags.Revision(name, got))
		if err != nil || n2 != name || s2 != got {
			t.Errorf("ParseRevision(Revision(%q, %q)) = %q, %q, %v; want them back", name, got, n2, s2, err)
		}
	})
}

// FuzzMoveLatest checks that, with ancestry unknown, exactly one of two
// different commits wins whatever their times: overlapping runs converge.
func FuzzMoveLatest(f *testing.F) {
	f.Add("c1", "c2", int64(0), int64(0))
	f.Add("c1", "c2", int64(1), int64(0))
	f.Add("", "c2", int64(1), int64(1))
	f.Fuzz(func(t *testing.T, shaA, shaB string, secA, secB int64) {
		if shaA == shaB {
			return
		}
		a := tags.Head{SHA: shaA, Created: time.Unix(secA, 0)}
		b := tags.Head{SHA: shaB, Created: time.Unix(secB, 0)}
		ab, ba := tags.MoveLatest(a, b, nil), tags.MoveLatest(b, a, nil)
		if ab == ba {
			t.Errorf("MoveLatest(%+v, %+v) = %v and the reverse = %v; want exactly one to win", a, b, ab, ba)
		}
	})
}
