package app

import (
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestSecretsNeverPrinted runs the action against a registry with basic auth, on success and on
// several failure paths, and checks that no output (stdout, stderr, GITHUB_OUTPUT, the step
// summary) contains the registry password or the OIDC request token, except in the
// ::add-mask:: command that tells the runner to hide it.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	const (
		user     = "robot"
		password = "s3cret-registry-password-Zq9"
		oidc     = "oidc-request-token-Xy7-very-secret"
		ghToken  = "ghs_github-token-secret-123"
	)
	host := testenv.RegistryWithAuth(t, user, password)
	repo := apps(t)

	cases := []struct {
		name     string
		inputs   map[string]string
		wantCode int
	}{
		{"success", map[string]string{"INPUT_REGISTRY-PASSWORD": password}, 0},
		{"wrong password", map[string]string{"INPUT_REGISTRY-PASSWORD": "Wr0ng-pa55word-Kk3"}, 1},
		{"bad input", map[string]string{"INPUT_REGISTRY-PASSWORD": password, "INPUT_SHA-LENGTH": "99"}, 2},
		{"password in a url-looking repository", map[string]string{"INPUT_REGISTRY-PASSWORD": password, "INPUT_REPOSITORY": "https://" + user + ":" + password + "@" + host + "/x"}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := testenv.Actions(t, "acme/apps", repo.Dir, map[string]string{
				"GITHUB_REF": "refs/heads/main", "GITHUB_EVENT_NAME": "workflow_dispatch",
				"GITHUB_TOKEN": ghToken, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc, "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:1/token",
				"INPUT_REPOSITORY": host + "/acme/apps", "INPUT_REGISTRY-USERNAME": user, "INPUT_SIGN": "none",
			})
			maps.Copy(env, tc.inputs)
			secrets := []string{env["INPUT_REGISTRY-PASSWORD"], oidc, ghToken}
			code, stdout, stderr := run(t, env)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s", code, tc.wantCode, stderr)
			}
			outFile, _ := os.ReadFile(env["GITHUB_OUTPUT"])
			sumFile, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
			streams := map[string]string{"stdout": stdout, "stderr": stderr, "GITHUB_OUTPUT": string(outFile), "GITHUB_STEP_SUMMARY": string(sumFile)}
			masked := map[string]bool{}
			for name, text := range streams {
				for _, line := range strings.Split(text, "\n") {
					for _, s := range secrets {
						if !strings.Contains(line, s) {
							continue
						}
						if line == "::add-mask::"+s {
							masked[s] = true
							continue
						}
						t.Errorf("%s leaks a secret: %q", name, line)
					}
				}
			}
			for _, s := range secrets {
				if !masked[s] && tc.name != "password in a url-looking repository" {
					t.Errorf("secret %.6s… was never masked with ::add-mask::", s)
				}
			}
		})
	}
}
