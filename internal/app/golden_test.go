package app

import (
	"flag"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// normalize removes what differs between runs: temporary paths, durations, the random
// heredoc delimiters of GITHUB_OUTPUT and the result file's random name.
func normalize(s string, dirs map[string]string) string {
	for dir, name := range dirs {
		s = strings.ReplaceAll(s, dir, name)
	}
	s = regexp.MustCompile(`ghadelimiter_[0-9a-f]{32}`).ReplaceAllString(s, "ghadelimiter_X")
	s = regexp.MustCompile(`fleetpush-result-\d+\.json`).ReplaceAllString(s, "fleetpush-result-N.json")
	s = regexp.MustCompile(`\b\d+(\.\d+)?(ms|µs|s)\b`).ReplaceAllString(s, "Nms")
	s = regexp.MustCompile(`"durationMs": ?\d+`).ReplaceAllString(s, `"durationMs":0`)
	return s
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading %s (run with -update to create it): %v", p, err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got; -update rewrites it):\n%s", name, diff)
	}
}

// TestActionGolden runs the binary's Actions front end for publish, detect and validate with a
// fixed repository, commit dates and event, and compares the outputs file, the step summary and
// the log (annotations, groups, progress) with golden files.
func TestActionGolden(t *testing.T) {
	t.Parallel()
	repo := apps(t)
	before := repo.Git("rev-parse", "HEAD")
	repo.Write("components/frontend/staging/values-patch.yaml", strings.Replace(repo.Read("components/frontend/staging/values-patch.yaml"), "staging", "staging-2", 1))
	after := repo.Commit("frontend: staging values")
	layout := t.TempDir()
	for _, tc := range []struct {
		name   string
		code   int
		inputs map[string]string
		mutate func()
	}{
		{"detect", 0, map[string]string{"INPUT_COMMAND": "detect"}, nil},
		{"publish", 0, map[string]string{"INPUT_COMMAND": "publish", "INPUT_REPOSITORY": "oci-layout:" + layout, "INPUT_SIGN": "none", "INPUT_ALL": "true"}, nil},
		{"validate", 1, map[string]string{"INPUT_COMMAND": "validate"}, func() {
			repo.Write("components/cache/base/broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata: [unclosed\n")
			k := repo.Read("components/cache/base/kustomization.yaml")
			repo.Write("components/cache/base/kustomization.yaml", k+"  - broken.yaml\n")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mutate != nil {
				tc.mutate()
			}
			env := testenv.Actions(t, "acme/apps", repo.Dir, map[string]string{
				"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": testenv.PushEvent(t, before, after),
				"GITHUB_REF": "refs/heads/main", "GITHUB_SHA": after,
			})
			maps.Copy(env, tc.inputs)
			code, stdout, stderr := run(t, env)
			mustCode(t, code, tc.code, stderr)
			dirs := map[string]string{layout: "LAYOUT", repo.Dir: "REPO", env["RUNNER_TEMP"]: "RUNNER_TEMP", after: "AFTER", after[:8]: "AFTER8", before: "BEFORE", before[:8]: "BEFORE8"}
			out, _ := os.ReadFile(env["GITHUB_OUTPUT"])
			sum, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
			golden(t, tc.name+".stdout", normalize(stdout, dirs))
			golden(t, tc.name+".stderr", normalize(sortProgress(stderr), dirs))
			golden(t, tc.name+".output", normalize(string(out), dirs))
			golden(t, tc.name+".summary.md", normalize(string(sum), dirs))
		})
	}
}

// sortProgress orders the lines of concurrent components' groups and progress, which finish in
// any order, so the golden log is stable: each group block is kept whole.
func sortProgress(s string) string {
	var blocks []string
	var cur []string
	var rest []string
	inGroup := false
	for _, line := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(line, "::group::"):
			inGroup, cur = true, []string{line}
		case line == "::endgroup::":
			cur = append(cur, line)
			blocks = append(blocks, strings.Join(cur, "\n"))
			inGroup = false
		case inGroup:
			cur = append(cur, line)
		case regexp.MustCompile(`^\[\d+/\d+\] `).MatchString(line):
			blocks = append(blocks, regexp.MustCompile(`^\[\d+/`).ReplaceAllString(line, "[n/"))
		default:
			rest = append(rest, line)
		}
	}
	sort.Strings(blocks)
	return strings.Join(append(blocks, rest...), "\n")
}
