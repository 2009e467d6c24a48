package app

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestDetectThenPublishChangedOnly: a push that touches one component and a README gives a
// matrix of that component, and publish (same event) builds and pushes only it.
func TestDetectThenPublishChangedOnly(t *testing.T) {
	t.Parallel()
	host := testenv.MemRegistry(t, nil)
	repo := apps(t)
	prefix := host + "/acme/apps"
	before := repo.Git("rev-parse", "HEAD")
	if code, _, stderr := run(t, nil, "publish", "--source", repo.Dir, "--repository", prefix); code != 0 {
		t.Fatalf("first publish: %d\n%s", code, stderr)
	}
	repo.Write("components/backend/staging/values-patch.yaml", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: redis\n  namespace: backend\nspec:\n  values:\n    replica:\n      replicaCount: 2\n")
	repo.Write("README.md", "changed\n")
	after := repo.Commit("backend: two replicas")

	dir := t.TempDir()
	env := testenv.Actions(t, "acme/apps", repo.Dir, map[string]string{
		"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": testenv.PushEvent(t, before, after),
		"GITHUB_REF": "refs/heads/main", "GITHUB_SHA": after, "INPUT_COMMAND": "detect",
	})
	code, stdout, stderr := run(t, env)
	mustCode(t, code, 0, stderr)
	if got, want := strings.TrimSpace(stdout), "{\"component\":[\"backend\"]}\n[\"backend\"]"; got != want {
		t.Errorf("detect stdout = %q, want %q", got, want)
	}
	outs := testenv.Outputs(t, env["GITHUB_OUTPUT"])
	if got, want := outs["matrix"], `{"component":["backend"]}`; got != want {
		t.Errorf("matrix output = %q, want %q", got, want)
	}
	if got, want := outs["any-changed"], "true"; got != want {
		t.Errorf("any-changed output = %q, want %q", got, want)
	}

	// publish with the same event: only backend is built and pushed.
	env["INPUT_COMMAND"] = "publish"
	env["INPUT_REPOSITORY"] = prefix
	env["INPUT_SIGN"] = "none"
	env["GITHUB_OUTPUT"] = filepath.Join(dir, "output2")
	code, _, stderr = run(t, env)
	mustCode(t, code, 0, stderr)
	var rs []report.Result
	if err := json.Unmarshal([]byte(testenv.Outputs(t, env["GITHUB_OUTPUT"])["result"]), &rs); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Component != "backend" || rs[0].Status != report.Pushed {
		t.Fatalf("publish after a backend change = %+v, want backend pushed only", rs)
	}
	if got := testenv.DigestAt(t, host, "acme/apps/backend", "main-"+after[:8]); got != rs[0].Digest {
		t.Errorf("backend:main-%s = %s, want %s", after[:8], got, rs[0].Digest)
	}
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "main-"+after[:8]); got != "" {
		t.Errorf("unchanged frontend was tagged main-%s", after[:8])
	}

	// A push that touches nothing under components: an empty matrix, which is valid output.
	repo.Write("README.md", "changed again\n")
	after2 := repo.Commit("docs")
	env["INPUT_COMMAND"] = "detect"
	env["GITHUB_EVENT_PATH"] = testenv.PushEvent(t, after, after2)
	env["GITHUB_SHA"] = after2
	env["GITHUB_OUTPUT"] = filepath.Join(dir, "output3")
	code, _, stderr = run(t, env)
	mustCode(t, code, 0, stderr)
	outs = testenv.Outputs(t, env["GITHUB_OUTPUT"])
	if outs["matrix"] != `{"component":[]}` || outs["any-changed"] != "false" {
		t.Errorf("detect with no component change: matrix %q any-changed %q", outs["matrix"], outs["any-changed"])
	}
}
