package app

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

// BenchmarkPublishKeyless50 publishes 50 components cold, signing keylessly against the loopback
// Sigstore stack (Fulcio, Rekor v1 over Trillian) into distribution with its filesystem driver,
// as a GitHub Actions run: with the defaults (signature-format both and provenance: a legacy
// signature, a Sigstore bundle and an SLSA provenance attestation per component) and with the
// legacy signature alone. Each run publishes into a new repository prefix, its token request
// included.
//
// The two formats are measured in pairs: each op is one run of each, in alternating order, so
// that both see the same load of a shared machine; the metrics both-s and legacy-s are their
// times and extra-x is (both - legacy) / legacy over all pairs. Targets (2-core machine): issue
// 12, both + provenance ≤ 2.5 s and ≤ 0.10× the D2 loop (BenchmarkD2Loop50/keyless); issue 13,
// extra-x ≤ 1. hack/bench.sh prints them.
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
	type format struct{ name, format, provenance string }
	both := format{"both", "both", "true"}
	legacy := format{"legacy", "legacy", "false"}
	n := 0 // each run publishes under a prefix of its own
	// publish runs f against registry and returns the run's time; timed says whether the
	// benchmark's own timer counts it.
	publish := func(b *testing.B, registry string, f format, rekor string, timed bool) time.Duration {
		b.Helper()
		b.StopTimer() // the environment is not the run
		n++
		env := signedEnv(b, st, repo, registry, "push-artifact.yaml", "refs/heads/main")
		env["INPUT_REPOSITORY"] = fmt.Sprintf("%s/keyless-%s-%d", registry, f.name, n)
		env["INPUT_VALIDATE"] = "false"
		env["INPUT_SIGNATURE-FORMAT"], env["INPUT_PROVENANCE"] = f.format, f.provenance
		if rekor != "" {
			env["INPUT_REKOR-URL"] = rekor
		}
		if timed {
			b.StartTimer()
		}
		start := time.Now()
		code, _, stderr := run(b, env)
		took := time.Since(start)
		if code != 0 {
			b.Fatalf("publish: exit %d\n%s", code, stderr)
		}
		return took
	}

	b.Run("both+provenance vs legacy", func(b *testing.B) {
		var took [2]time.Duration // both, legacy
		var extra []float64       // each pair's (both - legacy) / legacy
		i := 0
		for b.Loop() {
			order := []int{0, 1}
			if i%2 == 1 {
				order = []int{1, 0}
			}
			i++
			var pair [2]time.Duration
			for _, k := range order {
				pair[k] = publish(b, host, []format{both, legacy}[k], "", true)
				took[k] += pair[k]
			}
			extra = append(extra, float64(pair[0]-pair[1])/float64(pair[1]))
		}
		b.ReportMetric(took[0].Seconds()/float64(i), "both-s")
		b.ReportMetric(took[1].Seconds()/float64(i), "legacy-s")
		b.ReportMetric(float64(took[0]-took[1])/float64(took[1]), "extra-x")
		// The spread of the pairs: a shared machine's load comes and goes.
		b.ReportMetric(slices.Min(extra), "extra-min-x")
		b.ReportMetric(slices.Max(extra), "extra-max-x")
		// One more run of each, untimed, through a counting proxy: the registry requests.
		b.StopTimer()
		for _, f := range []format{both, legacy} {
			proxy := testenv.NewProxy(b, host)
			publish(b, proxy.Host, f, "", false)
			b.ReportMetric(float64(proxy.Total())/50, f.name+"-requests/component")
		}
	})

	for _, c := range []struct {
		name   string
		f      format
		fanout int
	}{
		{"both+provenance, log 1s away", both, signingFanout},
		{"legacy, log 1s away", legacy, signingFanout},
		{"both+provenance, log 1s away, no overlap", both, 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			defer func(f int) { signingFanout = f }(signingFanout)
			signingFanout = c.fanout
			for b.Loop() {
				publish(b, host, c.f, "http://"+slow.Host, true)
			}
		})
	}
}
