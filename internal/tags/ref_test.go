package tags_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetpush/fleetpush/internal/tags"
)

func TestParseRef(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		in      string
		want    tags.Ref
		wantErr string
	}{
		{name: "main", in: "refs/heads/main", want: tags.Ref{Kind: tags.Branch, Name: "main"}},
		{name: "nested branch", in: "refs/heads/feature/Foo_bar", want: tags.Ref{Kind: tags.Branch, Name: "feature/Foo_bar"}},
		{name: "component release", in: "refs/tags/frontend/v1.2.3", want: tags.Ref{Kind: tags.Tag, Name: "frontend/v1.2.3"}},
		{name: "single release", in: "refs/tags/v1.2.3", want: tags.Ref{Kind: tags.Tag, Name: "v1.2.3"}},
		{name: "any tag parses; releases are checked later", in: "refs/tags/nightly", want: tags.Ref{Kind: tags.Tag, Name: "nightly"}},
		{name: "branch with @ and unicode", in: "refs/heads/fix@home/café", want: tags.Ref{Kind: tags.Branch, Name: "fix@home/café"}},
		{
			name:    "empty",
			in:      "",
			wantErr: "no git ref given: set GITHUB_REF (GitHub Actions sets it) or --ref, such as refs/heads/main or refs/tags/v1.2.3",
		},
		{
			name:    "pull request merge ref",
			in:      "refs/pull/42/merge",
			wantErr: `ref "refs/pull/42/merge" is a pull request: publish runs on push events (branches and tags); check pull requests with validate (command: validate)`,
		},
		{
			name:    "short name",
			in:      "main",
			wantErr: `ref "main" is neither a branch nor a tag: give refs/heads/<branch> or refs/tags/<tag>`,
		},
		{
			name:    "remote ref",
			in:      "refs/remotes/origin/main",
			wantErr: `ref "refs/remotes/origin/main" is neither a branch nor a tag: give refs/heads/<branch> or refs/tags/<tag>`,
		},
		{
			name:    "empty branch",
			in:      "refs/heads/",
			wantErr: `ref "refs/heads/": "" is not a valid git branch name: it is empty`,
		},
		{
			name:    "double dot",
			in:      "refs/tags/v1..2",
			wantErr: `ref "refs/tags/v1..2": "v1..2" is not a valid git tag name: it contains ".."`,
		},
		{
			name:    "trailing slash",
			in:      "refs/heads/a/",
			wantErr: `ref "refs/heads/a/": "a/" is not a valid git branch name: it starts or ends with '/'`,
		},
		{
			name:    "double slash",
			in:      "refs/heads/a//b",
			wantErr: `ref "refs/heads/a//b": "a//b" is not a valid git branch name: it contains "//"`,
		},
		{
			name:    "reflog syntax",
			in:      "refs/heads/main@{1}",
			wantErr: `ref "refs/heads/main@{1}": "main@{1}" is not a valid git branch name: it contains "@{"`,
		},
		{
			name:    "at sign alone",
			in:      "refs/heads/@",
			wantErr: `ref "refs/heads/@": "@" is not a valid git branch name: it is "@"`,
		},
		{
			name:    "trailing dot",
			in:      "refs/heads/main.",
			wantErr: `ref "refs/heads/main.": "main." is not a valid git branch name: it ends with '.'`,
		},
		{
			name:    "newline",
			in:      "refs/heads/main\n",
			wantErr: `ref "refs/heads/main\n": "main\n" is not a valid git branch name: it contains a control character`,
		},
		{
			name:    "colon",
			in:      "refs/heads/a:b",
			wantErr: `ref "refs/heads/a:b": "a:b" is not a valid git branch name: it contains ':'`,
		},
		{
			name:    "glob",
			in:      "refs/tags/v*",
			wantErr: `ref "refs/tags/v*": "v*" is not a valid git tag name: it contains '*'`,
		},
		{
			name:    "hidden component",
			in:      "refs/heads/a/.b",
			wantErr: `ref "refs/heads/a/.b": "a/.b" is not a valid git branch name: component ".b" starts with '.'`,
		},
		{
			name:    "lock component",
			in:      "refs/heads/main.lock",
			wantErr: `ref "refs/heads/main.lock": "main.lock" is not a valid git branch name: component "main.lock" ends with ".lock"`,
		},
		{
			name:    "branch starting with a dash",
			in:      "refs/heads/-x",
			wantErr: `ref "refs/heads/-x": "-x" is not a valid git branch name: it starts with '-'`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tags.ParseRef(tt.in)
			if got, want := errText(err), tt.wantErr; got != want {
				t.Fatalf("ParseRef(%q) error = %q, want %q", tt.in, got, want)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseRef(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if err == nil {
				if got, want := got.Full(), tt.in; got != want {
					t.Errorf("ParseRef(%q).Full() = %q, want the input back", tt.in, got)
				}
			}
		})
	}
}

func TestRefKindString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   tags.RefKind
		want string
	}{
		{tags.Branch, "branch"},
		{tags.Tag, "tag"},
		{0, "RefKind(0)"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got, want := tt.in.String(), tt.want; got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
		})
	}
}
