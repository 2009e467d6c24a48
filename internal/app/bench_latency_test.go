package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// BenchmarkLatency is issue 19's benchmark: the everyday push across a real network. The
// registry (distribution, filesystem driver), Fulcio and Rekor each sit behind a proxy that holds
// every request for a while before passing it on, as a GitHub runner sees ghcr.io and the public
// Sigstore; the job's token service sits behind one too (no latency by default), so that the
// timeline shows when the token is fetched. fleetpush and the D2 loop run in the same op, in
// alternating order, so that both see the same load of a shared machine.
//
// Sub-benchmarks, selectable by name (-bench 'BenchmarkLatency/net/keyless/^1$'; join whole
// patterns with a top-level '|': 'BenchmarkLatency/net/critical-path|BenchmarkLatency/net/keyless/^3$'):
//
//	net|loopback          the latencies of FLEETPUSH_BENCH_{REGISTRY,FULCIO,REKOR,TOKEN}_MS
//	                      (default 30, 150, 300, 0 ms; 0 passes at once), or none at all
//	  critical-path       one component keyless, cold and re-run: the merged timeline of each
//	                      run's requests (summary in b.Log; the timelines appended to the file
//	                      FLEETPUSH_BENCH_TIMELINE)
//	  critical-path-d2    the same of the D2 loop, for comparison
//	  keyless/1|3|50      fleetpush's defaults (both formats + provenance) against the D2 loop
//	                      signing with cosign v3 (a Sigstore bundle), cold and re-run
//	  unsigned/1|3|50     sign: none against the D2 loop without cosign, cold and re-run (warm)
//
// An op of keyless/N and unsigned/N is four runs into a new repository prefix: fleetpush cold,
// then again with nothing changed (it must find and verify the signatures it wrote, and reuse
// the digests), and the D2 loop cold, then again (flux diff finds every component unchanged
// and the loop skips it: D2 verifies nothing on a re-run). Metrics, per run kind
// (fleetpush-cold, fleetpush-rerun, d2-cold, d2-rerun): mean, min and max seconds, registry
// requests per component (plus Fulcio and Rekor requests for fleetpush), how busy the
// machine's cores were (the servers share them: a run near 100% is bound by them) and, for
// fleetpush, its process's own CPU seconds; per phase (cold, rerun) the ratio fleetpush / D2 of
// the means and its lowest and highest over the ops. fleetpush runs as the binary
// hack/build.sh builds, a process like each CLI call of the D2 loop.
//
// Targets (issue 19, 2-core machine; hack/bench.sh prints them): net, one component keyless
// cold ≤ 0.5× D2, re-run ≤ 0.8× D2's re-run, 50 components keyless cold and re-run ≤ 0.05×;
// loopback, unsigned 50 cold ≤ 0.10×, warm ≤ 0.05×, keyless 50 cold ≤ 0.15×.
//
// A D2 loop of 50 components keyless at the default latencies takes 90 to 120 s: run the 50
// cases with -benchtime 1x or 2x, the others with a few iterations. The flux CLI is installed for
// benchmarks only (`bash hack/tools.sh flux`).
//
// FLEETPUSH_BENCH_SKIP_D2=1 runs fleetpush alone (no ratios): for iterating on fleetpush's side
// during development only; the figures the issue asks for come from the default.
func BenchmarkLatency(b *testing.B) {
	for _, p := range []latencyProfile{netProfile(b), {name: "loopback"}} {
		b.Run(p.name, func(b *testing.B) {
			s := newLatencyStack(b, p)
			b.Run("critical-path", s.criticalPath("fleetpush"))
			b.Run("critical-path-d2", s.criticalPath("d2"))
			for _, keyless := range []bool{true, false} {
				b.Run(map[bool]string{true: "keyless", false: "unsigned"}[keyless], func(b *testing.B) {
					for _, n := range []int{1, 3, 50} {
						b.Run(strconv.Itoa(n), func(b *testing.B) { s.benchCase(b, n, keyless) })
					}
				})
			}
		})
	}
}

// latencyProfile is how far away each server is.
type latencyProfile struct {
	name                           string
	registry, fulcio, rekor, token time.Duration
}

