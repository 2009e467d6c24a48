package tags_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetpush/fleetpush/internal/tags"
)

// errText is err's text, or "" for nil, so that tables can hold both.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		in   tags.Policy
		want tags.Policy
	}{
		{
			name: "zero value gets the D2 names",
			want: tags.Policy{MainBranch: "main", LatestTag: "latest", StableTag: "latest-stable", SHALength: 8},
		},
		{
			name: "set fields are kept",
			in:   tags.Policy{MainBranch: "trunk", LatestTag: "edge", StableTag: "stable", SHALength: 12, Single: true},
			want: tags.Policy{MainBranch: "trunk", LatestTag: "edge", StableTag: "stable", SHALength: 12, Single: true},
		},
		{
			name: "negative sha length is kept for Validate to report",
			in:   tags.Policy{SHALength: -1},
			want: tags.Policy{MainBranch: "main", LatestTag: "latest", StableTag: "latest-stable", SHALength: -1},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.in.WithDefaults()); diff != "" {
				t.Errorf("WithDefaults() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := tags.Policy{}.WithDefaults()
	with := func(f func(*tags.Policy)) tags.Policy {
		p := ok
		f(&p)
		return p
	}
	for _, tt := range []struct {
		name string
		in   tags.Policy
		want string
	}{
		{name: "defaults", in: ok},
		{name: "custom names", in: tags.Policy{MainBranch: "release/2.x", LatestTag: "edge", StableTag: "stable_1.x", SHALength: 40}},
		{name: "sha length 7", in: with(func(p *tags.Policy) { p.SHALength = 7 })},
		{name: "sha length 40", in: with(func(p *tags.Policy) { p.SHALength = 40 })},
		{
			name: "sha length 6",
			in:   with(func(p *tags.Policy) { p.SHALength = 6 }),
			want: "sha-length: 6 is out of range: use 7 to 40 (default 8)",
		},
		{
			name: "sha length 41",
			in:   with(func(p *tags.Policy) { p.SHALength = 41 }),
			want: "sha-length: 41 is out of range: use 7 to 40 (default 8)",
		},
		{
			name: "zero value without defaults names every input",
			in:   tags.Policy{},
			want: "main-branch: empty: give a branch name such as main\n" +
				"latest-tag: empty: give a tag name such as latest or latest-stable\n" +
				"stable-tag: empty: give a tag name such as latest or latest-stable\n" +
				"sha-length: 0 is out of range: use 7 to 40 (default 8)",
		},
		{
			name: "invalid OCI tag",
			in:   with(func(p *tags.Policy) { p.LatestTag = "la test" }),
			want: `latest-tag: "la test" is not a valid OCI tag: use up to 128 letters, digits, '_', '.' or '-', starting with a letter, digit or '_'`,
		},
		{
			name: "tag starting with a dot",
			in:   with(func(p *tags.Policy) { p.StableTag = ".stable" }),
			want: `stable-tag: ".stable" is not a valid OCI tag: use up to 128 letters, digits, '_', '.' or '-', starting with a letter, digit or '_'`,
		},
		{
			name: "tag of 129 characters",
			in:   with(func(p *tags.Policy) { p.StableTag = strings.Repeat("s", 129) }),
			want: `stable-tag: "` + strings.Repeat("s", 129) + `" is not a valid OCI tag: use up to 128 letters, digits, '_', '.' or '-', starting with a letter, digit or '_'`,
		},
		{name: "tag of 128 characters", in: with(func(p *tags.Policy) { p.StableTag = strings.Repeat("s", 128) })},
		{
			name: "stable tag looks like a release",
			in:   with(func(p *tags.Policy) { p.StableTag = "v1.2.3" }),
			want: `stable-tag: "v1.2.3" looks like a version: a moving tag must not start with a digit or with v and a digit, so that neither fleetpush nor a Flux semver range takes it for a release`,
		},
		{
			name: "major version channel looks like a version",
			in:   with(func(p *tags.Policy) { p.StableTag = "V1" }),
			want: `stable-tag: "V1" looks like a version: a moving tag must not start with a digit or with v and a digit, so that neither fleetpush nor a Flux semver range takes it for a release`,
		},
		{
			name: "latest tag starting with a digit",
			in:   with(func(p *tags.Policy) { p.LatestTag = "2024" }),
			want: `latest-tag: "2024" looks like a version: a moving tag must not start with a digit or with v and a digit, so that neither fleetpush nor a Flux semver range takes it for a release`,
		},
		{name: "v followed by a letter is fine", in: with(func(p *tags.Policy) { p.LatestTag = "vnext" })},
		{
			name: "latest tag looks like a branch build",
			in:   with(func(p *tags.Policy) { p.LatestTag = "main-1a2b3c4d" }),
			want: `latest-tag: "main-1a2b3c4d" ends like a branch build tag (<branch>-<7 to 40 hex digits>) and could clash with one: choose another name`,
		},
		{name: "six hex digits cannot clash", in: with(func(p *tags.Policy) { p.LatestTag = "latest-cafe42" })},
		{name: "upper-case hex cannot clash", in: with(func(p *tags.Policy) { p.LatestTag = "latest-DEADBEEF" })},
		{
			name: "same moving tags",
			in:   with(func(p *tags.Policy) { p.LatestTag, p.StableTag = "prod", "prod" }),
			want: `latest-tag and stable-tag: both are "prod": they must differ, or one channel would carry both main-branch builds and releases`,
		},
		{
			name: "full ref as main branch",
			in:   with(func(p *tags.Policy) { p.MainBranch = "refs/heads/main" }),
			want: `main-branch: "refs/heads/main" is a full ref: give the short branch name, such as "main"`,
		},
		{
			name: "main branch with a space",
			in:   with(func(p *tags.Policy) { p.MainBranch = "my branch" }),
			want: `main-branch: "my branch" is not a valid git branch name: it contains ' '`,
		},
		{
			name: "main branch starting with a dash",
			in:   with(func(p *tags.Policy) { p.MainBranch = "-main" }),
			want: `main-branch: "-main" is not a valid git branch name: it starts with '-'`,
		},
		{
			name: "every problem at once",
			in:   tags.Policy{MainBranch: "a..b", LatestTag: "x", StableTag: "x", SHALength: 99},
			want: `main-branch: "a..b" is not a valid git branch name: it contains ".."` + "\n" +
				`latest-tag and stable-tag: both are "x": they must differ, or one channel would carry both main-branch builds and releases` + "\n" +
				"sha-length: 99 is out of range: use 7 to 40 (default 8)",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, want := errText(tt.in.Validate()), tt.want; got != want {
				t.Errorf("Validate() = %q, want %q", got, want)
			}
		})
	}
}

func TestValidateChannel(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in, want string
	}{
		{name: "latest", in: "latest"},
		{name: "latest-stable", in: "latest-stable"},
		{name: "underscore start", in: "_edge"},
		{name: "empty", in: "", want: "empty: give a tag name such as latest or latest-stable"},
		{name: "slash", in: "a/b", want: `"a/b" is not a valid OCI tag: use up to 128 letters, digits, '_', '.' or '-', starting with a letter, digit or '_'`},
		{name: "plus", in: "v1+x", want: `"v1+x" is not a valid OCI tag: use up to 128 letters, digits, '_', '.' or '-', starting with a letter, digit or '_'`},
		{name: "version", in: "v1.2", want: `"v1.2" looks like a version: a moving tag must not start with a digit or with v and a digit, so that neither fleetpush nor a Flux semver range takes it for a release`},
		{name: "full sha", in: "x-" + strings.Repeat("a", 40), want: `"x-` + strings.Repeat("a", 40) + `" ends like a branch build tag (<branch>-<7 to 40 hex digits>) and could clash with one: choose another name`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, want := errText(tags.ValidateChannel(tt.in)), tt.want; got != want {
				t.Errorf("ValidateChannel(%q) = %q, want %q", tt.in, got, want)
			}
		})
	}
}

func TestValidTag(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"latest", true},
		{"_", true},
		{"0", true},
		{"a.b-c_d", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{".a", false},
		{"-a", false},
		{"a/b", false},
		{"a:b", false},
		{"café", false},
		{"a\n", false},
	} {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got, want := tags.ValidTag(tt.in), tt.want; got != want {
				t.Errorf("ValidTag(%q) = %v, want %v", tt.in, got, want)
			}
		})
	}
}
