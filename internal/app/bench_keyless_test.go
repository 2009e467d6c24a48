package app

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

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
	// The public Rekor answers an entry in about a second, the loopback one in a fraction: a
	// proxy that holds each new entry for a second shows the run against such a log, with and
	// without signing overlapping the registry work (signingFanout).
	slow := testenv.NewProxy(b, strings.TrimPrefix(st.RekorURL, "http://"))
	slow.Inject(&testenv.Fault{Method: "POST", Path: regexp.MustCompile(`^/api/v1/log/entries$`), Delay: time.Second, Times: -1})
	n := 0 // each case publishes under prefixes of its own
	for _, c := range []struct {
		name, format, provenance string
		rekor                    string // "" = the loopback log itself
		fanout                   int
	}{
		{"both+provenance", "both", "true", "", signingFanout},
		{"legacy", "legacy", "false", "", signingFanout},
		{"both+provenance, log 1s away", "both", "true", "http://" + slow.Host, signingFanout},
		{"both+provenance, log 1s away, no overlap", "both", "true", "http://" + slow.Host, 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			prefix := fmt.Sprintf("keyless-%s-%d", c.format, n)
			n++
			defer func(f int) { signingFanout = f }(signingFanout)
			signingFanout = c.fanout
			i := 0
			for b.Loop() {
				b.StopTimer()
				i++
				env := signedEnv(b, st, repo, host, "push-artifact.yaml", "refs/heads/main")
				env["INPUT_REPOSITORY"] = fmt.Sprintf("%s/%s-%d", host, prefix, i)
				env["INPUT_VALIDATE"] = "false"
				env["INPUT_SIGNATURE-FORMAT"], env["INPUT_PROVENANCE"] = c.format, c.provenance
				if c.rekor != "" {
					env["INPUT_REKOR-URL"] = c.rekor
				}
				b.StartTimer()
				code, _, stderr := run(b, env)
				if code != 0 {
					b.Fatalf("publish: exit %d\n%s", code, stderr)
				}
			}
			// One more run, untimed, through a counting proxy: the registry requests.
			b.StopTimer()
			if c.rekor != "" {
				return // the same requests as without the delay
			}
			proxy := testenv.NewProxy(b, host)
			env := signedEnv(b, st, repo, proxy.Host, "push-artifact.yaml", "refs/heads/main")
			env["INPUT_REPOSITORY"] = fmt.Sprintf("%s/%s-counted", proxy.Host, prefix)
			env["INPUT_VALIDATE"] = "false"
			env["INPUT_SIGNATURE-FORMAT"], env["INPUT_PROVENANCE"] = c.format, c.provenance
			if code, _, stderr := run(b, env); code != 0 {
				b.Fatalf("publish: exit %d\n%s", code, stderr)
			}
			b.ReportMetric(float64(proxy.Total())/50, "requests/component")
		})
	}
}
