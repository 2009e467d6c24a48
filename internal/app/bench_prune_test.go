package app

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fleetpush/fleetpush/internal/artifact"
	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// BenchmarkPrune prunes a repository of 2,000 main builds (FLEETPUSH_BENCH_PRUNE_VERSIONS
// changes it), each with a legacy signature tag and a referrer listed in a fallback index, on
// distribution's in-memory registry on loopback, keeping 10. It reports the time of the run
// and, through a counting proxy, the registry requests per deleted version. The repository is
// filled directly (one small manifest a version), not by publish: the benchmark measures prune.
// FLEETPUSH_BENCH_PRUNE_LOG=1 prints prune's log and the requests summed by shape.
//
// Where the time goes: distribution answers a manifest DELETE by digest only after reading the
// link of every tag of the repository (to remove the tags on that manifest), and v3.1 records a
// trace span, JSON-encoded for its debug log, for each of those reads. A version takes four such
// DELETEs, the floor for what must go (the build, its referrer, its signature, its fallback
// index), so the registry's work grows with versions × tags: quadratically, whatever order the
// client deletes in. Prune's own requests per version are constant (about 11: the plan's read,
// the four DELETEs, the HEAD that guards the signatures, the referrers and the attachment reads,
// and one tag listing page per batch of deletions).
func BenchmarkPrune(b *testing.B) {
	n := 2000
	if s := os.Getenv("FLEETPUSH_BENCH_PRUNE_VERSIONS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	host := testenv.RegistryInMemory(b)
	b.StopTimer()
	for i := 1; i <= b.N; i++ {
		fillStart := time.Now()
		repo := fmt.Sprintf("acme/prune%d/frontend", i)
		fillPruneRepo(b, host, repo, n)
		b.Logf("filled %d versions in %s", n, time.Since(fillStart).Round(time.Millisecond))
		proxy := testenv.NewProxy(b, host)
		src := testenv.NewGitRepo(b, "../../testdata/apps").Dir
		var stdout, stderr bytes.Buffer
		args := []string{"prune", "--source", src, "--repository", proxy.Host + "/acme/prune" + strconv.Itoa(i), "--components", "frontend",
			"--keep", "10", "--keep-days", "0", "--dry-run=false", "--output", "json"}
		b.StartTimer()
		// The production retry policy: distribution's in-memory driver answers a manifest
		// DELETE after scanning every tag of the repository, which takes seconds past a few
		// thousand tags, longer than the tests' per-attempt deadline.
		code := Run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr, WithClock(fixedClock{time.Now()}))
		b.StopTimer()
		b.Logf("pruned in %s", time.Since(fillStart).Round(time.Millisecond))
		if os.Getenv("FLEETPUSH_BENCH_PRUNE_LOG") != "" {
			fmt.Fprintf(os.Stderr, "%s\nrequests by shape:\n%s", stderr.String(), requestBreakdown(proxy.Timeline()))
		}
		if code != 0 {
			b.Fatalf("prune exit %d:\n%s", code, stderr.String())
		}
		rs := decodeResults(b, stdout.String(), stderr.String())
		p := rs["frontend"].Prune
		if p == nil || p.Deleted != n-10 {
			b.Fatalf("deleted %v, want %d", p, n-10)
		}
		b.ReportMetric(float64(proxy.Total())/float64(p.Deleted), "requests/deleted")
		b.ReportMetric(float64(proxy.Count("GET", "tags"))/float64(p.Deleted), "tag-lists/deleted")
		b.ReportMetric(float64(p.Deleted), "deleted")
	}
}

// requestBreakdown sums a timeline by request shape (method, kind, by tag or by digest,
// status): how many and how long, the longest first. It is where a slow prune spends its time.
func requestBreakdown(tl []testenv.Request) string {
	type sum struct {
		n     int
		total time.Duration
	}
	by := map[string]*sum{}
	for _, r := range tl {
		kind := "other"
		switch {
		case strings.Contains(r.Path, "/manifests/sha256:"):
			kind = "manifest by digest"
		case strings.Contains(r.Path, "/manifests/"):
			kind = "manifest by tag"
		case strings.Contains(r.Path, "/referrers/"):
			kind = "referrers"
		case strings.HasSuffix(r.Path, "/tags/list"):
			kind = "tags"
		}
		k := fmt.Sprintf("%s %s %d", r.Method, kind, r.Status)
		if by[k] == nil {
			by[k] = &sum{}
		}
		by[k].n++
		by[k].total += r.End - r.Start
	}
	var ks []string
	for k := range by {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return by[ks[i]].total > by[ks[j]].total })
	var out strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&out, "%-32s %6d requests %10s total %8s each\n", k, by[k].n, by[k].total.Round(time.Millisecond), (by[k].total / time.Duration(by[k].n)).Round(time.Microsecond))
	}
	return out.String()
}

// fillPruneRepo pushes n main builds, a day apart, each with a .sig tag and a referrer in a
// fallback index, straight to the registry.
func fillPruneRepo(b testing.TB, host, repo string, n int) {
	b.Helper()
	r, err := name.NewRepository(host+"/"+repo, name.Insecure)
	if err != nil {
		b.Fatal(err)
	}
	opts := []remote.Option{remote.WithContext(context.Background())}
	put := func(ref name.Reference, raw []byte, mt types.MediaType) v1.Hash {
		if err := remote.Put(ref, rawManifestOf{raw, mt}, opts...); err != nil {
			b.Fatal(err)
		}
		d, _, _ := v1.SHA256(bytes.NewReader(raw))
		return d
	}
	// One shared config blob: the empty JSON object.
	cfg := []byte("{}")
	cfgDigest, _, _ := v1.SHA256(bytes.NewReader(cfg))
	if err := remote.WriteLayer(r, static.NewLayer(cfg, types.MediaType(registry.MediaTypeEmptyJSON)), opts...); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	for i := range n {
		created := now.Add(-time.Duration(n-i) * 24 * time.Hour).Format(time.RFC3339)
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[],"annotations":{"%s":"%s","n":"%d"}}`,
			cfgDigest, artifact.CreatedAnnotation, created, i)
		d := put(r.Tag(fmt.Sprintf("main-%08x", 0xa0000000+i)), []byte(m), types.OCIManifestSchema1)
		hexTag := "sha256-" + d.Hex
		sig := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[],"annotations":{"sig":"%s"}}`, cfgDigest, d)
		put(r.Tag(hexTag+".sig"), []byte(sig), types.OCIManifestSchema1)
		ref := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d}}`, cfgDigest, d, len(m))
		refDigest := put(r.Digest("sha256:"+sha(ref)), []byte(ref), types.OCIManifestSchema1)
		put(r.Tag(hexTag+".ref."+refDigest.Hex[:32]), []byte(ref), types.OCIManifestSchema1)
		idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}]}`, refDigest, len(ref))
		put(r.Tag(hexTag), []byte(idx), types.OCIImageIndex)
	}
}

func sha(s string) string {
	d, _, _ := v1.SHA256(strings.NewReader(s))
	return d.Hex
}

// rawManifestOf pushes bytes as they are.
type rawManifestOf struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifestOf) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifestOf) MediaType() (types.MediaType, error) { return r.mt, nil }
