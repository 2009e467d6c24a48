package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// pushEvent writes a GitHub push event payload and returns its path.
func pushEvent(t testing.TB, before, after string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "event.json")
	ev := map[string]any{"ref": "refs/heads/main", "before": before, "after": after,
		"repository": map[string]any{"default_branch": "main"}}
	b, _ := json.Marshal(ev)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readOutputs parses a GITHUB_OUTPUT file written with heredoc delimiters.
func readOutputs(t testing.TB, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			continue
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

// TestDetectThenPublishChangedOnly: a push that touches one component and a README gives a
// matrix of that component, and publish (same event) builds and pushes only it.
func TestDetectThenPublishChangedOnly(t *testing.T) {
	host := testenv.Registry(t)
	repo := newGitRepo(t, "../../testdata/apps")
	prefix := host + "/acme/apps"
	before := repo.git("rev-parse", "HEAD")
	if code, _, stderr := run(t, nil, "publish", "--source", repo.dir, "--repository", prefix); code != 0 {
		t.Fatalf("first publish: %d\n%s", code, stderr)
	}
	repo.write("components/backend/staging/values-patch.yaml", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: redis\n  namespace: backend\nspec:\n  values:\n    replica:\n      replicaCount: 2\n")
	repo.write("README.md", "changed\n")
	after := repo.commit("backend: two replicas")

	dir := t.TempDir()
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_EVENT_NAME": "push",
		"GITHUB_EVENT_PATH": pushEvent(t, before, after),
		"GITHUB_REF":        "refs/heads/main", "GITHUB_SHA": after, "GITHUB_REPOSITORY": "acme/apps",
		"GITHUB_SERVER_URL": "https://github.com", "GITHUB_WORKSPACE": repo.dir,
		"GITHUB_OUTPUT": filepath.Join(dir, "output"), "GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
		"INPUT_COMMAND": "detect",
	}
	code, stdout, stderr := run(t, env)
	mustCode(t, code, 0, stderr)
	if got, want := strings.TrimSpace(stdout), "{\"component\":[\"backend\"]}\n[\"backend\"]"; got != want {
		t.Errorf("detect stdout = %q, want %q", got, want)
	}
	outs := readOutputs(t, env["GITHUB_OUTPUT"])
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
	if err := json.Unmarshal([]byte(readOutputs(t, env["GITHUB_OUTPUT"])["result"]), &rs); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Component != "backend" || rs[0].Status != report.Pushed {
		t.Fatalf("publish after a backend change = %+v, want backend pushed only", rs)
	}
	if got := digestAt(t, host, "acme/apps/backend", "main-"+after[:8]); got != rs[0].Digest {
		t.Errorf("backend:main-%s = %s, want %s", after[:8], got, rs[0].Digest)
	}
	if got := digestAt(t, host, "acme/apps/frontend", "main-"+after[:8]); got != "" {
		t.Errorf("unchanged frontend was tagged main-%s", after[:8])
	}

	// A push that touches nothing under components: an empty matrix, which is valid output.
	repo.write("README.md", "changed again\n")
	after2 := repo.commit("docs")
	env["INPUT_COMMAND"] = "detect"
	env["GITHUB_EVENT_PATH"] = pushEvent(t, after, after2)
	env["GITHUB_SHA"] = after2
	env["GITHUB_OUTPUT"] = filepath.Join(dir, "output3")
	code, _, stderr = run(t, env)
	mustCode(t, code, 0, stderr)
	outs = readOutputs(t, env["GITHUB_OUTPUT"])
	if outs["matrix"] != `{"component":[]}` || outs["any-changed"] != "false" {
		t.Errorf("detect with no component change: matrix %q any-changed %q", outs["matrix"], outs["any-changed"])
	}
}
