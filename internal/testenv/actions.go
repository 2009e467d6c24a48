package testenv

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Actions is the environment of a GitHub Actions job for repository (owner/name) checked out in
// workspace: a map for a getenv seam, with GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files of its
// own. extra is added last (inputs as INPUT_<NAME>, or overrides).
func Actions(t testing.TB, repository, workspace string, extra map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "CI": "true",
		"GITHUB_REPOSITORY": repository, "GITHUB_SERVER_URL": "https://github.com",
		"GITHUB_WORKSPACE": workspace,
		// Every job has these; provenance names them.
		"GITHUB_WORKFLOW_REF": repository + "/.github/workflows/push-artifact.yaml@refs/heads/main",
		"GITHUB_RUN_ID":       "4242", "GITHUB_RUN_ATTEMPT": "1",
		"GITHUB_OUTPUT": filepath.Join(dir, "output"), "GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
		// The job's temporary folder, where the result file goes.
		"RUNNER_TEMP": dir,
	}
	maps.Copy(env, extra)
	return env
}

// PushEvent writes the payload of a push to main from before to after and returns its path.
func PushEvent(t testing.TB, before, after string) string {
	t.Helper()
	return Event(t, map[string]any{"ref": "refs/heads/main", "before": before, "after": after,
		"repository": map[string]any{"default_branch": "main"}})
}

// Event writes an event payload and returns its path, for GITHUB_EVENT_PATH.
func Event(t testing.TB, payload map[string]any) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "event.json")
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Outputs parses a GITHUB_OUTPUT file written with heredoc delimiters; a missing file has none.
func Outputs(t testing.TB, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
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
