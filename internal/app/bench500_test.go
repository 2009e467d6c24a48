package app

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

// BenchmarkScale publishes 50 and 500 generated components, unsigned, cold and warm, and one
// fleet artifact of 5,000 files, each as a run of the fleetpush binary (built once) against
// distribution's in-memory registry on loopback. Besides the time per run it reports the run's
// peak resident memory (the child's ru_maxrss, which is its VmHWM) and, from one more run
// through a counting proxy, the registry requests and blob uploads per component.
//
// Targets (issue: 500 components in bounded memory): 500 components take at most 10× the
// 50-component time (linear growth), with peak RSS under 200 MB; warm runs upload no blob.
// hack/bench.sh prints them against the measured figures.
//
// The run is a child process, not app.Run in this one, so that its peak memory is its own and
// not the benchmark's; the fixtures are built here, without the package's test helpers.
func BenchmarkScale(b *testing.B) {
	host := testenv.RegistryInMemory(b)
	bin := scaleBinary(b)
	for _, n := range []int{50, 500} {
		src := scaleComponents(b, n)
		args := func(repo string) []string {
			return []string{"publish", "--source", src, "--repository", repo, "--validate=false", "--output", "json"}
		}
		b.Run(fmt.Sprintf("%d/cold", n), func(b *testing.B) {
			i := 0
			var rss int64
			for b.Loop() {
				i++
				rss = max(rss, scaleRun(b, bin, args(fmt.Sprintf("%s/scale%d-cold%d", host, n, i))))
			}
			b.StopTimer()
			b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MB")
			scaleCounted(b, bin, host, n, args, fmt.Sprintf("scale%d-counted", n), false)
		})
		b.Run(fmt.Sprintf("%d/warm", n), func(b *testing.B) {
			repo := fmt.Sprintf("%s/scale%d-warm", host, n)
			scaleRun(b, bin, args(repo))
			var rss int64
			for b.Loop() {
				rss = max(rss, scaleRun(b, bin, args(repo)))
			}
			b.StopTimer()
			b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MB")
			scaleCounted(b, bin, host, n, args, fmt.Sprintf("scale%d-warm", n), true)
		})
	}
	b.Run("fleet5000/cold", func(b *testing.B) {
		src := scaleFleet(b, 5000)
		i := 0
		var rss int64
		for b.Loop() {
			i++
			rss = max(rss, scaleRun(b, bin, []string{"publish", "--source", src, "--path", "./clusters", "--repository", fmt.Sprintf("%s/fleet-cold%d", host, i), "--validate=false", "--output", "json"}))
		}
		b.StopTimer()
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MB")
	})
}

// scaleCounted runs once more through a counting proxy and reports requests and blob uploads
// per component: prefix is new for a cold count, the warm repository for a warm one.
func scaleCounted(b *testing.B, bin, host string, n int, args func(string) []string, prefix string, warm bool) {
	proxy := testenv.NewProxy(b, host)
	if warm {
		scaleRun(b, bin, args(proxy.Host+"/"+prefix))
		proxy.Reset()
	}
	scaleRun(b, bin, args(proxy.Host+"/"+prefix))
	b.ReportMetric(float64(proxy.Total())/float64(n), "requests/component")
	b.ReportMetric(float64(proxy.Count("PUT", "blob-upload"))/float64(n), "blob-uploads/component")
}

// scaleRun runs the binary with args in a clean environment (no Actions variables: unsigned,
// not a dry run) and returns its peak resident memory in bytes.
func scaleRun(b *testing.B, bin string, args []string) int64 {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + b.TempDir()}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("fleetpush %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return ru.Maxrss << 10 // kilobytes on Linux
}

// scaleBinary builds fleetpush once for the benchmark.
func scaleBinary(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "fleetpush")
	cmd := exec.Command("go", "build", "-o", bin, "../..")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// scaleComponents writes n d2-apps-style components (base, staging and production overlays; 8
// files each) into a new git repository and commits them.
func scaleComponents(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	for i := range n {
		c := fmt.Sprintf("app%03d", i)
		base := filepath.Join(dir, "components", c, "base")
		scaleWrite(b, base, "kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: "+c+"\nresources:\n  - namespace.yaml\n  - source.yaml\n  - release.yaml\n")
		scaleWrite(b, base, "namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+c+"\n")
		scaleWrite(b, base, "source.yaml", "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: "+c+"\nspec:\n  interval: 10m\n  url: oci://ghcr.io/stefanprodan/charts/podinfo\n  ref:\n    semver: \">=6.0.0\"\n")
		scaleWrite(b, base, "release.yaml", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: "+c+"\nspec:\n  interval: 30m\n  chartRef:\n    kind: OCIRepository\n    name: "+c+"\n  values:\n    replicaCount: 1\n")
		for _, env := range []string{"staging", "production"} {
			o := filepath.Join(dir, "components", c, env)
			scaleWrite(b, o, "kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../base\npatches:\n  - path: values-patch.yaml\n")
			scaleWrite(b, o, "values-patch.yaml", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: "+c+"\n  namespace: "+c+"\nspec:\n  values:\n    env: "+env+"\n")
		}
	}
	scaleCommit(b, dir)
	return dir
}

// scaleFleet writes a d2-fleet-style repository whose clusters/ folder holds about files
// ConfigMaps in 50 folders, each with a kustomization, and commits it: the fleet artifact.
func scaleFleet(b *testing.B, files int) string {
	b.Helper()
	dir := b.TempDir()
	const folders = 50
	per := files / folders
	var top strings.Builder
	top.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for f := range folders {
		sub := fmt.Sprintf("tenant%02d", f)
		fmt.Fprintf(&top, "  - %s\n", sub)
		var k strings.Builder
		k.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
		for i := range per - 1 {
			name := fmt.Sprintf("cm%03d.yaml", i)
			fmt.Fprintf(&k, "  - %s\n", name)
			scaleWrite(b, filepath.Join(dir, "clusters", sub), name, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-%d\n  namespace: flux-system\ndata:\n  key: value-%d\n", sub, i, i))
		}
		scaleWrite(b, filepath.Join(dir, "clusters", sub), "kustomization.yaml", k.String())
	}
	scaleWrite(b, filepath.Join(dir, "clusters"), "kustomization.yaml", top.String())
	scaleCommit(b, dir)
	return dir
}

func scaleWrite(b *testing.B, dir, name, content string) {
	b.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
}

func scaleCommit(b *testing.B, dir string) {
	b.Helper()
	env := append(os.Environ(), "GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com",
		"GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.com",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "fixture"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
