package app

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

// signedEnv is the Actions environment of a workflow run of acme/apps that may sign keylessly
// against the loopback Sigstore: the stand-in token service replaces GitHub's.
func signedEnv(t testing.TB, st *testenv.SigstoreEnv, repo *testenv.GitRepo, registry, workflow, ref string) map[string]string {
	t.Helper()
	grant := st.OIDC.Grant(testenv.GitHubClaims("acme/apps", workflow, ref))
	return testenv.Actions(t, "acme/apps", repo.Dir, map[string]string{
		"GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_REF": ref, "GITHUB_SHA": repo.Head(),
		"GITHUB_WORKFLOW_REF":          "acme/apps/.github/workflows/" + workflow + "@" + ref,
		"ACTIONS_ID_TOKEN_REQUEST_URL": grant.RequestURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": grant.RequestToken,
		"INPUT_REPOSITORY": registry + "/acme/apps", "INPUT_FULCIO-URL": st.FulcioURL, "INPUT_REKOR-URL": st.RekorURL,
		"INPUT_FULCIO-ROOT": st.FulcioRootFile, "INPUT_REKOR-PUBLIC-KEY": st.RekorPublicKeyFile,
		"INPUT_CERTIFICATE-OIDC-ISSUER": st.OIDC.URL,
	})
}

