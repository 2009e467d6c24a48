package app

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestDetectMatrixTooLarge: with more changed components than a GitHub matrix may start, detect
// fails and says what to do instead, rather than writing a matrix GitHub refuses; the other
// outputs are still written.
func TestDetectMatrixTooLarge(t *testing.T) {
	t.Parallel()
	repo := apps(t)
	for i := range report.MatrixJobs {
		dir := fmt.Sprintf("components/c%03d/", i)
		repo.Write(dir+"kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - cm.yaml\n")
		repo.Write(dir+"cm.yaml", fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%03d\n", i))
	}
	env := testenv.Actions(t, "acme/apps", repo.Dir, map[string]string{"INPUT_COMMAND": "detect", "INPUT_ALL": "true"})
	code, _, stderr := run(t, env)
	mustCode(t, code, ExitFailed, stderr)
	want := fmt.Sprintf("%d components changed, more than the %d jobs one GitHub matrix may start: publish them from one job instead", report.MatrixJobs+3, report.MatrixJobs)
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%.2000s", want, stderr)
	}
	outs := testenv.Outputs(t, env["GITHUB_OUTPUT"])
	if _, ok := outs["matrix"]; ok {
		t.Error("a matrix GitHub would refuse was written")
	}
	var names []string
	if err := json.Unmarshal([]byte(outs["components"]), &names); err != nil || len(names) != report.MatrixJobs+3 || outs["any-changed"] != "true" {
		t.Errorf("components %d (%v), any-changed %q", len(names), err, outs["any-changed"])
	}

	// Outside Actions the list is printed whole, with the same warning.
	code, stdout, stderr := run(t, nil, "detect", "--source", repo.Dir, "--all")
	mustCode(t, code, ExitOK, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var list []string
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &list); err != nil || len(list) != report.MatrixJobs+3 || !strings.Contains(stderr, "warning: "+want) {
		t.Errorf("detect outside Actions: %d names (%v), stderr %.500q", len(list), err, stderr)
	}

	// At the limit the matrix is written.
	repo2 := apps(t)
	for i := range report.MatrixJobs - 3 {
		repo2.Write(fmt.Sprintf("components/c%03d/kustomization.yaml", i), "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
	}
	env2 := testenv.Actions(t, "acme/apps", repo2.Dir, map[string]string{"INPUT_COMMAND": "detect", "INPUT_ALL": "true"})
	code, _, stderr = run(t, env2)
	mustCode(t, code, ExitOK, stderr)
	if m := testenv.Outputs(t, env2["GITHUB_OUTPUT"])["matrix"]; strings.Count(m, `"`) != 2*(report.MatrixJobs+1) {
		t.Errorf("matrix of %d components: %.200s", report.MatrixJobs, m)
	}
}

// TestValidateThousandsOfFindings: a pull request with thousands of findings and huge names gives
// at most ten error annotations, a step summary and outputs within their budgets, and a result
// file that holds every finding.
func TestValidateThousandsOfFindings(t *testing.T) {
	t.Parallel()
	repo := apps(t)
	const objects, files = 1000, 20
	long := strings.Repeat("n", 240)
	k := repo.Read("components/cache/base/kustomization.yaml")
	for f := range files {
		var cms strings.Builder
		for i := range objects / files {
			// data must be a map of strings: one schema finding per object.
			fmt.Fprintf(&cms, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-%d-%d\ndata: 5\n", long, f, i)
		}
		repo.Write(fmt.Sprintf("components/cache/base/many-%d.yaml", f), cms.String())
		k += fmt.Sprintf("  - many-%d.yaml\n", f)
	}
	repo.Write("components/cache/base/kustomization.yaml", k)
	env := testenv.Actions(t, "acme/apps", repo.Dir, map[string]string{"INPUT_COMMAND": "validate"})
	code, _, stderr := run(t, env)
	mustCode(t, code, ExitFailed, stderr)

	if got := strings.Count(stderr, "\n::error "); got > report.AnnotationsPerKind {
		t.Errorf("%d error annotations, want at most %d", got, report.AnnotationsPerKind)
	}
	if !strings.Contains(stderr, "more errors not shown as annotations") {
		t.Error("the annotations held back are not counted")
	}
	sum, err := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) > report.SummaryBudget || !strings.Contains(string(sum), "more lines not shown") {
		t.Errorf("summary of %d bytes (budget %d), cut said: %v", len(sum), report.SummaryBudget, strings.Contains(string(sum), "more lines not shown"))
	}
	out, err := os.ReadFile(env["GITHUB_OUTPUT"])
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > report.OutputsBudget {
		t.Errorf("outputs of %d bytes, over the budget %d", len(out), report.OutputsBudget)
	}
	outs := testenv.Outputs(t, env["GITHUB_OUTPUT"])
	var shown []report.Result
	if err := json.Unmarshal([]byte(outs["result"]), &shown); err != nil {
		t.Fatalf("result output: %v", err)
	}
	b, err := os.ReadFile(outs["result-file"])
	if err != nil {
		t.Fatalf("result-file %q: %v", outs["result-file"], err)
	}
	var all []report.Result
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	byName := map[string]report.Result{}
	for _, r := range all {
		byName[r.Component] = r
	}
	if got := len(byName["cache"].Findings); got < objects {
		t.Errorf("the result file holds %d findings of cache, want all %d or more", got, objects)
	}
	// The output is the same result, shrunk: fewer findings, and the count of the others.
	for _, r := range shown {
		if r.Component == "cache" {
			last := r.Findings[len(r.Findings)-1]
			if len(r.Findings) >= objects || !strings.Contains(last, "more findings not shown") {
				t.Errorf("result output: %d findings of cache, last %.200q", len(r.Findings), last)
			}
		}
	}
	if len(shown) != len(all) {
		t.Errorf("result output has %d entries, the file %d", len(shown), len(all))
	}
}
