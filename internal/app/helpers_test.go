package app

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// testRetry keeps the production policy's shape (6 tries, jittered doubling, Retry-After honoured
// up to a cap, bounded total) with waits short enough for tests; a Retry-After of 1s is still
// waited for, so the tests see it honoured.
var testRetry = registry.RetryPolicy{
	Attempts:       6,
	Base:           5 * time.Millisecond,
	Max:            2 * time.Second,
	Total:          20 * time.Second,
	AttemptTimeout: 3 * time.Second,
}

// apps is a fresh git repository of the d2-apps style example (frontend, backend, cache).
func apps(t testing.TB) *testenv.GitRepo { return testenv.NewGitRepo(t, "../../testdata/apps") }

var appNames = []string{"backend", "cache", "frontend"}

// run runs fleetpush with args and env (nothing else of the process environment) and returns
// the exit code, stdout and stderr. The registry client retries with testRetry; opts add to it.
func run(t testing.TB, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return runWith(t, env, nil, args...)
}

func runWith(t testing.TB, env map[string]string, opts []Option, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string { return env[k] }
	opts = append([]Option{WithRegistryOptions(registry.WithRetry(testRetry))}, opts...)
	code := Run(context.Background(), args, getenv, &stdout, &stderr, opts...)
	return code, stdout.String(), stderr.String()
}

// publishJSON runs publish with --output json and decodes the results by component.
func publishJSON(t testing.TB, env map[string]string, args ...string) (int, map[string]report.Result, string) {
	t.Helper()
	return publishJSONWith(t, env, nil, args...)
}

func publishJSONWith(t testing.TB, env map[string]string, opts []Option, args ...string) (int, map[string]report.Result, string) {
	t.Helper()
	code, out, errOut := runWith(t, env, opts, append(args, "--output", "json")...)
	return code, decodeResults(t, out, errOut), errOut
}

// decodeResults decodes a JSON result by component.
func decodeResults(t testing.TB, out, stderr string) map[string]report.Result {
	t.Helper()
	var rs []report.Result
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("decoding the JSON result: %v\noutput:\n%s\nstderr:\n%s", err, out, stderr)
	}
	m := map[string]report.Result{}
	for _, r := range rs {
		m[r.Component] = r
	}
	return m
}

// actionResults reads the result output of an Actions run.
func actionResults(t testing.TB, env map[string]string) map[string]report.Result {
	t.Helper()
	return decodeResults(t, testenv.Outputs(t, env["GITHUB_OUTPUT"])["result"], "")
}

func mustCode(t testing.TB, got, want int, stderr string) {
	t.Helper()
	if got != want {
		t.Fatalf("exit code = %d, want %d\nstderr:\n%s", got, want, stderr)
	}
}
