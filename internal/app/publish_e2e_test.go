package app

import (
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestPublishD2Lifecycle walks the D2 life of an apps repository against a real CNCF
// distribution registry: first publish, re-publish, a change to one component, releases, an
// older hotfix, a conflicting re-release, and an older commit that must not move latest back.
func TestPublishD2Lifecycle(t *testing.T) {
	t.Parallel()
	host := testenv.Registry(t)
	proxy := testenv.NewProxy(t, host)
	repo := apps(t)
	prefix := proxy.Host + "/acme/apps"
	env := map[string]string{}
	publish := func(extra ...string) (int, map[string]report.Result, string) {
		return publishJSON(t, env, append([]string{"publish", "--source", repo.Dir, "--repository", prefix}, extra...)...)
	}

	// 1. First publish: every component pushed, tagged main-<sha> and latest.
	sha1 := repo.Git("rev-parse", "HEAD")
	code, rs, stderr := publish()
	mustCode(t, code, 0, stderr)
	if len(rs) != 3 {
		t.Fatalf("published %d components, want 3: %v", len(rs), rs)
	}
	first := map[string]string{}
	for _, c := range []string{"frontend", "backend", "cache"} {
		r := rs[c]
		if r.Status != report.Pushed || !r.Changed {
			t.Errorf("%s: status %s changed %v, want pushed", c, r.Status, r.Changed)
		}
		for _, tag := range []string{"main-" + sha1[:8], "latest"} {
			if got := testenv.DigestAt(t, host, "acme/apps/"+c, tag); got != r.Digest {
				t.Errorf("%s:%s = %s, want %s", c, tag, got, r.Digest)
			}
		}
		first[c] = r.Digest
	}

	// 2. Re-publish the same commit: nothing uploaded, digests unchanged.
	proxy.Reset()
	code, rs, stderr = publish()
	mustCode(t, code, 0, stderr)
	for c, d := range first {
		if rs[c].Status != report.Unchanged || rs[c].Digest != d {
			t.Errorf("re-publish %s: status %s digest %s, want unchanged %s", c, rs[c].Status, rs[c].Digest, d)
		}
	}
	if n := proxy.Count("PUT", "blob-upload") + proxy.Count("POST", "blob-upload") + proxy.Count("PUT", "manifest"); n != 0 {
		t.Errorf("re-publish sent %d uploads, want 0", n)
	}

	// 3. Change one component: only it gets a new digest; the others keep theirs.
	repo.Write("components/frontend/base/extra-configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: frontend\ndata:\n  k: v\n")
	sha2 := repo.Commit("frontend: add a config map")
	code, rs, stderr = publish()
	mustCode(t, code, 0, stderr)
	if rs["frontend"].Status != report.Pushed || rs["frontend"].Digest == first["frontend"] {
		t.Errorf("frontend after change: %s %s, want pushed with a new digest", rs["frontend"].Status, rs["frontend"].Digest)
	}
	for _, c := range []string{"backend", "cache"} {
		if rs[c].Status != report.Unchanged || rs[c].Digest != first[c] {
			t.Errorf("%s after frontend change: %s %s, want unchanged %s", c, rs[c].Status, rs[c].Digest, first[c])
		}
		if got := testenv.DigestAt(t, host, "acme/apps/"+c, "main-"+sha2[:8]); got != first[c] {
			t.Errorf("%s:main-%s = %s, want the reused %s", c, sha2[:8], got, first[c])
		}
	}
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "latest"); got != rs["frontend"].Digest {
		t.Errorf("frontend:latest = %s, want %s", got, rs["frontend"].Digest)
	}
	latestFrontend := rs["frontend"].Digest

	// 4. Release frontend/v1.1.0: only frontend, tagged v1.1.0 and latest-stable.
	repo.Git("tag", "frontend/v1.1.0")
	code, rs, stderr = publish("--ref", "refs/tags/frontend/v1.1.0")
	mustCode(t, code, 0, stderr)
	if len(rs) != 1 || rs["frontend"].Digest == "" {
		t.Fatalf("release published %v, want frontend only", rs)
	}
	v110 := rs["frontend"].Digest
	for _, tag := range []string{"v1.1.0", "latest-stable"} {
		if got := testenv.DigestAt(t, host, "acme/apps/frontend", tag); got != v110 {
			t.Errorf("frontend:%s = %s, want %s", tag, got, v110)
		}
	}
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "latest"); got != latestFrontend {
		t.Errorf("a release moved latest: %s, want %s", got, latestFrontend)
	}

	// 5. An older hotfix v1.0.1 (released after v1.1.0): v1.0.1 is published, latest-stable stays.
	repo.Write("components/frontend/base/extra-configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: frontend\ndata:\n  k: hotfix\n")
	repo.Commit("frontend: hotfix")
	repo.Git("tag", "frontend/v1.0.1")
	code, rs, stderr = publish("--ref", "refs/tags/frontend/v1.0.1")
	mustCode(t, code, 0, stderr)
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "v1.0.1"); got != rs["frontend"].Digest || got == "" {
		t.Errorf("frontend:v1.0.1 = %s, want %s", got, rs["frontend"].Digest)
	}
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "latest-stable"); got != v110 {
		t.Errorf("an older hotfix moved latest-stable to %s, want it to stay at v1.1.0 %s", got, v110)
	}
	if len(rs["frontend"].Skipped) == 0 {
		t.Errorf("the result does not say why latest-stable stayed: %+v", rs["frontend"])
	}

	// 6. A conflicting re-release of v1.1.0 with other content: an error, nothing changes.
	proxy.Reset()
	code, rs, stderr = publish("--ref", "refs/tags/frontend/v1.1.0")
	mustCode(t, code, 1, stderr)
	if rs["frontend"].Status != report.Failed || !strings.Contains(rs["frontend"].Error, "v1.1.0") {
		t.Errorf("conflicting re-release: %+v, want a failure naming v1.1.0", rs["frontend"])
	}
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "v1.1.0"); got != v110 {
		t.Errorf("conflicting re-release changed v1.1.0 to %s", got)
	}
	if n := proxy.Count("PUT", "manifest"); n != 0 {
		t.Errorf("conflicting re-release wrote %d manifests, want 0", n)
	}

	// 7. An older commit published after a newer one does not move latest back.
	newest := repo.Commit("empty: newest")
	code, rs, stderr = publish()
	mustCode(t, code, 0, stderr)
	latestNow := testenv.DigestAt(t, host, "acme/apps/frontend", "latest")
	repo.Git("checkout", "-q", sha1)
	code, rs, stderr = publish("--ref", "refs/heads/main")
	mustCode(t, code, 0, stderr)
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "latest"); got != latestNow {
		t.Errorf("publishing the older %s moved latest from %s (at %s) to %s", sha1[:8], latestNow, newest[:8], got)
	}
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "main-"+sha1[:8]); got != first["frontend"] {
		t.Errorf("frontend:main-%s = %s, want the first digest %s", sha1[:8], got, first["frontend"])
	}
	if len(rs["frontend"].Skipped) == 0 {
		t.Errorf("the result does not say why latest stayed: %+v", rs["frontend"])
	}

	// 8. promote: roll latest-stable back to v1.0.1 on purpose; a missing version is refused.
	code, out, stderr := run(t, env, "promote", "--source", repo.Dir, "--repository", prefix, "--components", "frontend", "--version", "v1.0.1", "--sign", "none", "--output", "json")
	mustCode(t, code, 0, stderr)
	v101 := testenv.DigestAt(t, host, "acme/apps/frontend", "v1.0.1")
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "latest-stable"); got != v101 {
		t.Errorf("after promote latest-stable = %s, want v1.0.1 %s", got, v101)
	}
	if !strings.Contains(out, v110) || !strings.Contains(out, `"status": "promoted"`) {
		t.Errorf("promote result does not report from v1.1.0 (%s) to v1.0.1:\n%s", v110, out)
	}
	code, _, stderr = run(t, env, "promote", "--source", repo.Dir, "--repository", prefix, "--components", "frontend", "--version", "v9.9.9", "--sign", "none")
	mustCode(t, code, 1, stderr)
	if !strings.Contains(stderr, "v9.9.9 does not exist") || !strings.Contains(stderr, "v1.0.1, v1.1.0") {
		t.Errorf("promote of a missing version: stderr does not name it and the releases there:\n%s", stderr)
	}
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "latest-stable"); got != v101 {
		t.Errorf("a failed promote moved latest-stable to %s", got)
	}

	// 9. promote --channel latest: staging rolled back to v1.0.1. A re-run of the newest main
	// commit leaves it there (the rollback holds); a newer commit moves it on.
	code, _, stderr = run(t, env, "promote", "--source", repo.Dir, "--repository", prefix, "--components", "frontend", "--version", "v1.0.1", "--channel", "latest", "--sign", "none")
	mustCode(t, code, 0, stderr)
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "latest"); got != v101 {
		t.Fatalf("after promote --channel latest, latest = %s, want v1.0.1 %s", got, v101)
	}
	repo.Git("checkout", "-q", newest)
	code, rs, stderr = publish("--ref", "refs/heads/main", "--components", "frontend")
	mustCode(t, code, 0, stderr)
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "latest"); got != v101 {
		t.Errorf("a re-run of the commit rolled back from moved latest to %s, want it held at v1.0.1 %s", got, v101)
	}
	if len(rs["frontend"].Skipped) != 1 || !strings.Contains(rs["frontend"].Skipped[0], "promotion") {
		t.Errorf("the result does not say the promotion holds latest: %+v", rs["frontend"].Skipped)
	}
	repo.Write("components/frontend/base/extra-configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: frontend\ndata:\n  k: fixed\n")
	fixed := repo.Commit("frontend: the fix after the rollback")
	code, rs, stderr = publish("--ref", "refs/heads/main", "--components", "frontend")
	mustCode(t, code, 0, stderr)
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "latest"); got != rs["frontend"].Digest || got == v101 {
		t.Errorf("a newer commit (%s) after the rollback left latest at %s, want its build %s", fixed[:8], got, rs["frontend"].Digest)
	}
}
