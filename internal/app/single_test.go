package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestPublishFleetAsOneArtifact publishes a d2-fleet style repository as one artifact to the
// repository itself: main-<sha> + latest on main, vX.Y.Z + latest-stable on a release tag.
func TestPublishFleetAsOneArtifact(t *testing.T) {
	t.Parallel()
	host := testenv.MemRegistry(t, nil)
	repo := testenv.NewGitRepo(t, "../../testdata/fleet")
	prefix := host + "/acme/fleet"
	sha := repo.Git("rev-parse", "HEAD")
	code, rs, stderr := publishJSON(t, nil, "publish", "--source", repo.Dir, "--repository", prefix, "--path", "./")
	mustCode(t, code, 0, stderr)
	r, ok := rs[""]
	if !ok || r.Status != report.Pushed {
		t.Fatalf("fleet publish = %+v, want one pushed artifact", rs)
	}
	for _, tag := range []string{"main-" + sha[:8], "latest"} {
		if got := testenv.DigestAt(t, host, "acme/fleet", tag); got != r.Digest {
			t.Errorf("fleet:%s = %s, want %s", tag, got, r.Digest)
		}
	}
	repo.Git("tag", "v1.0.0")
	code, rs, stderr = publishJSON(t, nil, "publish", "--source", repo.Dir, "--repository", prefix, "--path", ".", "--ref", "refs/tags/v1.0.0")
	mustCode(t, code, 0, stderr)
	if got := testenv.DigestAt(t, host, "acme/fleet", "latest-stable"); got == "" || got != rs[""].Digest {
		t.Errorf("fleet:latest-stable = %q, want %s", got, rs[""].Digest)
	}
	// A component-style tag is not a release of a single artifact.
	repo.Git("tag", "frontend/v1.0.0")
	code, _, stderr = run(t, nil, "publish", "--source", repo.Dir, "--repository", prefix, "--path", ".", "--ref", "refs/tags/frontend/v1.0.0")
	mustCode(t, code, 2, stderr)
}

// TestDryRunWritesNothing: dry-run (and act's auto dry run) reads the registry, prints the plan
// and writes nothing; keyless signing under act is skipped with a notice.
func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	host := testenv.MemRegistry(t, nil)
	proxy := testenv.NewProxy(t, host)
	repo := apps(t)
	prefix := proxy.Host + "/acme/apps"
	code, rs, stderr := publishJSON(t, nil, "publish", "--source", repo.Dir, "--repository", prefix, "--dry-run", "true")
	mustCode(t, code, 0, stderr)
	for c, r := range rs {
		if r.Status != report.Planned || r.Digest == "" {
			t.Errorf("%s: %+v, want planned with the digest it would push", c, r)
		}
	}
	for _, m := range []string{"PUT", "POST", "PATCH", "DELETE"} {
		for _, k := range []string{"blob-upload", "manifest"} {
			if n := proxy.Count(m, k); n != 0 {
				t.Errorf("dry run sent %d %s %s requests", n, m, k)
			}
		}
	}

	// Under act: dry-run auto is on, keyless signing is skipped.
	env := testenv.Actions(t, "acme/apps", repo.Dir, map[string]string{
		"ACT": "true", "GITHUB_REF": "refs/heads/main", "INPUT_REPOSITORY": prefix, "INPUT_SIGN": "keyless",
	})
	proxy.Reset()
	code, _, stderr = run(t, env)
	mustCode(t, code, 0, stderr)
	if !strings.Contains(stderr, "dry run") {
		t.Errorf("act run does not say it is a dry run:\n%s", stderr)
	}
	if n := proxy.Count("PUT", "manifest") + proxy.Count("POST", "blob-upload"); n != 0 {
		t.Errorf("act run wrote %d times to the registry", n)
	}
	sum, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	if !strings.Contains(string(sum), "(planned)") {
		t.Errorf("summary does not show the plan:\n%s", sum)
	}

	// act with dry-run forced off and keyless signing: refused, since tags would land on
	// unsigned digests; nothing is written.
	env["INPUT_DRY-RUN"] = "false"
	proxy.Reset()
	code, _, stderr = run(t, env)
	if code == 0 || !strings.Contains(stderr, "keyless signing cannot run under act") {
		t.Errorf("act with dry-run false and keyless: exit %d, want a refusal naming act:\n%s", code, stderr)
	}
	if n := proxy.Count("PUT", "manifest") + proxy.Count("POST", "blob-upload"); n != 0 {
		t.Errorf("the refused act run wrote %d times to the registry", n)
	}

	// The embedded default target: a dry run creates no layout folder.
	dist := filepath.Join(t.TempDir(), "dist")
	code, _, stderr = run(t, nil, "publish", "--source", repo.Dir, "--repository", "oci-layout:"+dist, "--dry-run", "true")
	mustCode(t, code, 0, stderr)
	if _, err := os.Stat(dist); !os.IsNotExist(err) {
		t.Errorf("a dry run to an OCI layout created %s (stat: %v)", dist, err)
	}
}