// signatureLayers counts the signatures attached to digest d in the legacy sha256-<hex>.sig tag.
func signatureLayers(t testing.TB, host, repo, d string) int {
	t.Helper()
	ref, err := name.NewTag(host+"/"+repo+":"+strings.Replace(d, ":", "-", 1)+".sig", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		return 0
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return len(m.Layers)
}

// TestKeylessPublishSignVerify is the first test of the package (its file name sorts first among
// the end-to-end tests) because it starts the Sigstore stack, about ten seconds, which then
// overlaps with the other tests instead of trailing them.
//
// It runs the action's publish with keyless signing against the real
// registry, Fulcio and Rekor: signed before tagged, verified as Flux does, the verify block
// printed; a re-run adds no signature; verify accepts the right identity and rejects a wrong
// one; a missing id-token permission is the clear error; a digest left unsigned is healed.
func TestKeylessPublishSignVerify(t *testing.T) {
	t.Parallel()
	host := testenv.Registry(t)
	st := testenv.Sigstore(t)
	repo := apps(t)
	env := signedEnv(t, st, repo, host, "push-artifact.yaml", "refs/heads/main")

	// Watch the tags while publishing: a tag must never point at an unsigned digest.
	var seen, unsigned atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, c := range []string{"frontend", "backend", "cache"} {
				if d := testenv.DigestAt(t, host, "acme/apps/"+c, "latest"); d != "" {
					seen.Add(1)
					if signatureLayers(t, host, "acme/apps/"+c, d) == 0 {
						unsigned.Add(1)
					}
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	code, _, stderr := run(t, env)
	close(stop)
	wg.Wait()
	mustCode(t, code, 0, stderr)
	if unsigned.Load() != 0 {
		t.Errorf("a tag pointed at an unsigned digest %d times (of %d observations)", unsigned.Load(), seen.Load())
	}
	rs := actionResults(t, env)
	for _, c := range []string{"frontend", "backend", "cache"} {
		r := rs[c]
		if r.Signed != "new" || !r.Verified || r.LogIndex == nil || !strings.Contains(r.Identity, "push-artifact.yaml@refs/heads/main") {
			t.Errorf("%s: signed %q verified %v log index %v identity %q, want new, verified, logged", c, r.Signed, r.Verified, r.LogIndex, r.Identity)
		}
		if n := signatureLayers(t, host, "acme/apps/"+c, r.Digest); n != 1 {
			t.Errorf("%s has %d signatures, want 1", c, n)
		}
	}
	outs := testenv.Outputs(t, env["GITHUB_OUTPUT"])
	if !strings.Contains(outs["verify-snippet"], "matchOIDCIdentity") {
		t.Errorf("verify-snippet output = %q, want a matchOIDCIdentity block", outs["verify-snippet"])
	}
	if sum, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"]); !strings.Contains(string(sum), "matchOIDCIdentity") {
		t.Errorf("the step summary lacks the verify block:\n%s", sum)
	}

	// A re-run (a new job: a new token) adds no second signature.
	env2 := signedEnv(t, st, repo, host, "push-artifact.yaml", "refs/heads/main")
	code, _, stderr = run(t, env2)
	mustCode(t, code, 0, stderr)
	for c, r := range actionResults(t, env2) {
		if r.Signed != "existing" {
			t.Errorf("re-run %s: signed %q, want existing", c, r.Signed)
		}
		if n := signatureLayers(t, host, "acme/apps/"+c, r.Digest); n != 1 {
			t.Errorf("re-run %s has %d signatures, want 1", c, n)
		}
	}

	// verify: the right identity passes; another repository's identity is rejected.
	venv := signedEnv(t, st, repo, host, "verify.yaml", "refs/heads/main")
	venv["INPUT_COMMAND"] = "verify"
	code, _, stderr = run(t, venv)
	mustCode(t, code, 0, stderr)
	venv["INPUT_CERTIFICATE-IDENTITY-REGEXP"] = `^https://github\.com/acme/other/.*$`
	venv["GITHUB_OUTPUT"] = filepath.Join(t.TempDir(), "out")
	code, _, stderr = run(t, venv)
	mustCode(t, code, 1, stderr)

	// promote refuses a release whose signature does not verify: here an unsigned one.
	repo.Git("tag", "cache/v1.0.0")
	unsignedRelease := signedEnv(t, st, repo, host, "release-artifact.yaml", "refs/tags/cache/v1.0.0")
	unsignedRelease["INPUT_SIGN"] = "none"
	code, _, stderr = run(t, unsignedRelease)
	mustCode(t, code, 0, stderr)
	promoteEnv := signedEnv(t, st, repo, host, "promote.yaml", "refs/heads/main")
	promoteEnv["INPUT_COMMAND"], promoteEnv["INPUT_COMPONENTS"], promoteEnv["INPUT_VERSION"] = "promote", "cache", "v1.0.0"
	code, _, stderr = run(t, promoteEnv)
	if code == 0 || !strings.Contains(stderr, "refusing to promote v1.0.0") {
		t.Errorf("promote of an unsigned release: exit %d, want a refusal:\n%s", code, stderr)
	}

	// Missing `permissions: id-token: write`: the error says exactly what to add.
	repo.Write("components/cache/base/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: b\n")
	repo.Git("add", "-A")
	repo.Commit("cache: extra")
	noID := signedEnv(t, st, repo, host, "push-artifact.yaml", "refs/heads/main")
	delete(noID, "ACTIONS_ID_TOKEN_REQUEST_URL")
	delete(noID, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	code, _, stderr = run(t, noID)
	if code == 0 || !strings.Contains(stderr, "id-token: write") {
		t.Fatalf("without an OIDC token: exit %d, want a failure naming `id-token: write`:\n%s", code, stderr)
	}
	sha := repo.Git("rev-parse", "HEAD")
	if d := testenv.DigestAt(t, host, "acme/apps/cache", "main-"+sha[:8]); d != "" {
		t.Errorf("an unsigned run tagged cache main-%s", sha[:8])
	}

	// A digest pushed by a run that died before signing (here: Fulcio unreachable) is healed.
	broken := signedEnv(t, st, repo, host, "push-artifact.yaml", "refs/heads/main")
	broken["INPUT_FULCIO-URL"] = "http://127.0.0.1:1"
	code, _, stderr = run(t, broken)
	if code == 0 {
		t.Fatalf("publishing with Fulcio unreachable succeeded:\n%s", stderr)
	}
	if d := testenv.DigestAt(t, host, "acme/apps/cache", "main-"+sha[:8]); d != "" {
		t.Fatalf("a run that could not sign tagged cache main-%s", sha[:8])
	}
	healed := signedEnv(t, st, repo, host, "push-artifact.yaml", "refs/heads/main")
	code, _, stderr = run(t, healed)
	mustCode(t, code, 0, stderr)
	if r := actionResults(t, healed)["cache"]; r.Signed != "healed" || !r.Verified {
		t.Errorf("cache after the failed run: signed %q verified %v, want healed and verified", r.Signed, r.Verified)
	}
}
