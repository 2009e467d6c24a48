package preview

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkCompare5000 compares an overlay of 5,000 rendered Deployments with every image
// changed: the preview's own cost, without rendering. It reports the heap the comparison
// leaves allocated and the bytes it allocates in all.
func BenchmarkCompare5000(b *testing.B) {
	const n = 5000
	side := func(tag string) Side {
		objs := make([][]byte, n)
		for i := range n {
			objs[i] = fmt.Appendf(nil, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"app-%04d","namespace":"apps"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"app-%04d"}},"template":{"metadata":{"labels":{"app":"app-%04d"}},"spec":{"containers":[{"name":"app","image":"ghcr.io/acme/app:%s"}]}}}}`, i, i, i, tag)
		}
		return Side{"production": objs}
	}
	old, new := side("1.0.0"), side("1.1.0")
	b.ReportAllocs()
	var got Component
	for b.Loop() {
		got = Compare(old, new, nil, nil)
	}
	if got.Overlays[0].Changed != n {
		b.Fatalf("changed %d, want %d", got.Overlays[0].Changed, n)
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.HeapAlloc)/(1<<20), "heap-after-MB")
}
