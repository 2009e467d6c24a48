package app

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/retention"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// pruneRaceRounds are the rounds of TestPruneBesidePublishE2E: each a real prune beside real
// publishes of new commits.
const pruneRaceRounds = 2

// TestPruneBesidePublishE2E runs prune (dry-run: false, grace 0, keeping one build) while
// publishes of new commits run at the same time, with the real publish and prune code against a
// real distribution registry, a few rounds. After them, every tag names a manifest that exists,
// every tagged artifact still verifies with the real cosign CLIs (v2 and v3), and whatever the
// races left without its subject (a build deleted while it was being signed or listed), a
// second prune sweeps. The tagger's in-memory scheduler (TestPruneBesidePublish) tries the
// interleavings one by one; this is the proof that the pieces fit on a real registry.
func TestPruneBesidePublishE2E(t *testing.T) {
	t.Parallel()
	host := testenv.Registry(t)
	repo := apps(t)
	f := newFaultEnv(t, host, "prunerace", repo)
	path := f.path + "/frontend"
	n := 0
	commit := func() {
		n++
		repo.Write("components/frontend/base/build.yaml", fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: build\n  namespace: frontend\ndata:\n  n: %q\n", fmt.Sprint(n)))
		repo.Commit(fmt.Sprintf("build %d", n))
	}
	// As f.publish, without decoding the result: it runs beside the test's goroutine too.
	publish := func() error {
		code, _, stderr := runWith(t, map[string]string{"COSIGN_PASSWORD": keyPassword}, f.opts, "publish", "--source", f.repo.Dir,
			"--repository", f.prefix, "--components", "frontend", "--validate=false",
			"--sign", "key", "--cosign-key", f.keyFile, "--tlog-upload=false")
		if code != 0 {
			return fmt.Errorf("publish exit %d:\n%s", code, stderr)
		}
		return nil
	}
	for range 3 {
		commit()
		if err := publish(); err != nil {
			t.Fatal(err)
		}
	}
	// prune reads the components from a checkout of its own, as a scheduled workflow's job
	// does; the publishes commit beside it.
	pruneSrc := repo.Worktree(repo.Head())
	prune := func() (int, string) {
		code, _, stderr := run(t, nil, "prune", "--source", pruneSrc, "--repository", f.prefix, "--components", "frontend",
			"--keep", "1", "--keep-days", "0", "--grace", "0", "--dry-run=false")
		return code, stderr
	}
	for round := range pruneRaceRounds {
		var wg sync.WaitGroup
		var pruneCode int
		var pruneErr string
		var pubErr error
		wg.Go(func() { pruneCode, pruneErr = prune() })
		wg.Go(func() {
			for range 2 {
				commit()
				if pubErr = publish(); pubErr != nil {
					return
				}
			}
		})
		wg.Wait()
		if pubErr != nil {
			t.Fatalf("round %d: %v", round, pubErr)
		}
		// A prune may fail a deletion a publish raced (and say so); it must never break a tag.
		t.Logf("round %d: prune exit %d", round, pruneCode)
		if pruneCode != 0 && pruneCode != 1 {
			t.Fatalf("round %d: prune exit %d:\n%s", round, pruneCode, pruneErr)
		}
		tagsNameManifests(t, host, path)
	}

	// Whatever the races left without its subject, the next prune sweeps.
	if code, stderr := prune(); code != 0 {
		t.Fatalf("second prune exit %d:\n%s", code, stderr)
	}
	all := tagsNameManifests(t, host, path)
	for _, tag := range all {
		if h, ok := registry.SubjectOf(tag); ok && !exists(t, host, path, h.String()) {
			t.Errorf("%s is left without its subject after a second prune", tag)
		}
	}
	// Every tagged artifact still verifies, as a cluster's cosign would verify it.
	judges := newKeyJudges(t)
	judged := map[string]bool{}
	for _, tag := range all {
		if registry.IsAttachmentTag(tag) || retention.KindOf(tag) == retention.Record {
			continue
		}
		desc, err := remote.Head(mustTag(t, host, path, tag))
		if err != nil {
			t.Fatalf("%s: %v", tag, err)
		}
		if d := desc.Digest.String(); !judged[d] {
			judged[d] = true
			judgeKept(t, judges, host+"/"+path+"@"+d)
		}
	}
	if len(judged) == 0 {
		t.Error("no tagged artifact left to judge: latest and the newest build must stay")
	}
}

// tagsNameManifests fails the test unless every tag of repo names a manifest that exists, read
// by tag and again by the digest it gave; it returns the tags.
func tagsNameManifests(t *testing.T, host, repo string) []string {
	t.Helper()
	all := testenv.Tags(t, host, repo)
	for _, tag := range all {
		desc, err := remote.Head(mustTag(t, host, repo, tag))
		if err != nil {
			t.Errorf("the tag %s names no manifest: %v", tag, err)
			continue
		}
		if !exists(t, host, repo, desc.Digest.String()) {
			t.Errorf("the tag %s names %s, which is gone", tag, desc.Digest)
		}
	}
	return all
}

func mustTag(t *testing.T, host, repo, tag string) name.Tag {
	t.Helper()
	ref, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}
