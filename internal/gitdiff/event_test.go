package gitdiff

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetpush/fleetpush/internal/inputfile"
)

func TestEventRange(t *testing.T) {
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
			ev := ParseEvent(tc.event, []byte(tc.payload))
			got, err := ev.Range()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Range error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("range (-want +got):\n%s", diff)
			}
			if def := ev.DefaultBranch; def != tc.wantDefault {
				t.Errorf("default branch = %q, want %q", def, tc.wantDefault)
			}
		})
	}
}

// TestReadEvent: a missing, oversized or malformed payload is an Event whose Range says why (so
// detection falls back to every component), never a failure of the run; a good one is parsed
// once, name and default branch included.
func TestReadEvent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", []byte(`{"ref":"refs/heads/main","before":"`+strings.Repeat("1", 40)+`","after":"`+strings.Repeat("2", 40)+`","repository":{"default_branch":"trunk"}}`))
	huge := write("huge.json", []byte(`{"ref":"`))
	if err := os.Truncate(huge, inputfile.Event.Max+1); err != nil { // sparse: no 25 MiB written
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, wantErr, wantDefault string
	}{
		{name: "no path: a local run", path: ""},
		{name: "good", path: good, wantDefault: "trunk"},
		{name: "missing file", path: filepath.Join(dir, "nope.json"), wantErr: "reading GITHUB_EVENT_PATH"},
		{name: "larger than any event", path: huge, wantErr: "larger than 25 MiB"},
		{name: "a FIFO nobody writes", path: fifo, wantErr: "a named pipe (FIFO), not a regular file"},
		{name: "an endless device", path: "/dev/zero", wantErr: "a character device, not a regular file"},
		{name: "a directory", path: dir, wantErr: "a directory, not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := ReadEvent("push", tc.path)
			if ev.Name != "push" {
				t.Errorf("Name = %q, want push", ev.Name)
			}
			_, err := ev.Range()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || ev.Err == nil {
					t.Fatalf("Range error = %v (Err %v), want one containing %q", err, ev.Err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.DefaultBranch != tc.wantDefault {
				t.Errorf("DefaultBranch = %q, want %q", ev.DefaultBranch, tc.wantDefault)
			}
		})
	}
}