// netProfile reads the latencies of the "net" profile from the environment: the defaults are
// roughly a GitHub-hosted runner talking to ghcr.io and the public Sigstore.
func netProfile(b *testing.B) latencyProfile {
	ms := func(key string, def int) time.Duration {
		v := def
		if s := os.Getenv(key); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				b.Fatalf("%s=%q: want a whole number of milliseconds, 0 or more", key, s)
			}
			v = n
		}
		return time.Duration(v) * time.Millisecond
	}
	return latencyProfile{
		name:     "net",
		registry: ms("FLEETPUSH_BENCH_REGISTRY_MS", 30),
		fulcio:   ms("FLEETPUSH_BENCH_FULCIO_MS", 150),
		rekor:    ms("FLEETPUSH_BENCH_REKOR_MS", 300),
		token:    ms("FLEETPUSH_BENCH_TOKEN_MS", 0),
	}
}

// latencyStack is one profile's servers: the shared Sigstore stack and a registry, each behind
// a proxy of the profile (a loopback profile still goes through proxies with no latency, for the
// request counts and the timeline, so both profiles pay the same hop).
type latencyStack struct {
	profile                        latencyProfile
	st                             *testenv.SigstoreEnv
	registry, fulcio, rekor, token *testenv.Proxy
	home                           string // the CLIs' HOME: cosign caches trust material there
	signingConfig                  string // the file of cosign v3's signing config naming the proxies
	bin                            string // fleetpush, built as the Dockerfile builds it
	repos                          map[int]*testenv.GitRepo
	seq                            int // each run's repository prefix is new
}

func newLatencyStack(b *testing.B, p latencyProfile) *latencyStack {
	b.Helper()
	s := &latencyStack{
		profile: p,
		st:      testenv.Sigstore(b),
		home:    b.TempDir(),
		repos:   map[int]*testenv.GitRepo{},
	}
	s.registry = testenv.NewProxy(b, testenv.Registry(b))
	s.fulcio = testenv.NewProxy(b, strings.TrimPrefix(s.st.FulcioURL, "http://"))
	s.rekor = testenv.NewProxy(b, strings.TrimPrefix(s.st.RekorURL, "http://"))
	s.token = testenv.NewProxy(b, strings.TrimPrefix(s.st.OIDC.URL, "http://"))
	for _, x := range []struct {
		proxy *testenv.Proxy
		d     time.Duration
	}{{s.registry, p.registry}, {s.fulcio, p.fulcio}, {s.rekor, p.rekor}, {s.token, p.token}} {
		if x.d > 0 {
			x.proxy.Latency(x.d)
		}
	}
	// Made here, with the profile's b, because what a sub-benchmark makes goes at its end.
	for _, n := range []int{1, 3, 50} {
		r := testenv.NewGitRepo(b, "")
		genComponents(b, r, n)
		s.repos[n] = r
	}
	s.signingConfig = s.cosignSigningConfig(b)
	s.bin = shippedBinary(b)
	b.Logf("%s: registry %v, Fulcio %v, Rekor %v, token service %v a request", p.name, p.registry, p.fulcio, p.rekor, p.token)
	return s
}

// repo is the git repository of n generated components.
func (s *latencyStack) repo(b *testing.B, n int) *testenv.GitRepo {
	r, ok := s.repos[n]
	if !ok {
		b.Fatalf("no repository of %d components: newLatencyStack makes them", n)
	}
	return r
}

// prefix is a repository prefix no run has used.
func (s *latencyStack) prefix(kind string, n int) string {
	s.seq++
	return fmt.Sprintf("lat-%s-%s-%d-%d", s.profile.name, kind, n, s.seq)
}

// grant is a job's token grant whose token requests go through the token proxy.
func (s *latencyStack) grant() *testenv.Grant {
	g := s.st.OIDC.Grant(testenv.GitHubClaims("acme/apps", "push-artifact.yaml", "refs/heads/main"))
	g.RequestURL = strings.Replace(g.RequestURL, s.st.OIDC.URL, "http://"+s.token.Host, 1)
	return g
}

func (s *latencyStack) resetCounts() {
	for _, p := range []*testenv.Proxy{s.registry, s.fulcio, s.rekor, s.token} {
		p.Reset()
	}
}

