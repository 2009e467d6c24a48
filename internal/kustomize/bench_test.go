package kustomize

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

// benchRepo generates an apps repository of n components, each with a base
// and three overlays (staging, production, and a dev one), the shape of the
// D2 reference: 3n overlays and n bases to build.
func benchRepo(n int) fstest.MapFS {
	fs := fstest.MapFS{}
	for i := range n {
		c := fmt.Sprintf("components/app%02d/", i)
		fs[c+"base/kustomization.yaml"] = file(kustHeader + fmt.Sprintf("namespace: app%02d\nresources:\n  - namespace.yaml\n  - source.yaml\n  - release.yaml\n  - deploy.yaml\n", i))
		fs[c+"base/namespace.yaml"] = file(fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app%02d\n", i))
		fs[c+"base/source.yaml"] = file("apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: podinfo\nspec:\n  interval: 10m\n  url: oci://ghcr.io/stefanprodan/charts/podinfo\n  ref:\n    semver: 6.x\n")
		fs[c+"base/release.yaml"] = file(helmRelease)
		fs[c+"base/deploy.yaml"] = file(deployment)
		for _, env := range []string{"staging", "production", "dev"} {
			fs[c+env+"/kustomization.yaml"] = file(kustHeader + "resources:\n  - ../base\npatches:\n  - path: values-patch.yaml\n  - target:\n      kind: Deployment\n      name: web\n    patch: |\n      - op: replace\n        path: /spec/replicas\n        value: 3\n")
			fs[c+env+"/values-patch.yaml"] = file("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n  namespace: apps\nspec:\n  values:\n    replicaCount: ${REPLICAS:=3}\n    env: " + env + "\n")
		}
	}
	return fs
}

// BenchmarkValidate150Overlays validates 50 components × 3 overlays (plus
// their 50 bases) in one artifact.
func BenchmarkValidate150Overlays(b *testing.B) {
	v, err := New()
	if err != nil {
		b.Fatal(err)
	}
	fs := benchRepo(50)
	got, err := v.Validate(context.Background(), fs, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if HasErrors(got) {
		b.Fatalf("generated repository has errors: %v", got)
	}
	start := cpuTime()
	for b.Loop() {
		if _, err := v.Validate(context.Background(), fs, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time per run, meaningful on a busy machine where wall time is not.
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// manyObjects is one file of n ConfigMaps that a kustomization lists.
func manyObjects(n int) fstest.MapFS {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%d\ndata:\n  key: value-%d\n", i, i)
	}
	return fstest.MapFS{"kustomization.yaml": file(kustHeader + "resources: [cms.yaml]\n"), "cms.yaml": file(b.String())}
}

// BenchmarkValidateObjects validates one file of 1,000 and of 8,000
// objects: validation is linear in them, so 8,000 cost about 8 times
// 1,000 (9 times measured; through kustomize's resource map, which checks
// each object against all before it, it was about 100 times). Compare the
// cpu-ms/op of the two.
func BenchmarkValidateObjects(b *testing.B) {
	v, err := New()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1000, 8000} {
		fs := manyObjects(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			start := cpuTime()
			for b.Loop() {
				got, err := v.Validate(context.Background(), fs, Options{})
				if err != nil || HasErrors(got) {
					b.Fatal(err, got)
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}
