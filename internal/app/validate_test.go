package app

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestValidateBrokenComponent: a typo in a HelmRelease field fails validation with an annotation
// on the file and line; publish refuses that component and publishes the others.
func TestValidateBrokenComponent(t *testing.T) {
	t.Parallel()
	repo := apps(t)
	release := "components/frontend/base/podinfo-release.yaml"
	b, err := os.ReadFile(filepath.Join(repo.Dir, release))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(b), "  chartRef:", "  chartRefs:", 1)
	if broken == string(b) {
		t.Fatal("the example no longer has a chartRef to break")
	}
	repo.Write(release, broken)
	line := 0
	for i, l := range strings.Split(broken, "\n") {
		if strings.HasPrefix(l, "  chartRefs:") {
			line = i + 1
		}
	}
	repo.Commit("break frontend")

	env := testenv.Actions(t, "acme/apps", repo.Dir, map[string]string{
		"GITHUB_REF": "refs/pull/7/merge", "GITHUB_EVENT_NAME": "pull_request", "INPUT_COMMAND": "validate",
		"INPUT_DIFF-AGAINST": "none", // no registry here: the preview has its own tests
	})
	code, _, stderr := run(t, env)
	mustCode(t, code, 1, stderr)
	wantAnnotation := "::error file=" + release + ",line=" + strconv.Itoa(line) + "::"
	if !strings.Contains(stderr, wantAnnotation) || !strings.Contains(stderr, "chartRefs") {
		t.Errorf("validate output lacks the annotation %q naming chartRefs:\n%s", wantAnnotation, stderr)
	}
	for _, ok := range []string{"backend valid", "cache valid"} {
		if !strings.Contains(stderr, ok) {
			t.Errorf("validate output lacks %q: the other components must still be checked\n%s", ok, stderr)
		}
	}

	// publish: frontend is refused, the others go on.
	host := testenv.MemRegistry(t, nil)
	code, rs, stderr := publishJSON(t, nil, "publish", "--source", repo.Dir, "--repository", host+"/acme/apps")
	mustCode(t, code, 1, stderr)
	if rs["frontend"].Status != report.Failed || len(rs["frontend"].Findings) == 0 {
		t.Errorf("frontend = %+v, want failed with findings", rs["frontend"])
	}
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "latest"); got != "" {
		t.Errorf("an invalid frontend was published: latest = %s", got)
	}
	for _, c := range []string{"backend", "cache"} {
		if rs[c].Status != report.Pushed {
			t.Errorf("%s = %s, want pushed despite frontend's failure", c, rs[c].Status)
		}
	}
	// --validate=false skips it (the user's choice).
	code, rs, stderr = publishJSON(t, nil, "publish", "--source", repo.Dir, "--repository", host+"/acme/apps", "--validate=false")
	mustCode(t, code, 0, stderr)
	if rs["frontend"].Status != report.Pushed {
		t.Errorf("with --validate=false frontend = %s, want pushed", rs["frontend"].Status)
	}
}
