package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/retention"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// fixedClock is a run's clock stopped at one instant.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                                 { return c.t }
func (fixedClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// pruneE2EBuilds is how many main builds the end-to-end test publishes: a busy repository's
// couple of months, each published by the real publish code.
const pruneE2EBuilds = 60

// TestPruneLifecycle publishes, with the real publish code and key signatures in both formats,
// a component's main builds (one reused by a commit that did not change it), two releases, a
// promoted rollback, a channel tag on an old build, and the orphans of a build deleted by hand;
// then prunes it on a real distribution registry. Exactly the expected digests and tags remain,
// every kept one still verifies, nothing attached is left without its subject, and a second
// prune plans nothing.
func TestPruneLifecycle(t *testing.T) {
	t.Parallel()
	host := testenv.Registry(t)
	repo := apps(t)
	f := newFaultEnv(t, host, "prune", repo)
	path := f.path + "/frontend"
	publish := func(extra ...string) map[string]report.Result {
		t.Helper()
		code, rs, stderr := f.publish(t, append([]string{"--components", "frontend"}, extra...)...)
		mustCode(t, code, 0, stderr)
		return rs
	}
	for i := 1; i <= pruneE2EBuilds; i++ {
		if i == 4 {
			repo.Commit("no change to frontend") // main-<sha> reuses the digest of build 3
		} else {
			repo.Write("components/frontend/base/build.yaml", fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: build\n  namespace: frontend\ndata:\n  n: %q\n", fmt.Sprint(i)))
			repo.Commit(fmt.Sprintf("build %d", i))
		}
		publish()
		switch i {
		case 5:
			repo.Git("tag", "frontend/v1.0.0")
			publish("--ref", "refs/tags/frontend/v1.0.0")
		case 8:
			repo.Git("tag", "frontend/v1.1.0")
			publish("--ref", "refs/tags/frontend/v1.1.0")
		}
	}
	// The rollback: latest-stable back to v1.0.0, with a promotion record.
	code, _, stderr := run(t, map[string]string{"COSIGN_PASSWORD": keyPassword}, "promote", "--source", repo.Dir, "--repository", f.prefix,
		"--components", "frontend", "--version", "v1.0.0", "--sign", "key", "--cosign-key", f.keyFile, "--tlog-upload=false", "--dry-run=false")
	mustCode(t, code, 0, stderr)

	before := testenv.TagMap(t, host, path)
	builds := buildTags(t, host, path, before)
	if len(builds) != pruneE2EBuilds {
		t.Fatalf("%d main builds published, want %d: %v", len(builds), pruneE2EBuilds, builds)
	}
	// A channel of the team's own on the oldest build: that digest stays, its build tag goes.
	staging := before[builds[0]]
	tagAt(t, host, path, staging, "staging")
	// Orphans: a feature-branch build whose manifest someone deleted by hand, leaving its .sig,
	// its fallback index and its referrer record behind.
	repo.Git("checkout", "-q", "-b", "feature/x")
	repo.Write("components/frontend/base/build.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: build\n  namespace: frontend\ndata:\n  n: feature\n")
	repo.Commit("feature build")
	orphanDigest := publish("--ref", "refs/heads/feature/x")["frontend"].Digest
	deleteByDigest(t, host, path, orphanDigest)
	orphanTags := attachmentsOf(testenv.Tags(t, host, path), orphanDigest)
	if len(orphanTags) < 2 {
		t.Fatalf("the deleted feature build left %v, want its .sig and fallback index at least", orphanTags)
	}
	before = testenv.TagMap(t, host, path)

	// What must stay: the 5 newest builds, the releases, the channels, the promoted digest,
	// the records; every other build's digest goes with its tags and attachments.
	const keep = 5
	keptDigests := map[string]bool{}
	for tag, d := range before {
		switch {
		case registry.IsAttachmentTag(tag):
		case retention.KindOf(tag) == retention.Build && !slices.Contains(builds[len(builds)-keep:], tag):
		default:
			keptDigests[d] = true
		}
	}
	var wantGone []string
	tagsAlone := 0
	wantTags := map[string]string{}
	for tag, d := range before {
		switch {
		case registry.IsAttachmentTag(tag):
			if h, _ := registry.SubjectOf(tag); keptDigests[h.String()] {
				wantTags[tag] = d
			}
		case retention.KindOf(tag) == retention.Build && !slices.Contains(builds[len(builds)-keep:], tag):
			if !keptDigests[d] && !slices.Contains(wantGone, d) {
				wantGone = append(wantGone, d)
			}
			if keptDigests[d] {
				tagsAlone++
			}
		case strings.HasPrefix(tag, "fleetpush-claim."):
			// Withdrawn claims of this test's releases: swept, their lease is over at the
			// prune's clock.
		default:
			wantTags[tag] = d
		}
	}
	if len(wantGone) < pruneE2EBuilds-keep-2 {
		t.Fatalf("test setup: only %d digests to delete", len(wantGone))
	}

	prune := func(extra ...string) (int, map[string]report.Result, string) {
		t.Helper()
		// Past the claims' lease; the builds' commits are months older.
		clock := fixedClock{time.Now().Add(time.Hour)}
		args := append([]string{"prune", "--source", repo.Dir, "--repository", f.prefix, "--components", "frontend",
			"--keep", fmt.Sprint(keep), "--keep-days", "0", "--output", "json"}, extra...)
		code, out, errOut := runWith(t, nil, []Option{WithClock(clock)}, args...)
		return code, decodeResults(t, out, errOut), errOut
	}

	// A dry run (the default) deletes nothing and plans the deletions.
	code, rs, stderr := prune()
	mustCode(t, code, 0, stderr)
	if after := testenv.TagMap(t, host, path); !mapsEqual(after, before) {
		t.Fatalf("a dry run changed the registry")
	}
	plan := rs["frontend"].Prune
	if plan == nil || plan.Deleted != len(wantGone) || len(plan.Orphans) != 1 {
		t.Fatalf("dry-run plan: %+v, want %d deletions and 1 orphan\nstderr:\n%s", plan, len(wantGone), stderr)
	}

	code, rs, stderr = prune("--dry-run=false")
	mustCode(t, code, 0, stderr)
	got := rs["frontend"].Prune
	if got.Deleted != len(wantGone) || got.TagsDeleted != tagsAlone || got.BytesFreed <= 0 || len(got.Failures) > 0 {
		t.Errorf("prune: deleted %d (want %d), tags alone %d (want %d), %d bytes, failures %v, left %v",
			got.Deleted, len(wantGone), got.TagsDeleted, tagsAlone, got.BytesFreed, got.Failures, got.Left)
	}
	t.Logf("prune: deleted %d digests, %d tags alone, %d attachments, %d claims, %d bytes; left %v", got.Deleted, got.TagsDeleted, got.Attachments, len(got.Claims), got.BytesFreed, got.Left)
	after := testenv.TagMap(t, host, path)
	if !mapsEqual(after, wantTags) {
		t.Errorf("tags after prune:\n got %v\nwant %v", keys(after), keys(wantTags))
	}
	for _, d := range append(wantGone, orphanDigest) {
		if exists(t, host, path, d) {
			t.Errorf("%s still exists", d)
		}
	}
	// Nothing attached is left without its subject; every kept digest still verifies.
	for tag := range after {
		if h, ok := registry.SubjectOf(tag); ok && !exists(t, host, path, h.String()) {
			t.Errorf("%s is left without its subject", tag)
		}
	}
	ctx := context.Background()
	judges := newKeyJudges(t)
	for d := range keptDigests {
		if strings.Contains(d, "record") {
			continue
		}
		ref, _ := name.NewDigest(host+"/"+path+"@"+d, name.Insecure)
		m, err := remote.Get(ref)
		if err != nil {
			t.Errorf("kept %s: %v", d, err)
			continue
		}
		if strings.Contains(string(m.Manifest), "application/vnd.fleetpush.record.v1") {
			continue
		}
		if err := f.verifier.Verify(ctx, ref); err != nil {
			t.Errorf("kept %s no longer verifies: %v", d, err)
		}
		judgeKept(t, judges, ref.String())
	}

	// The real flux CLI still pulls every kept tag, and what it extracts is the component's
	// files at the commit the artifact names: what a cluster's source-controller would apply.
	fluxPullsKept(t, host, path, repo, after)

	// The verify mode still passes on the channels after the prune.
	code, _, stderr = run(t, map[string]string{"COSIGN_PASSWORD": keyPassword}, "verify", "--source", repo.Dir, "--repository", f.prefix,
		"--components", "frontend", "--sign", "key", "--cosign-key", f.keyFile, "--tlog-upload=false")
	mustCode(t, code, 0, stderr)

	// A second prune plans nothing.
	code, rs, stderr = prune()
	mustCode(t, code, 0, stderr)
	if p := rs["frontend"].Prune; p.Deleted != 0 || p.TagsDeleted != 0 || len(p.Orphans) != 0 || len(p.Claims) != 0 || p.Attachments != 0 {
		t.Errorf("second prune plans %+v, want nothing", p)
	}
}

// fluxPullsKept runs `flux pull artifact` (hack/flux-pull: the flux CLI's pull, through the same
// Flux library) for every artifact tag in tags (not attachments, not records) and checks that the files it extracts are those of components/frontend at the commit
// the artifact's revision annotation names, file for file.
func fluxPullsKept(t *testing.T, host, path string, repo *testenv.GitRepo, tags map[string]string) {
	t.Helper()
	flux := testenv.Binary(t, "flux-pull")
	home := t.TempDir()
	pulled := 0
	for _, tag := range keys(tags) {
		if registry.IsAttachmentTag(tag) || retention.KindOf(tag) == retention.Record {
			continue
		}
		ref, _ := name.NewTag(host+"/"+path+":"+tag, name.Insecure)
		desc, err := remote.Get(ref)
		if err != nil {
			t.Fatalf("kept tag %s: %v", tag, err)
		}
		mf, err := v1.ParseManifest(strings.NewReader(string(desc.Manifest)))
		if err != nil {
			t.Fatalf("kept tag %s: %v", tag, err)
		}
		rev := mf.Annotations[artifact.RevisionAnnotation]
		_, sha, ok := strings.Cut(rev, "@sha1:")
		if !ok {
			t.Fatalf("kept tag %s: revision %q names no commit", tag, rev)
		}
		out := t.TempDir()
		cmd := exec.Command(flux, "--insecure-registry", "oci://"+ref.String(), out)
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("flux pull artifact %s after prune: %v\n%s", tag, err, b)
			continue
		}
		want := strings.Fields(repo.Git("ls-tree", "-r", "--name-only", sha, "components/frontend"))
		var got []string
		err = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(out, p)
			got = append(got, "components/frontend/"+filepath.ToSlash(rel))
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if w := repo.Git("show", sha+":components/frontend/"+filepath.ToSlash(rel)); strings.TrimSpace(string(b)) != strings.TrimSpace(w) {
				t.Errorf("flux pull artifact %s: %s differs from commit %s", tag, rel, sha)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("flux pull artifact %s extracted %v, want the files of %s: %v", tag, got, sha, want)
		}
		pulled++
	}
	// The 5 newest builds, two releases, latest, latest-stable and staging at least.
	if pulled < 10 {
		t.Errorf("flux pulled %d kept tags, want every kept artifact tag (10 or more)", pulled)
	}
}

// buildTags are the main builds of m, oldest commit first (by the created annotation, as
// prune reads it).
func buildTags(t testing.TB, host, repo string, m map[string]string) []string {
	t.Helper()
	created := map[string]string{}
	var out []string
	for tag, d := range m {
		if strings.HasPrefix(tag, "main-") {
			out = append(out, tag)
			ref, _ := name.NewDigest(host+"/"+repo+"@"+d, name.Insecure)
			desc, err := remote.Get(ref)
			if err != nil {
				t.Fatal(err)
			}
			mf, err := v1.ParseManifest(strings.NewReader(string(desc.Manifest)))
			if err != nil {
				t.Fatal(err)
			}
			created[tag] = mf.Annotations["org.opencontainers.image.created"]
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if created[out[i]] != created[out[j]] {
			return created[out[i]] < created[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}

func attachmentsOf(all []string, digest string) []string {
	h, _ := v1.NewHash(digest)
	return registry.AttachmentTags(all, h)
}

func tagAt(t testing.TB, host, repo, digest, tag string) {
	t.Helper()
	ref, _ := name.NewDigest(host+"/"+repo+"@"+digest, name.Insecure)
	desc, err := remote.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(ref.Context().Tag(tag), img); err != nil {
		t.Fatal(err)
	}
}

func deleteByDigest(t testing.TB, host, repo, digest string) {
	t.Helper()
	ref, _ := name.NewDigest(host+"/"+repo+"@"+digest, name.Insecure)
	if err := remote.Delete(ref); err != nil {
		t.Fatal(err)
	}
}

func exists(t testing.TB, host, repo, digest string) bool {
	t.Helper()
	ref, _ := name.NewDigest(host+"/"+repo+"@"+digest, name.Insecure)
	_, err := remote.Head(ref)
	return err == nil
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// keyJudges are the cosign CLIs, v2.6.5 and v3.1.3, with the public half of the tests' key:
// what prune keeps must still verify as a cluster's cosign would verify it.
type keyJudges struct {
	cosign2, cosign3, pubFile, emptyRoot, home string
}

func newKeyJudges(t *testing.T) keyJudges {
	t.Helper()
	kb, err := cosignKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	j := keyJudges{cosign2: testenv.Binary(t, "cosign"), cosign3: testenv.Binary(t, "cosign3"),
		pubFile: filepath.Join(dir, "cosign.pub"), emptyRoot: filepath.Join(dir, "trusted_root.json"), home: t.TempDir()}
	if err := os.WriteFile(j.pubFile, kb.PublicBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	// cosign v2 wants a trusted root for bundles even with a key; offline it cannot fetch the
	// public one, and an empty one serves: the key is the whole trust (signed without a log).
	if err := os.WriteFile(j.emptyRoot, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return j
}

// judgeKept fails the test unless ref's legacy signature and its bundle verify: cosign v3 judges
// both, cosign v2 the bundle (given both, v2.6.5 reads the bundle and asks for a trusted root).
func judgeKept(t *testing.T, j keyJudges, ref string) {
	t.Helper()
	key := []string{"--key", j.pubFile, "--insecure-ignore-tlog", "--allow-http-registry", ref}
	for _, c := range []struct {
		bin  string
		args []string
	}{
		{j.cosign2, append([]string{"verify", "--new-bundle-format", "--trusted-root", j.emptyRoot}, key...)},
		{j.cosign3, append([]string{"verify"}, key...)},
		{j.cosign3, append([]string{"verify", "--new-bundle-format=false"}, key...)},
	} {
		cmd := exec.Command(c.bin, c.args...)
		cmd.Env = []string{"HOME=" + j.home, "PATH=" + os.Getenv("PATH"), "TUF_ROOT=" + filepath.Join(j.home, "tuf")}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("kept %s: %s %s: %v\n%s", ref, filepath.Base(c.bin), strings.Join(c.args[:len(c.args)-1], " "), err, out)
		}
	}
}