// runCount is what one run cost: its time and the requests each server saw.
type runCount struct {
	took                    time.Duration
	registry, fulcio, rekor int
	peak                    int     // the most registry requests in flight at once
	cpu                     float64 // seconds of CPU the fleetpush process used (0 for the D2 loop)
	busy                    float64 // how busy the machine's cores were over the run, 0 to 1
}

func (s *latencyStack) counted(took time.Duration, since cpuTimes) runCount {
	return runCount{took: took, registry: s.registry.Total(), fulcio: s.fulcio.Total(), rekor: s.rekor.Total(),
		peak: peakInFlight(s.registry.Timeline()), busy: machineCPU().busySince(since)}
}

// cpuTimes is the machine's CPU time from /proc/stat, in clock ticks: busy and all.
type cpuTimes struct{ busy, total float64 }

// machineCPU reads the machine's CPU times (zero where /proc/stat cannot be read).
func machineCPU() cpuTimes {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return cpuTimes{}
	}
	var t cpuTimes
	for i, v := range f[1:] {
		if i >= 8 {
			break // guest and guest_nice: already counted in user and nice
		}
		x, _ := strconv.ParseFloat(v, 64)
		t.total += x
		if i != 3 && i != 4 { // idle and iowait
			t.busy += x
		}
	}
	return t
}

// busySince is the share of the machine's CPU that was busy between then and t.
func (t cpuTimes) busySince(then cpuTimes) float64 {
	if t.total <= then.total {
		return 0
	}
	return (t.busy - then.busy) / (t.total - then.total)
}

// peakInFlight is the most requests of tl in flight at one moment: how wide the run went.
func peakInFlight(tl []testenv.Request) int {
	type edge struct {
		at time.Duration
		d  int
	}
	es := make([]edge, 0, 2*len(tl))
	for _, r := range tl {
		es = append(es, edge{r.Start, 1}, edge{r.End, -1})
	}
	slices.SortFunc(es, func(a, b edge) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.d - b.d // an end before a start at the same moment
	})
	peak, cur := 0, 0
	for _, e := range es {
		cur += e.d
		peak = max(peak, cur)
	}
	return peak
}

// fleetpush runs the action on the n-component repository into prefix, keyless with its
// defaults or with sign: none, and checks what it did: a cold run pushes (and signs) every
// component, a re-run pushes nothing and signs nothing new. Validation is off, as in the other
// publish benchmarks: the D2 loop validates nothing, and validation is local work, not a round
// trip.
func (s *latencyStack) fleetpush(b *testing.B, n int, prefix string, keyless, rerun bool) runCount {
	b.Helper()
	repo := s.repo(b, n)
	g := s.grant()
	env := testenv.Actions(b, "acme/apps", repo.Dir, map[string]string{
		"GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": repo.Head(),
		"ACTIONS_ID_TOKEN_REQUEST_URL": g.RequestURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": g.RequestToken,
		"INPUT_REPOSITORY": s.registry.Host + "/" + prefix, "INPUT_VALIDATE": "false",
		"INPUT_FULCIO-URL": "http://" + s.fulcio.Host, "INPUT_REKOR-URL": "http://" + s.rekor.Host,
		"INPUT_FULCIO-ROOT": s.st.FulcioRootFile, "INPUT_REKOR-PUBLIC-KEY": s.st.RekorPublicKeyFile,
		"INPUT_CERTIFICATE-OIDC-ISSUER": s.st.OIDC.URL,
	})
	if !keyless {
		env["INPUT_SIGN"] = "none"
	}
	environ := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.home}
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin) // the action runs the image with no arguments
	cmd.Dir, cmd.Env = repo.Dir, environ
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	s.resetCounts()
	cpu0, start := machineCPU(), time.Now()
	// A process, as the action and the D2 loop's CLIs run: its start-up is part of the time.
	code := 0
	if err := cmd.Run(); err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	c := s.counted(time.Since(start), cpu0)
	if cmd.ProcessState != nil {
		c.cpu = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	}
	if code != 0 {
		b.Fatalf("fleetpush into %s: exit %d\n%s", prefix, code, stderr.String())
	}
	results := actionResults(b, env)
	if len(results) != n {
		b.Fatalf("fleetpush into %s: %d results, want %d\n%s", prefix, len(results), n, stderr.String())
	}
	for comp, r := range results {
		want := map[bool]report.Status{false: report.Pushed, true: report.Unchanged}[rerun]
		if r.Status != want {
			b.Fatalf("fleetpush into %s: %s is %s, want %s\n%s", prefix, comp, r.Status, want, stderr.String())
		}
		switch {
		case keyless && !rerun && r.Signed != "new":
			b.Fatalf("fleetpush into %s: %s signed %q on a cold run, want new", prefix, comp, r.Signed)
		case keyless && rerun && r.Signed != "existing":
			b.Fatalf("fleetpush into %s: %s signed %q on a re-run, want existing", prefix, comp, r.Signed)
		}
	}
	return c
}

