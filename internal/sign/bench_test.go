package sign_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/fleetpush/fleetpush/internal/sign"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// benchWorkers is the pipeline's default concurrency (the concurrency input).
const benchWorkers = 8

// BenchmarkSign50Formats compares, for 50 freshly pushed digests signed keyless (benchWorkers
// at a time, as a run does) against the loopback stack and a filesystem distribution registry (no referrers API), the default
// (both formats and provenance: two log entries more per digest, two referrers and the
// referrers index) with the legacy format alone. hack/bench.sh reports both figures; the target
// is an extra cost of at most once the legacy-only time.
func BenchmarkSign50Formats(b *testing.B) {
	env := testenv.Sigstore(b)
	host := testenv.Registry(b)
	ctx := context.Background()
	id := e2eIdentity(env, e2eRepo, "refs/heads/main", "")
	claims := testenv.GitHubClaims(e2eRepo, e2eWorkflow, "refs/heads/main")
	prov := e2eProvenance
	prov.Ref, prov.WorkflowRef = "refs/heads/main", e2eRepo+"/.github/workflows/"+e2eWorkflow+"@refs/heads/main"
	cases := []struct {
		name, repo string
		edit       func(*sign.Options)
	}{
		{"both+provenance", "both", func(o *sign.Options) { o.SignatureFormat, o.Provenance = sign.FormatBoth, true }},
		{"legacy", "legacy", func(o *sign.Options) { o.SignatureFormat, o.Provenance = sign.FormatLegacy, false }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				digests := make([]name.Digest, 50)
				for j := range digests {
					digests[j] = pushRandom(b, host, fmt.Sprintf("acme/d2-apps/%s-%d-c%02d", c.repo, i, j))
				}
				s := keyless(b, env, env.OIDC.Grant(claims), id, c.edit, func(o *sign.Options) { o.Logf = nil })
				b.StartTimer()
				if _, err := signPool(ctx, s, digests, benchWorkers, sign.Fresh(true), sign.WithProvenance(prov)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRerun50 is a re-run's verification of 50 digests signed with the defaults (both
// formats and provenance), benchWorkers at a time against the loopback stack: each op is a
// fresh run's Signer finding every signature there and verifying it. Its CPU profile is where
// a re-run's verification spends its time.
func BenchmarkRerun50(b *testing.B) {
	env := testenv.Sigstore(b)
	host := testenv.Registry(b)
	ctx := context.Background()
	id := e2eIdentity(env, e2eRepo, "refs/heads/main", "")
	claims := testenv.GitHubClaims(e2eRepo, e2eWorkflow, "refs/heads/main")
	prov := e2eProvenance
	prov.Ref, prov.WorkflowRef = "refs/heads/main", e2eRepo+"/.github/workflows/"+e2eWorkflow+"@refs/heads/main"
	both := func(o *sign.Options) { o.SignatureFormat, o.Provenance, o.Logf = sign.FormatBoth, true, nil }
	digests := make([]name.Digest, 50)
	for j := range digests {
		digests[j] = pushRandom(b, host, fmt.Sprintf("acme/d2-apps/rerun-c%02d", j))
	}
	s := keyless(b, env, env.OIDC.Grant(claims), id, both)
	if _, err := signPool(ctx, s, digests, benchWorkers, sign.Fresh(true), sign.WithProvenance(prov)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		s := keyless(b, env, env.OIDC.Grant(claims), id, both)
		res, err := signPool(ctx, s, digests, benchWorkers, sign.Reused(true), sign.WithProvenance(prov))
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Status != sign.StatusExisting {
				b.Fatalf("a re-run found %s, want existing", r.Status)
			}
		}
	}
}
