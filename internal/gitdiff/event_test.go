package gitdiff

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRangeFromEvent(t *testing.T) {
	t.Parallel()
	const (
		a    = "1111111111111111111111111111111111111111"
		b    = "2222222222222222222222222222222222222222"
		repo = `"repository": {"default_branch": "trunk"}`
	)
	for _, tc := range []struct {
		name, event, payload string
		want                 Range
		wantDefault          string
		wantErr              string
	}{
		{
			name: "push", event: "push",
			payload:     `{"ref": "refs/heads/trunk", "before": "` + a + `", "after": "` + b + `", "forced": false, ` + repo + `}`,
			want:        Range{Base: a, Head: b, Ref: "refs/heads/trunk"},
			wantDefault: "trunk",
		},
		{
			name: "push of a new branch", event: "push",
			payload:     `{"ref": "refs/heads/feature", "before": "` + zeros + `", "after": "` + b + `", "created": true, ` + repo + `}`,
			want:        Range{Base: zeros, Head: b, Ref: "refs/heads/feature"},
			wantDefault: "trunk",
		},
		{
			name: "push deleting a branch", event: "push",
			payload: `{"ref": "refs/heads/old", "before": "` + a + `", "after": "` + zeros + `", "deleted": true, ` + repo + `}`,
			wantErr: `deletes "refs/heads/old"`,
		},
		{
			name: "push without after", event: "push",
			payload: `{"ref": "refs/heads/x", "before": "` + a + `"}`,
			wantErr: `no "after" commit`,
		},
		{
			name: "pull request", event: "pull_request",
			payload:     `{"action": "synchronize", "pull_request": {"base": {"sha": "` + a + `", "ref": "trunk"}, "head": {"sha": "` + b + `"}}, ` + repo + `}`,
			want:        Range{Base: a, Head: b, ThreeDot: true},
			wantDefault: "trunk",
		},
		{
			name: "pull request target", event: "pull_request_target",
			payload: `{"pull_request": {"base": {"sha": "` + a + `"}, "head": {"sha": "` + b + `"}}}`,
			want:    Range{Base: a, Head: b, ThreeDot: true},
		},
		{
			name: "pull request without shas", event: "pull_request",
			payload: `{"pull_request": {}}`,
			wantErr: "pull_request.base.sha",
		},
		{
			name: "merge group", event: "merge_group",
			payload:     `{"merge_group": {"base_sha": "` + a + `", "head_sha": "` + b + `"}, ` + repo + `}`,
			want:        Range{Base: a, Head: b},
			wantDefault: "trunk",
		},
		{
			name: "workflow_dispatch", event: "workflow_dispatch",
			payload:     `{"inputs": {}, "ref": "refs/heads/trunk", ` + repo + `}`,
			want:        Range{},
			wantDefault: "trunk",
		},
		{
			name: "schedule", event: "schedule",
			payload: `{"schedule": "0 4 * * *"}`,
			want:    Range{},
		},
		{name: "local run, no payload", event: "", payload: "", want: Range{}},
		{name: "not JSON", event: "push", payload: "{", wantErr: `reading the "push" event payload`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, def, err := RangeFromEvent(tc.event, []byte(tc.payload))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("RangeFromEvent error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("range (-want +got):\n%s", diff)
			}
			if def != tc.wantDefault {
				t.Errorf("default branch = %q, want %q", def, tc.wantDefault)
			}
		})
	}
}