// d2 runs the Flux D2 reference architecture's publish loop over the n components, one after
// the other as its workflow does: `flux diff artifact` against latest, and when it differs
// `flux push artifact`, `flux tag artifact --tag latest` and, keyless, `cosign sign` of the
// pushed digest with cosign v3 (a Sigstore bundle, as D2's workflows sign today). A re-run
// expects every component unchanged.
func (s *latencyStack) d2(b *testing.B, n int, prefix string, keyless, rerun bool) runCount {
	b.Helper()
	// Looked up here, so that the fleetpush-only critical path runs without the flux CLI.
	flux, cosign3 := testenv.Binary(b, "flux"), testenv.Binary(b, "cosign3")
	repo := s.repo(b, n)
	sha := repo.Head()
	g := s.grant()
	env := []string{"HOME=" + s.home, "PATH=" + os.Getenv("PATH"), "TUF_ROOT=" + filepath.Join(s.home, "tuf"),
		"ACTIONS_ID_TOKEN_REQUEST_URL=" + g.RequestURL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + g.RequestToken}
	cli := func(bin string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), runBound)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir, cmd.Env = repo.Dir, env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, errb.String())
		}
		return out.String(), nil
	}
	s.resetCounts()
	cpu0, start := machineCPU(), time.Now()
	for c := range n {
		comp := fmt.Sprintf("app%03d", c)
		ref := s.registry.Host + "/" + prefix + "/" + comp
		path := "components/" + comp
		_, err := cli(flux, "diff", "artifact", "oci://"+ref+":latest", "--path="+path)
		switch {
		case rerun && err != nil:
			b.Fatalf("D2 re-run: flux diff artifact finds %s changed: %v", comp, err)
		case rerun:
			continue
		case err == nil:
			b.Fatalf("D2 loop: flux diff artifact finds %s unchanged in the new repository %s", comp, prefix)
		}
		out, err := cli(flux, "push", "artifact", "oci://"+ref+":"+sha[:7], "--path="+path,
			"--source=https://github.com/acme/apps", "--revision=main@sha1:"+sha, "--output=json")
		if err != nil {
			b.Fatal(err)
		}
		var pushed struct{ Digest string }
		if err := json.Unmarshal([]byte(out), &pushed); err != nil || pushed.Digest == "" {
			b.Fatalf("flux push artifact printed %q: %v", out, err)
		}
		if _, err := cli(flux, "tag", "artifact", "oci://"+ref+":"+sha[:7], "--tag=latest"); err != nil {
			b.Fatal(err)
		}
		if keyless {
			if _, err := cli(cosign3, "sign", "--yes", "--signing-config="+s.signingConfig,
				"--trusted-root="+s.st.TrustedRootFile, "--allow-http-registry", ref+"@"+pushed.Digest); err != nil {
				b.Fatal(err)
			}
		}
	}
	return s.counted(time.Since(start), cpu0)
}

// cosignSigningConfig writes the signing config cosign v3 signs with: D2's cosign reads the
// public one (Fulcio, Rekor v1) from Sigstore's TUF repository, this one names the proxies of
// the loopback stack instead, so that cosign takes the same path.
func (s *latencyStack) cosignSigningConfig(b *testing.B) string {
	b.Helper()
	file := filepath.Join(b.TempDir(), "signing_config.json")
	service := func(host string) string {
		return "url=http://" + host + ",api-version=1,start-time=2020-01-01T00:00:00Z,operator=loopback"
	}
	cmd := exec.Command(testenv.Binary(b, "cosign3"), "signing-config", "create", "--fulcio="+service(s.fulcio.Host),
		"--rekor="+service(s.rekor.Host), "--rekor-config=ANY", "--out="+file)
	cmd.Env = []string{"HOME=" + s.home, "PATH=" + os.Getenv("PATH"), "TUF_ROOT=" + filepath.Join(s.home, "tuf")}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("cosign signing-config create: %v\n%s", err, out)
	}
	return file
}

