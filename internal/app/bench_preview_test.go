package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/kustomize"
	"github.com/fleetpush/fleetpush/internal/preview"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// BenchmarkPreview times a pull request's validate with the preview against validate alone
// (diff-against none), both through the CLI against a distribution registry on loopback that
// holds the published repository: the difference is the preview (the registry reads, the
// second rendering, the comparison and its output). Targets on 2 cores: d2-apps with one
// component changed well under a second more; 50 changed components of 3 overlays each under
// 3 s.
func BenchmarkPreview(b *testing.B) {
	cases := []struct {
		name   string
		repo   func(b *testing.B) *testenv.GitRepo
		change func(repo *testenv.GitRepo)
	}{
		{"apps-one-changed", func(b *testing.B) *testenv.GitRepo { return apps(b) }, func(repo *testenv.GitRepo) {
			p := "components/frontend/production/values-patch.yaml"
			repo.Write(p, strings.Replace(repo.Read(p), "replicaCount: ", "replicaCount: 1", 1))
		}},
		{"50x3-all-changed", func(b *testing.B) *testenv.GitRepo {
			repo := testenv.NewGitRepo(b, "")
			genComponents(b, repo, 50)
			return repo
		}, func(repo *testenv.GitRepo) {
			for i := range 50 {
				p := fmt.Sprintf("components/app%03d/production/values-patch.yaml", i)
				repo.Write(p, strings.Replace(repo.Read(p), "env: production", "env: prod", 1))
			}
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			host := testenv.RegistryInMemory(b)
			repo := tc.repo(b)
			prefix := host + "/acme/apps"
			code, _, stderr := run(b, nil, "publish", "--source", repo.Dir, "--repository", prefix, "--validate=false")
			mustCode(b, code, 0, stderr)
			tc.change(repo)
			repo.Commit("change")
			for _, against := range []string{"none", "latest"} {
				b.Run("diff-against="+against, func(b *testing.B) {
					for b.Loop() {
						code, _, stderr := run(b, nil, "validate", "--source", repo.Dir, "--repository", prefix, "--diff-against", against, "--output", "json")
						mustCode(b, code, 0, stderr)
					}
				})
			}
		})
	}
}

// BenchmarkPreviewLargeOverlay renders and compares an overlay of 5,000 objects on both sides
// (the published one and the pull request's, every object changed) and reports the process's
// peak resident memory (Linux VmHWM): run it alone, `-run '^$' -bench PreviewLargeOverlay`, for
// a figure of its own. Target: < 300 MB.
// largeOverlayObjects is the size of the large overlay; a variable so a profile can shrink it.
var largeOverlayObjects = 5000

func BenchmarkPreviewLargeOverlay(b *testing.B) {
	n := largeOverlayObjects
	if s := os.Getenv("FLEETPUSH_BENCH_OBJECTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	layer := func(value string) *artifact.Layer {
		dir := b.TempDir()
		var objs strings.Builder
		for i := range n {
			fmt.Fprintf(&objs, "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-%04d\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: app-%04d}\n  template:\n    metadata:\n      labels: {app: app-%04d}\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/acme/app:%s\n", i, i, i, value)
		}
		write(b, filepath.Join(dir, "base", "objects.yaml"), objs.String())
		write(b, filepath.Join(dir, "base", "kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [objects.yaml]\n")
		l, err := artifact.Build(dir)
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	old, new := layer("1.0.0"), layer("1.1.0")
	v, err := kustomize.New(kustomize.WithConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	render := func(l *artifact.Layer) preview.Side {
		var mu sync.Mutex
		side := preview.Side{}
		if _, err := v.Validate(context.Background(), l.FS(), kustomize.Options{Rendered: func(dir string, objs [][]byte) {
			mu.Lock()
			defer mu.Unlock()
			side[dir] = objs
		}}); err != nil {
			b.Fatal(err)
		}
		return side
	}
	for b.Loop() {
		got := preview.Compare(render(old), render(new), filesOf(old), filesOf(new))
		if got.Overlays[0].Changed != n || len(got.Overlays[0].Notes) != n {
			b.Fatalf("changed %d, notes %d, want %d", got.Overlays[0].Changed, len(got.Overlays[0].Notes), n)
		}
	}
	if mb, ok := peakRSSMB(); ok {
		b.ReportMetric(mb, "peak-RSS-MB")
	}
}

// peakRSSMB is the process's peak resident set size, from /proc/self/status.
func peakRSSMB() (float64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
}
