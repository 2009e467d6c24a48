package tags_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetpush/fleetpush/internal/tags"
)

const (
	sha1 = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
	sha2 = "ffeeddccbbaa99887766554433221100ffeeddcc"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	components := []string{"frontend", "backend"}
	for _, tt := range []struct {
		name       string
		policy     tags.Policy
		ref        tags.Ref
		sha        string
		components []string
		want       tags.Plan
		wantErr    string
	}{
		{
			name: "push to main moves latest",
			ref:  tags.Ref{Kind: tags.Branch, Name: "main"}, sha: sha1, components: components,
			want: tags.Plan{Immutable: "main-1a2b3c4d", Latest: true, Components: []string{"frontend", "backend"}},
		},
		{
			name: "push to another branch does not",
			ref:  tags.Ref{Kind: tags.Branch, Name: "feature/Foo_bar"}, sha: sha1, components: components,
			want: tags.Plan{Immutable: "feature-Foo_bar-1a2b3c4d", Components: []string{"frontend", "backend"}},
		},
		{
			name:   "configured main branch and sha length",
			policy: tags.Policy{MainBranch: "trunk", SHALength: 12},
			ref:    tags.Ref{Kind: tags.Branch, Name: "trunk"}, sha: sha1, components: components,
			want: tags.Plan{Immutable: "trunk-1a2b3c4d5e6f", Latest: true, Components: []string{"frontend", "backend"}},
		},
		{
			name:   "main is not special when another branch is main",
			policy: tags.Policy{MainBranch: "trunk"},
			ref:    tags.Ref{Kind: tags.Branch, Name: "main"}, sha: sha1,
			want: tags.Plan{Immutable: "main-1a2b3c4d"},
		},
		{
			name:   "full sha length",
			policy: tags.Policy{SHALength: 40},
			ref:    tags.Ref{Kind: tags.Branch, Name: "main"}, sha: sha1,
			want: tags.Plan{Immutable: "main-" + sha1, Latest: true},
		},
		{
			name: "component release moves stable and publishes only its component",
			ref:  tags.Ref{Kind: tags.Tag, Name: "backend/v1.2.3"}, sha: sha1, components: components,
			want: tags.Plan{Immutable: "v1.2.3", Stable: true, Components: []string{"backend"}},
		},
		{
			name: "pre-release never moves stable",
			ref:  tags.Ref{Kind: tags.Tag, Name: "frontend/v1.3.0-rc.1"}, sha: sha1, components: components,
			want: tags.Plan{Immutable: "v1.3.0-rc.1", Components: []string{"frontend"}},
		},
		{
			name:   "single-artifact release",
			policy: tags.Policy{Single: true},
			ref:    tags.Ref{Kind: tags.Tag, Name: "v2.0.0"}, sha: sha1, components: []string{"fleet"},
			want: tags.Plan{Immutable: "v2.0.0", Stable: true, Components: []string{"fleet"}},
		},
		{
			name: "unknown component",
			ref:  tags.Ref{Kind: tags.Tag, Name: "db/v1.0.0"}, sha: sha1, components: components,
			wantErr: `tag "db/v1.0.0" names component "db", which is not one of the known components (backend, frontend): tag <component>/vX.Y.Z with one of them`,
		},
		{
			name: "short sha",
			ref:  tags.Ref{Kind: tags.Branch, Name: "main"}, sha: "1a2b3c4d",
			wantErr: `commit "1a2b3c4d" is not a full SHA-1 commit id (40 lower-case hex digits): pass the full id, as GITHUB_SHA or git rev-parse HEAD give it`,
		},
		{
			name: "upper-case sha",
			ref:  tags.Ref{Kind: tags.Branch, Name: "main"}, sha: strings.ToUpper(sha1),
			wantErr: `commit "1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D" is not a full SHA-1 commit id (40 lower-case hex digits): pass the full id, as GITHUB_SHA or git rev-parse HEAD give it`,
		},
		{
			name: "sha-256 commit",
			ref:  tags.Ref{Kind: tags.Branch, Name: "main"}, sha: sha1 + "000000000000000000000000",
			wantErr: `commit "` + sha1 + `000000000000000000000000" is not a full SHA-1 commit id (40 lower-case hex digits): pass the full id, as GITHUB_SHA or git rev-parse HEAD give it`,
		},
		{
			name:    "zero ref",
			sha:     sha1,
			wantErr: `ref "" has no kind: parse it with ParseRef`,
		},
		{
			name:   "invalid policy",
			policy: tags.Policy{SHALength: 99},
			ref:    tags.Ref{Kind: tags.Branch, Name: "main"}, sha: sha1,
			wantErr: "sha-length: 99 is out of range: use 7 to 40 (default 8)",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.policy.Plan(tt.ref, tt.sha, tt.components)
			if got, want := errText(err), tt.wantErr; got != want {
				t.Fatalf("Plan() error = %q, want %q", got, want)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Plan() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanDoesNotAliasComponents(t *testing.T) {
	t.Parallel()
	components := []string{"a", "b"}
	pl, err := tags.Policy{}.Plan(tags.Ref{Kind: tags.Branch, Name: "main"}, sha1, components)
	if err != nil {
		t.Fatal(err)
	}
	pl.Components[0] = "changed"
	if got, want := components[0], "a"; got != want {
		t.Errorf("caller's components[0] = %q after changing the plan's, want %q", got, want)
	}
}

func TestSanitizeBranch(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in, want string
	}{
		{name: "plain", in: "main", want: "main"},
		{name: "slash and underscore", in: "feature/Foo_bar", want: "feature-Foo_bar"},
		{name: "dots kept", in: "release/1.x", want: "release-1.x"},
		{name: "each invalid character becomes a dash", in: "a@b+c", want: "a-b-c"},
		{name: "unicode rune is one dash", in: "café", want: "caf-"},
		{name: "invalid UTF-8 byte is one dash", in: "a\xffb", want: "a-b"},
		{name: "leading invalid characters dropped", in: "@/x", want: "x"},
		{name: "leading dots and dashes dropped", in: "-.-x", want: "x"},
		{name: "nothing usable", in: "日本", want: "branch"},
		{name: "empty", in: "", want: "branch"},
		{name: "version-like", in: "v1.2.3", want: "branch-v1.2.3"},
		{name: "upper-case V version-like", in: "V2", want: "branch-V2"},
		{name: "starts with a digit", in: "2024-fix", want: "branch-2024-fix"},
		{name: "digit after dropped characters", in: "/1", want: "branch-1"},
		{name: "v then a letter is fine", in: "vendor/update", want: "vendor-update"},
		{name: "underscore start kept", in: "_wip", want: "_wip"},
		{name: "cut to 128", in: strings.Repeat("a", 200), want: strings.Repeat("a", 128)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, want := tags.SanitizeBranch(tt.in), tt.want; got != want {
				t.Errorf("SanitizeBranch(%q) = %q, want %q", tt.in, got, want)
			}
		})
	}
}

func TestBranchTag(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		policy  tags.Policy
		branch  string
		sha     string
		want    string
		wantErr string
	}{
		{name: "default length", branch: "main", sha: sha1, want: "main-1a2b3c4d"},
		{name: "sanitized", branch: "feature/Foo_bar", sha: sha1, want: "feature-Foo_bar-1a2b3c4d"},
		{name: "shortest", policy: tags.Policy{SHALength: 7}, branch: "main", sha: sha1, want: "main-1a2b3c4"},
		{name: "longest", policy: tags.Policy{SHALength: 40}, branch: "main", sha: sha1, want: "main-" + sha1},
		{
			name: "long branch is cut, commit kept", branch: strings.Repeat("b", 300), sha: sha1,
			want: strings.Repeat("b", 119) + "-1a2b3c4d",
		},
		{
			name: "long branch with full sha", policy: tags.Policy{SHALength: 40}, branch: strings.Repeat("b", 300), sha: sha1,
			want: strings.Repeat("b", 87) + "-" + sha1,
		},
		{name: "version-like branch", branch: "v1.2.3", sha: sha1, want: "branch-v1.2.3-1a2b3c4d"},
		{
			name: "sha length too short", policy: tags.Policy{SHALength: 6}, branch: "main", sha: sha1,
			wantErr: "sha-length: 6 is out of range: use 7 to 40 (default 8)",
		},
		{
			name: "sha length too long", policy: tags.Policy{SHALength: 41}, branch: "main", sha: sha1,
			wantErr: "sha-length: 41 is out of range: use 7 to 40 (default 8)",
		},
		{
			name: "bad sha", branch: "main", sha: "not-a-sha",
			wantErr: `commit "not-a-sha" is not a full SHA-1 commit id (40 lower-case hex digits): pass the full id, as GITHUB_SHA or git rev-parse HEAD give it`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.policy.BranchTag(tt.branch, tt.sha)
			if got, want := errText(err), tt.wantErr; got != want {
				t.Fatalf("BranchTag() error = %q, want %q", got, want)
			}
			if got, want := got, tt.want; got != want {
				t.Errorf("BranchTag(%q) = %q, want %q", tt.branch, got, want)
			}
			if err == nil && (!tags.ValidTag(got) || len(got) > tags.MaxTagLength) {
				t.Errorf("BranchTag(%q) = %q, not a valid OCI tag", tt.branch, got)
			}
		})
	}
}