// benchCase measures fleetpush against the D2 loop for n components: see BenchmarkLatency.
func (s *latencyStack) benchCase(b *testing.B, n int, keyless bool) {
	kind := map[bool]string{true: "keyless", false: "unsigned"}[keyless]
	runs := map[string][]runCount{}
	i := 0
	for b.Loop() {
		tools := []string{"fleetpush", "d2"}
		if os.Getenv("FLEETPUSH_BENCH_SKIP_D2") == "1" {
			tools = tools[:1]
		}
		if i%2 == 1 {
			slices.Reverse(tools)
		}
		i++
		for _, tool := range tools {
			prefix := s.prefix(kind+"-"+tool, n)
			f := map[string]func(*testing.B, int, string, bool, bool) runCount{"fleetpush": s.fleetpush, "d2": s.d2}[tool]
			runs[tool+"-cold"] = append(runs[tool+"-cold"], f(b, n, prefix, keyless, false))
			runs[tool+"-rerun"] = append(runs[tool+"-rerun"], f(b, n, prefix, keyless, true))
		}
	}
	for _, k := range []string{"fleetpush-cold", "fleetpush-rerun", "d2-cold", "d2-rerun"} {
		rs := runs[k]
		if len(rs) == 0 {
			continue
		}
		secs := make([]float64, len(rs))
		var reg, ful, rek, cpu, busy float64
		for j, r := range rs {
			secs[j] = r.took.Seconds()
			cpu += r.cpu
			busy += r.busy
			reg += float64(r.registry)
			ful += float64(r.fulcio)
			rek += float64(r.rekor)
		}
		per := float64(len(rs) * n)
		b.ReportMetric(mean(secs), k+"-s")
		b.ReportMetric(slices.Min(secs), k+"-min-s")
		b.ReportMetric(slices.Max(secs), k+"-max-s")
		b.ReportMetric(reg/per, k+"-requests/component")
		// Whether the machine's cores, which the servers share, were the bound.
		b.ReportMetric(busy/float64(len(rs)), k+"-machine-busy")
		if strings.HasPrefix(k, "fleetpush") {
			b.ReportMetric(cpu/float64(len(rs)), k+"-cpu-s")
			var peak float64
			for _, r := range rs {
				peak = max(peak, float64(r.peak))
			}
			b.ReportMetric(peak, k+"-peak-registry-in-flight")
		}
		if keyless && k == "fleetpush-cold" {
			b.ReportMetric(ful/per, k+"-fulcio/component")
			b.ReportMetric(rek/per, k+"-rekor/component")
		}
	}
	for _, phase := range []string{"cold", "rerun"} {
		fp, d2 := runs["fleetpush-"+phase], runs["d2-"+phase]
		if len(d2) == 0 {
			continue
		}
		ratios := make([]float64, len(fp))
		var fpSum, d2Sum time.Duration
		for j := range fp {
			ratios[j] = fp[j].took.Seconds() / d2[j].took.Seconds()
			fpSum += fp[j].took
			d2Sum += d2[j].took
		}
		b.ReportMetric(fpSum.Seconds()/d2Sum.Seconds(), phase+"-x")
		b.ReportMetric(slices.Min(ratios), phase+"-min-x")
		b.ReportMetric(slices.Max(ratios), phase+"-max-x")
	}
}

func mean(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// runBound ends a run of fleetpush or of one CLI call that hangs, so that the benchmark fails
// instead of waiting for ever; far above any run it measures.
const runBound = 10 * time.Minute

// shippedBinary builds fleetpush once for a benchmark with hack/build.sh, the Dockerfile's own
// command and flags, so that what is timed is what ships.
func shippedBinary(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "fleetpush")
	cmd := exec.Command("bash", "../../hack/build.sh", bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("hack/build.sh: %v\n%s", err, out)
	}
	return bin
}
