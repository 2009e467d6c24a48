package app

import (
	"fmt"
	"testing"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

// BenchmarkPublishKeyless50 publishes 50 components cold, signing keylessly against the loopback
// Sigstore stack (Fulcio, Rekor v1 over Trillian) into distribution with its filesystem driver,
// as a GitHub Actions run: with the defaults (signature-format both and provenance: a legacy
// signature, a Sigstore bundle and an SLSA provenance attestation per component) and with the
// legacy signature alone. Each op is a whole run into a new repository prefix, its token request
// included. Targets (issue 12, 2-core machine): both + provenance ≤ 2.5 s and ≤ 0.10× the D2
// loop (BenchmarkD2Loop50/keyless) in the same run; its extra cost over legacy ≤ once the legacy
// time. hack/bench.sh prints them.
func BenchmarkPublishKeyless50(b *testing.B) {
	st := testenv.Sigstore(b)
	host := testenv.Registry(b)
	repo := testenv.NewGitRepo(b, "")
	genComponents(b, repo, 50)
	for _, c := range []struct{ name, format, provenance string }{
		{"both+provenance", "both", "true"},
		{"legacy", "legacy", "false"},
	} {
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				b.StopTimer()
				i++
				env := signedEnv(b, st, repo, host, "push-artifact.yaml", "refs/heads/main")
				env["INPUT_REPOSITORY"] = fmt.Sprintf("%s/keyless-%s-%d", host, c.format, i)
				env["INPUT_VALIDATE"] = "false"
				env["INPUT_SIGNATURE-FORMAT"], env["INPUT_PROVENANCE"] = c.format, c.provenance
				b.StartTimer()
				code, _, stderr := run(b, env)
				if code != 0 {
					b.Fatalf("publish: exit %d\n%s", code, stderr)
				}
			}
			// One more run, untimed, through a counting proxy: the registry requests.
			b.StopTimer()
			proxy := testenv.NewProxy(b, host)
			env := signedEnv(b, st, repo, proxy.Host, "push-artifact.yaml", "refs/heads/main")
			env["INPUT_REPOSITORY"] = fmt.Sprintf("%s/keyless-%s-counted", proxy.Host, c.format)
			env["INPUT_VALIDATE"] = "false"
			env["INPUT_SIGNATURE-FORMAT"], env["INPUT_PROVENANCE"] = c.format, c.provenance
			if code, _, stderr := run(b, env); code != 0 {
				b.Fatalf("publish: exit %d\n%s", code, stderr)
			}
			b.ReportMetric(float64(proxy.Total())/50, "requests/component")
		})
	}
}
