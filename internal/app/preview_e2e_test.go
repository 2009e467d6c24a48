package app

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetpush/fleetpush/internal/preview"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

const frontendDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
spec:
  replicas: 2
  selector:
    matchLabels: {app: frontend}
  template:
    metadata:
      labels: {app: frontend}
    spec:
      containers:
        - name: frontend
          image: ghcr.io/acme/frontend:1.2.3
`

// sopsSecret is a Secret as SOPS leaves it; cipher stands for the encrypted value.
func sopsSecret(cipher string) string {
	return `apiVersion: v1
kind: Secret
metadata:
  name: frontend-credentials
type: Opaque
stringData:
  password: ENC[AES256_GCM,data:` + cipher + `,iv:aXY=,tag:dGFn,type:str]
sops:
  age:
    - recipient: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq
      enc: |
        -----BEGIN AGE ENCRYPTED FILE-----
        YWdlLWVuY3J5cHRpb24ub3JnL3Yx
        -----END AGE ENCRYPTED FILE-----
  lastmodified: "2026-01-01T00:00:00Z"
  mac: ENC[AES256_GCM,data:` + cipher + `mac,iv:aXY=,tag:dGFn,type:str]
  version: 3.9.0
`
}

const (
	publishedCipher = "UHVibGlzaGVkU2VjcmV0VmFsdWU"
	branchCipher    = "QnJhbmNoU2VjcmV0VmFsdWVOZXc"
)

// TestPreviewD2 runs the real validate of a pull request against a real distribution registry
// that holds the published d2-apps repository: the pull request changes an image tag in staging,
// the replicas in production, adds an object, removes one, edits a SOPS-encrypted Secret and
// adds a component. The summary, the comment file and the JSON show exactly that, no Secret
// value shows anywhere, and the unchanged components are not listed.
func TestPreviewD2(t *testing.T) {
	t.Parallel()
	host := testenv.Registry(t)
	prefix := host + "/acme/apps"
	repo := apps(t)
	base := "components/frontend/base/"
	repo.Write(base+"deployment.yaml", frontendDeployment)
	repo.Write(base+"secret.sops.yaml", sopsSecret(publishedCipher))
	repo.Write(base+"legacy.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy\ndata:\n  mode: old\n")
	kust := repo.Read(base + "kustomization.yaml")
	repo.Write(base+"kustomization.yaml", kust+"  - deployment.yaml\n  - secret.sops.yaml\n  - legacy.yaml\n")
	repo.Commit("frontend: a deployment, a secret, a legacy config")
	code, rs, stderr := publishJSON(t, nil, "publish", "--source", repo.Dir, "--repository", prefix)
	mustCode(t, code, 0, stderr)
	if len(rs) != 3 {
		t.Fatalf("published %d components, want 3", len(rs))
	}

	// The pull request.
	repo.Write(base+"secret.sops.yaml", sopsSecret(branchCipher))
	repo.Write(base+"flags.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: flags\ndata:\n  beta: \"true\"\n")
	if err := os.Remove(filepath.Join(repo.Dir, base, "legacy.yaml")); err != nil {
		t.Fatal(err)
	}
	repo.Write(base+"kustomization.yaml", kust+"  - deployment.yaml\n  - secret.sops.yaml\n  - flags.yaml\n")
	staging := "components/frontend/staging/kustomization.yaml"
	repo.Write(staging, repo.Read(staging)+"images:\n  - name: ghcr.io/acme/frontend\n    newTag: 1.3.0\n")
	production := "components/frontend/production/kustomization.yaml"
	repo.Write(production, repo.Read(production)+"replicas:\n  - name: frontend\n    count: 5\n")
	repo.Write("components/metrics/base/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n")
	repo.Write("components/metrics/base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: metrics\n  namespace: default\n")
	repo.Commit("frontend: 1.3.0 on staging, 5 replicas on production")

	env := testenv.Actions(t, "acme/apps", repo.Dir, map[string]string{
		"GITHUB_REF": "refs/pull/7/merge", "GITHUB_EVENT_NAME": "pull_request",
		"INPUT_COMMAND": "validate", "INPUT_REPOSITORY": prefix,
	})
	code, _, stderr = run(t, env)
	mustCode(t, code, 0, stderr)
	outputs := testenv.Outputs(t, env["GITHUB_OUTPUT"])
	results := decodeResults(t, outputs["result"], stderr)

	// JSON: exactly the changes, per overlay.
	type change struct{ overlay, action, object string }
	var got []change
	var notes []string
	for _, r := range results {
		if r.Preview == nil {
			t.Fatalf("%s: no preview in the result", r.Component)
		}
		for _, o := range r.Preview.Overlays {
			for _, c := range o.Changes {
				got = append(got, change{r.Component + "/" + o.Dir, string(c.Action), c.Object.String()})
			}
			for _, n := range o.Notes {
				notes = append(notes, report.NoteText(r.Component, o.Dir, n))
			}
		}
	}
	var want []change
	for _, o := range []string{"base", "production", "staging"} {
		if o != "base" {
			want = append(want, change{"frontend/" + o, "changed", "Deployment/frontend/frontend"})
		}
		want = append(want, change{"frontend/" + o, "added", "ConfigMap/frontend/flags"},
			change{"frontend/" + o, "removed", "ConfigMap/frontend/legacy"},
			change{"frontend/" + o, "changed", "Secret/frontend/frontend-credentials"})
	}
	want = append(want, change{"metrics/base", "added", "ConfigMap/default/metrics"})
	if !sameChanges(got, want) {
		t.Errorf("changes:\n got %v\nwant %v", got, want)
	}
	wantNotes := []string{
		"frontend/production: Deployment/frontend replicas 2 → 5",
		"frontend/staging: Deployment/frontend image ghcr.io/acme/frontend 1.2.3 → 1.3.0",
	}
	if strings.Join(notes, "\n") != strings.Join(wantNotes, "\n") {
		t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(notes, "\n"), strings.Join(wantNotes, "\n"))
	}
	for _, c := range []string{"backend", "cache"} {
		if p := results[c].Preview; p == nil || !p.Published || p.Different() || p.Warning != "" {
			t.Errorf("%s: preview %+v, want published and unchanged", c, p)
		}
	}
	if p := results["metrics"].Preview; p.Published {
		t.Errorf("metrics: published %v, want a new component", p.Published)
	}
	wantFiles := []preview.File{{Path: "base/flags.yaml", Action: preview.Added}, {Path: "base/kustomization.yaml", Action: preview.Changed},
		{Path: "base/legacy.yaml", Action: preview.Removed}, {Path: "base/secret.sops.yaml", Action: preview.Changed},
		{Path: "production/kustomization.yaml", Action: preview.Changed}, {Path: "staging/kustomization.yaml", Action: preview.Changed}}
	if f := results["frontend"].Preview.Files; len(f) != len(wantFiles) || !sameFiles(f, wantFiles) {
		t.Errorf("frontend files: %v, want %v", f, wantFiles)
	}

	// The comment file and the step summary.
	// In the job's temporary folder, never in the checkout, where a later publish of path ./
	// would pack it into the artifact.
	if filepath.Dir(outputs["preview"]) != env["RUNNER_TEMP"] {
		t.Fatalf("preview output = %q, want a file in RUNNER_TEMP %s", outputs["preview"], env["RUNNER_TEMP"])
	}
	if entries, _ := os.ReadDir(repo.Dir); slices.ContainsFunc(entries, func(e os.DirEntry) bool { return strings.Contains(e.Name(), "preview") }) {
		t.Errorf("a preview file in the checkout: %v", entries)
	}
	comment, err := os.ReadFile(outputs["preview"])
	if err != nil {
		t.Fatal(err)
	}
	summary, err := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	if err != nil {
		t.Fatal(err)
	}
	for name, md := range map[string]string{"comment": string(comment), "summary": string(summary)} {
		for _, s := range []string{"#### frontend", "#### metrics", "`Deployment/frontend` image `ghcr.io/acme/frontend` `1.2.3` → `1.3.0`",
			"`Deployment/frontend` replicas `2` → `5`", "**added** `ConfigMap/frontend/flags`", "**removed** `ConfigMap/frontend/legacy`",
			"**changed** `Secret/frontend/frontend-credentials`", "-  password: redacted:", "+  password: redacted:",
			"Nothing is published at `" + prefix + "/metrics:latest` yet"} {
			if !strings.Contains(md, s) {
				t.Errorf("%s lacks %q:\n%s", name, s, md)
			}
		}
		for _, s := range []string{"#### backend", "#### cache"} {
			if strings.Contains(md, s) {
				t.Errorf("%s lists an unchanged component (%s)", name, s)
			}
		}
		if len(md) > report.CommentPreviewBudget && name == "comment" {
			t.Errorf("comment is %d bytes", len(md))
		}
	}
	// The Secret's values, published and new, never show.
	all := stderr + string(comment) + string(summary) + outputs["result"]
	for _, secret := range []string{publishedCipher, branchCipher} {
		if strings.Contains(all, secret) {
			t.Errorf("the Secret value %q shows in the output", secret)
		}
	}

	// The CLI says the same in text.
	code, _, stderr = run(t, nil, "validate", "--source", repo.Dir, "--repository", prefix, "--diff-against", "latest")
	mustCode(t, code, 0, stderr)
	for _, n := range wantNotes {
		if !strings.Contains(stderr, n) {
			t.Errorf("CLI output lacks %q:\n%s", n, stderr)
		}
	}
	if strings.Contains(stderr, publishedCipher) || strings.Contains(stderr, branchCipher) || strings.Contains(stderr, "preview of backend") {
		t.Errorf("CLI output shows a Secret value or an unchanged component:\n%s", stderr)
	}
}

func sameChanges[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[T]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

func sameFiles(a, b []preview.File) bool { return sameChanges(a, b) }

// TestPreviewRegistryCannotAnswer: an unreachable registry, and one that needs credentials the
// pull request does not have, each give a warning naming the repository and the reason; the
// validation still runs and decides the exit code.
func TestPreviewRegistryCannotAnswer(t *testing.T) {
	t.Parallel()
	repo := apps(t)
	tests := []struct {
		name, host, reason string
	}{
		{"unreachable", testenv.RefusingAddr(t), "connection refused"},
		{"unauthorized", testenv.RegistryWithAuth(t, "bot", "pw"), "UNAUTHORIZED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.Actions(t, "acme/apps", repo.Dir, map[string]string{
				"GITHUB_REF": "refs/pull/7/merge", "GITHUB_EVENT_NAME": "pull_request",
				"INPUT_COMMAND": "validate", "INPUT_REPOSITORY": tt.host + "/acme/apps",
			})
			code, _, stderr := run(t, env)
			mustCode(t, code, 0, stderr)
			want := "::warning::preview of frontend: reading " + tt.host + "/acme/apps/frontend:latest"
			if !strings.Contains(stderr, want) || !strings.Contains(stderr, tt.reason) {
				t.Errorf("no warning %q with %q:\n%s", want, tt.reason, stderr)
			}
			rs := actionResults(t, env)
			if r := rs["frontend"]; r.Status != report.Valid || r.Preview == nil || r.Preview.Warning == "" {
				t.Errorf("frontend = %+v, want valid with a preview warning", r)
			}
		})
	}
}

// TestPreviewSingleArtifact: a fleet repository published as one artifact (path ./) previews
// against <repository>:latest itself, folder by folder.
func TestPreviewSingleArtifact(t *testing.T) {
	t.Parallel()
	host := testenv.Registry(t)
	repo := testenv.NewGitRepo(t, "../../testdata/fleet")
	prefix := host + "/acme/fleet"
	code, _, stderr := run(t, nil, "publish", "--source", repo.Dir, "--repository", prefix, "--path", "./")
	mustCode(t, code, 0, stderr)
	repo.Write("clusters/staging/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: flux-system\n")
	k := "clusters/staging/kustomization.yaml"
	repo.Write(k, strings.Replace(repo.Read(k), "resources:\n", "resources:\n  - extra.yaml\n", 1))
	repo.Commit("staging: one more object")
	code, out, stderr := run(t, nil, "validate", "--source", repo.Dir, "--repository", prefix, "--path", "./", "--diff-against", "latest", "--output", "json")
	mustCode(t, code, 0, stderr)
	r := decodeResults(t, out, stderr)[""]
	if r.Preview == nil || !r.Preview.Published || r.Preview.Against != prefix+":latest" {
		t.Fatalf("preview = %+v, want one against %s:latest", r.Preview, prefix)
	}
	var got []string
	for _, o := range r.Preview.Overlays {
		for _, c := range o.Changes {
			got = append(got, o.Dir+" "+string(c.Action)+" "+c.Object.String())
		}
	}
	if want := "clusters/staging added ConfigMap/flux-system/extra"; strings.Join(got, "\n") != want {
		t.Errorf("changes %q, want %q", got, want)
	}
}

// TestPreviewBrokenOverlay: an overlay the pull request breaks is not shown as removing every
// object: it is named as not built, validation fails the run, the other overlays are previewed.
func TestPreviewBrokenOverlay(t *testing.T) {
	t.Parallel()
	host := testenv.MemRegistry(t, nil)
	prefix := host + "/acme/apps"
	repo := apps(t)
	code, _, stderr := run(t, nil, "publish", "--source", repo.Dir, "--repository", prefix, "--validate=false")
	mustCode(t, code, 0, stderr)
	k := "components/frontend/staging/kustomization.yaml"
	repo.Write(k, repo.Read(k)+"  - path: missing-patch.yaml\n")
	p := "components/frontend/production/values-patch.yaml"
	repo.Write(p, strings.Replace(repo.Read(p), "  values:\n", "  values:\n    extra: true\n", 1))
	repo.Commit("break staging, change production")
	code, out, stderr := run(t, nil, "validate", "--source", repo.Dir, "--repository", prefix, "--diff-against", "latest", "--output", "json")
	mustCode(t, code, 1, stderr)
	r := decodeResults(t, out, stderr)["frontend"]
	if r.Status != report.Invalid || r.Preview == nil {
		t.Fatalf("frontend = %+v, want invalid with a preview", r)
	}
	if strings.Join(r.Preview.Unbuilt, ",") != "staging" {
		t.Errorf("unbuilt = %q, want staging", r.Preview.Unbuilt)
	}
	for _, o := range r.Preview.Overlays {
		if o.Removed > 0 {
			t.Errorf("%s: %d objects removed, want none", o.Dir, o.Removed)
		}
		if o.Dir == "production" && o.Changed != 1 {
			t.Errorf("production: %d changed, want 1", o.Changed)
		}
	}
}

// TestPreviewPublishDryRun: publish with dry-run previews as validate does, and writes nothing.
func TestPreviewPublishDryRun(t *testing.T) {
	t.Parallel()
	host := testenv.MemRegistry(t, nil)
	prefix := host + "/acme/apps"
	repo := apps(t)
	code, rs, stderr := publishJSON(t, nil, "publish", "--source", repo.Dir, "--repository", prefix)
	mustCode(t, code, 0, stderr)
	before := rs["frontend"].Digest
	p := "components/frontend/production/values-patch.yaml"
	repo.Write(p, strings.Replace(repo.Read(p), "  values:\n", "  values:\n    extra: true\n", 1))
	repo.Commit("production: one more value")
	code, rs, stderr = publishJSON(t, nil, "publish", "--source", repo.Dir, "--repository", prefix, "--dry-run", "true", "--diff-against", "latest")
	mustCode(t, code, 0, stderr)
	pv := rs["frontend"].Preview
	if pv == nil || !pv.Published || len(pv.Overlays) != 3 || pv.Overlays[1].Dir != "production" || pv.Overlays[1].Changed != 1 {
		t.Fatalf("frontend preview = %+v, want production with one change", pv)
	}
	if p := rs["backend"].Preview; p == nil || p.Different() {
		t.Errorf("backend preview = %+v, want unchanged", p)
	}
	if got := testenv.DigestAt(t, host, "acme/apps/frontend", "latest"); got != before {
		t.Errorf("a dry run moved latest to %s", got)
	}
}
