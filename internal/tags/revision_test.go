package tags_test

import (
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/tags"
)

func TestRevision(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, ref, sha, want string
	}{
		{name: "branch", ref: "main", sha: sha1, want: "main@sha1:" + sha1},
		{name: "component tag", ref: "frontend/v1.2.3", sha: sha1, want: "frontend/v1.2.3@sha1:" + sha1},
		{name: "no ref", sha: sha1, want: "sha1:" + sha1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, want := tags.Revision(tt.ref, tt.sha), tt.want; got != want {
				t.Errorf("Revision(%q, %q) = %q, want %q", tt.ref, tt.sha, got, want)
			}
		})
	}
}

func TestParseRevision(t *testing.T) {
	t.Parallel()
	const form = "expected <branch|tag>@sha1:<40 lower-case hex digits>"
	for _, tt := range []struct {
		name     string
		in       string
		wantName string
		wantSHA  string
		wantErr  string
	}{
		{name: "current flux form", in: "main@sha1:" + sha1, wantName: "main", wantSHA: sha1},
		{name: "tag with slash", in: "frontend/v1.2.3@sha1:" + sha1, wantName: "frontend/v1.2.3", wantSHA: sha1},
		{name: "name with @", in: "fix@home@sha1:" + sha1, wantName: "fix@home", wantSHA: sha1},
		{name: "sha1 prefix only", in: "sha1:" + sha1, wantSHA: sha1},
		{name: "bare sha", in: sha1, wantSHA: sha1},
		{name: "legacy branch/sha", in: "main/" + sha1, wantName: "main", wantSHA: sha1},
		{name: "legacy nested branch/sha", in: "feature/x/" + sha1, wantName: "feature/x", wantSHA: sha1},
		{name: "empty", in: "", wantErr: "empty revision: expected <branch|tag>@sha1:<40 hex digits>"},
		{name: "no name before @sha1", in: "@sha1:" + sha1, wantErr: `revision "@sha1:` + sha1 + `" has no ref name before @sha1: expected <branch|tag>@sha1:<40 hex digits>`},
		{name: "oci digest, not a commit", in: "latest@sha256:" + sha1 + sha1[:24], wantErr: `revision "latest@sha256:` + sha1 + sha1[:24] + `" does not end in a full SHA-1 commit id: ` + form},
		{name: "short sha", in: "main@sha1:1a2b3c4d", wantErr: `revision "main@sha1:1a2b3c4d" does not end in a full SHA-1 commit id: ` + form},
		{name: "upper-case sha", in: "main@sha1:" + strings.ToUpper(sha1), wantErr: `revision "main@sha1:` + strings.ToUpper(sha1) + `" does not end in a full SHA-1 commit id: ` + form},
		{name: "free text", in: "v1.2.3", wantErr: `revision "v1.2.3" does not end in a full SHA-1 commit id: ` + form},
		{name: "legacy form without name", in: "/" + sha1, wantErr: `revision "/` + sha1 + `" does not end in a full SHA-1 commit id: ` + form},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name, sha, err := tags.ParseRevision(tt.in)
			if got, want := errText(err), tt.wantErr; got != want {
				t.Fatalf("ParseRevision(%q) error = %q, want %q", tt.in, got, want)
			}
			if got, want := name, tt.wantName; got != want {
				t.Errorf("ParseRevision(%q) name = %q, want %q", tt.in, got, want)
			}
			if got, want := sha, tt.wantSHA; got != want {
				t.Errorf("ParseRevision(%q) sha = %q, want %q", tt.in, got, want)
			}
		})
	}
}
