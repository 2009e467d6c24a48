package app

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestKeylessRerunOfAnotherDigest: a run starts verifying the digest it built before it reads
// the tags (verifyEarly), and the registry may hold the same content under another digest (here:
// other annotations, the immutable tag kept). That speculation is discarded: the digest the tags
// point at is verified itself (found signed: nothing added), and nothing is signed or tagged for
// the digest built.
func TestKeylessRerunOfAnotherDigest(t *testing.T) {
	t.Parallel()
	host := testenv.Registry(t)
	st := testenv.Sigstore(t)
	repo := apps(t)
	path := "acme/verify-early"
	publish := func(annotations string) report.Result {
		t.Helper()
		env := signedEnv(t, st, repo, host, "push-artifact.yaml", "refs/heads/main")
		env["INPUT_REPOSITORY"] = host + "/" + path
		env["INPUT_COMPONENTS"] = "frontend"
		env["INPUT_VALIDATE"] = "false"
		env["INPUT_ANNOTATIONS"] = annotations
		env["GITHUB_OUTPUT"] = filepath.Join(t.TempDir(), "out")
		code, _, stderr := run(t, env)
		mustCode(t, code, ExitOK, stderr)
		return actionResults(t, env)["frontend"]
	}
	first := publish("")
	if first.Status != report.Pushed || first.Signed != "new" {
		t.Fatalf("first run: %s, signed %q; want pushed, new", first.Status, first.Signed)
	}
	again := publish("team=web")
	if again.Plan == nil || again.Plan.Action != report.ActionReuse || again.Digest != first.Digest {
		t.Fatalf("re-run with other annotations: plan %+v digest %s; want reuse of %s", again.Plan, again.Digest, first.Digest)
	}
	if again.Signed != "existing" || !again.Verified {
		t.Errorf("re-run: signed %q verified %v; want existing, verified", again.Signed, again.Verified)
	}
	if n := signatureLayers(t, host, path+"/frontend", first.Digest); n != 1 {
		t.Errorf("%s carries %d signatures, want 1", first.Digest, n)
	}
	var sigs []string
	for _, tag := range testenv.Tags(t, host, path+"/frontend") {
		if strings.HasSuffix(tag, ".sig") {
			sigs = append(sigs, tag)
		}
	}
	if want := strings.Replace(first.Digest, ":", "-", 1) + ".sig"; len(sigs) != 1 || sigs[0] != want {
		t.Errorf("signature tags %v, want only %s", sigs, want)
	}
}
