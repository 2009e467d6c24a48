package app

import (
	"fmt"
	"testing"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

// genComponents writes n d2-apps-style components (base + staging + production, 8 files in all)
// into repo and commits them.
func genComponents(tb testing.TB, repo *testenv.GitRepo, n int) {
	tb.Helper()
	for i := range n {
		c := fmt.Sprintf("app%03d", i)
		base := "components/" + c + "/base/"
		repo.Write(base+"kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: "+c+"\nresources:\n  - namespace.yaml\n  - source.yaml\n  - release.yaml\n")
		repo.Write(base+"namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+c+"\n")
		repo.Write(base+"source.yaml", "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: "+c+"\nspec:\n  interval: 10m\n  url: oci://ghcr.io/stefanprodan/charts/podinfo\n  ref:\n    semver: \">=6.0.0\"\n")
		repo.Write(base+"release.yaml", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: "+c+"\nspec:\n  interval: 30m\n  chartRef:\n    kind: OCIRepository\n    name: "+c+"\n  values:\n    replicaCount: 1\n")
		for _, env := range []string{"staging", "production"} {
			o := "components/" + c + "/" + env + "/"
			repo.Write(o+"kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../base\npatches:\n  - path: values-patch.yaml\n")
			repo.Write(o+"values-patch.yaml", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: "+c+"\n  namespace: "+c+"\nspec:\n  values:\n    env: "+env+"\n")
		}
	}
	repo.Commit(fmt.Sprintf("%d components", n))
}

// BenchmarkPublish50 publishes 50 components to a real distribution registry on loopback: cold
// (a new repository prefix each time) and warm (nothing changed). Targets on a 2-core machine:
// cold < 1 s, warm < 0.3 s with zero blob uploads. The request and upload counts come from one
// extra run through a counting proxy, so the timed runs carry no proxy hop.
//
// The registry keeps its blobs in memory (distribution's inmemory driver: the same server code
// minus the disk), so the figures measure fleetpush rather than the shared machine's disk;
// BenchmarkPublish50Disk runs the cold case against the filesystem driver for comparison.
func BenchmarkPublish50(b *testing.B) {
	benchPublish(b, testenv.RegistryInMemory(b))
}

// BenchmarkPublish50Disk is BenchmarkPublish50 against distribution's filesystem driver.
func BenchmarkPublish50Disk(b *testing.B) {
	benchPublish(b, testenv.Registry(b))
}

func benchPublish(b *testing.B, host string) {
	repo := testenv.NewGitRepo(b, "")
	genComponents(b, repo, 50)
	env := map[string]string{}
	args := func(prefix string) []string {
		return []string{"publish", "--source", repo.Dir, "--repository", prefix, "--validate=false", "--output", "json"}
	}
	counted := func(b *testing.B, prefix string) {
		proxy := testenv.NewProxy(b, host)
		if code, _, stderr := run(b, env, args(proxy.Host+"/"+prefix)...); code != 0 {
			b.Fatalf("publish: exit %d\n%s", code, stderr)
		}
		b.ReportMetric(float64(proxy.Total()), "requests/run")
		b.ReportMetric(float64(proxy.Count("PUT", "blob-upload")), "blob-uploads/run")
	}

	b.Run("cold", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if code, _, stderr := run(b, env, args(fmt.Sprintf("%s/cold%d", host, i))...); code != 0 {
				b.Fatalf("publish: exit %d\n%s", code, stderr)
			}
		}
		b.StopTimer()
		counted(b, "cold-counted")
	})
	b.Run("warm", func(b *testing.B) {
		if code, _, stderr := run(b, env, args(host+"/warm")...); code != 0 {
			b.Fatalf("publish: exit %d\n%s", code, stderr)
		}
		counted(b, "warm-counted") // cold for this prefix
		for b.Loop() {
			if code, _, stderr := run(b, env, args(host+"/warm")...); code != 0 {
				b.Fatalf("publish: exit %d\n%s", code, stderr)
			}
		}
		b.StopTimer()
		proxy := testenv.NewProxy(b, host)
		if code, _, stderr := run(b, env, args(proxy.Host+"/warm")...); code != 0 {
			b.Fatalf("publish: exit %d\n%s", code, stderr)
		}
		b.ReportMetric(float64(proxy.Total()), "requests/run")
		b.ReportMetric(float64(proxy.Count("PUT", "blob-upload")), "blob-uploads/run")
	})
}
