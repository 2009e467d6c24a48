package app

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

// criticalPath publishes one component keyless with fleetpush's defaults (tool "fleetpush") or
// the D2 loop ("d2"), cold and then again with nothing changed, and shows where each run's time
// goes: the merged timeline of the requests the registry, Fulcio, Rekor and the token service
// saw, each marked when it lies on the longest chain of requests that followed one another
// (each started after the previous one ended: round trips paid in sequence), with each server's
// busy time and the gaps when nothing was in flight (the client's own work). The last op's
// summary goes to b.Log, its timelines are appended to the file FLEETPUSH_BENCH_TIMELINE if
// set. Metrics: run-* for the cold run, rerun-* for the re-run.
func (s *latencyStack) criticalPath(tool string) func(*testing.B) {
	return func(b *testing.B) { s.benchCriticalPath(b, tool) }
}

func (s *latencyStack) benchCriticalPath(b *testing.B, tool string) {
	publish := map[string]func(*testing.B, int, string, bool, bool) runCount{"fleetpush": s.fleetpush, "d2": s.d2}[tool]
	values := map[string][]float64{} // metric -> one value per op
	add := func(metric string, v float64) { values[metric] = append(values[metric], v) }
	last := map[string]timeline{}
	for b.Loop() {
		prefix := s.prefix("critical-path-"+tool, 1)
		for _, phase := range []string{"run", "rerun"} {
			c := publish(b, 1, prefix, true, phase == "rerun")
			// Taken before anything else reaches the proxies: the run reset them as it started.
			tl := s.timeline(c.took)
			last[phase] = tl
			add(phase+"-s", c.took.Seconds())
			chain := tl.chain()
			add(phase+"-sequential-requests", float64(len(chain)))
			onRegistry := 0
			for _, i := range chain {
				if tl.spans[i].server == "registry" {
					onRegistry++
				}
			}
			add(phase+"-sequential-registry-requests", float64(onRegistry))
			add(phase+"-idle-s", tl.idle().Seconds())
			add(phase+"-registry-requests", float64(c.registry))
			add(phase+"-fulcio-requests", float64(c.fulcio))
			add(phase+"-rekor-requests", float64(c.rekor))
		}
	}
	for metric, vs := range values {
		b.ReportMetric(mean(vs), metric)
		if strings.HasSuffix(metric, "-s") && !strings.HasSuffix(metric, "idle-s") {
			base := strings.TrimSuffix(metric, "-s")
			b.ReportMetric(slices.Min(vs), base+"-min-s")
			b.ReportMetric(slices.Max(vs), base+"-max-s")
		}
	}

	p := s.profile
	where := fmt.Sprintf("%s: registry %v, Fulcio %v, Rekor %v, token service %v a request", p.name, p.registry, p.fulcio, p.rekor, p.token)
	var out, summary, rerunSummary strings.Builder
	who := map[string]string{"fleetpush": "fleetpush", "d2": "the D2 loop (flux + cosign v3 sign; a re-run is flux diff)"}[tool]
	last["run"].write(&out, &summary, "critical path of one component, cold, keyless, "+who+" ("+where+")")
	out.WriteString("\n")
	last["rerun"].write(&out, &rerunSummary, "critical path of the same again, nothing changed, "+who+" ("+where+")")
	// go test keeps ten lines of a benchmark's log: the cold run's summary and the re-run's
	// headline fit, the timelines go to a file.
	headline, _, _ := strings.Cut(rerunSummary.String(), "\n")
	b.Log("\n" + summary.String() + headline)
	file := os.Getenv("FLEETPUSH_BENCH_TIMELINE")
	if file == "" {
		return
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatalf("opening FLEETPUSH_BENCH_TIMELINE: %v", err)
	}
	defer f.Close()
	if _, err := io.WriteString(f, out.String()+"\n"); err != nil {
		b.Fatalf("writing FLEETPUSH_BENCH_TIMELINE: %v", err)
	}
}

// span is one request of a timeline, on a server.
type span struct {
	testenv.Request
	server string
}

// timeline is one run's requests across the servers, sorted by start, from the run's start
// (the proxies' last Reset, a few microseconds apart) to its end.
type timeline struct {
	spans []span
	total time.Duration
}

func (s *latencyStack) timeline(total time.Duration) timeline {
	var t timeline
	t.total = total
	for _, x := range []struct {
		name  string
		proxy *testenv.Proxy
	}{{"registry", s.registry}, {"fulcio", s.fulcio}, {"rekor", s.rekor}, {"token", s.token}} {
		for _, r := range x.proxy.Timeline() {
			t.spans = append(t.spans, span{r, x.name})
		}
	}
	slices.SortStableFunc(t.spans, func(a, b span) int { return int(a.Start - b.Start) })
	return t
}

// chain is the longest chain of requests each of which started after the one before it ended:
// the round trips the run paid one after the other. Indices into spans, in order.
func (t timeline) chain() []int {
	n := len(t.spans)
	length, prev := make([]int, n), make([]int, n)
	best := -1
	for i := range n {
		length[i], prev[i] = 1, -1
		for j := range i {
			if t.spans[j].End <= t.spans[i].Start && length[j]+1 > length[i] {
				length[i], prev[i] = length[j]+1, j
			}
		}
		if best < 0 || length[i] > length[best] {
			best = i
		}
	}
	var c []int
	for i := best; i >= 0; i = prev[i] {
		c = append(c, i)
	}
	slices.Reverse(c)
	return c
}

// busy is the time at least one request of server (all servers for "") was in flight, and the
// gaps between, within the run.
func (t timeline) busy(server string) (busy time.Duration, gaps [][2]time.Duration) {
	var at time.Duration // the end of what is covered so far
	for _, s := range t.spans {
		if server != "" && s.server != server {
			continue
		}
		if s.Start > at {
			gaps = append(gaps, [2]time.Duration{at, s.Start})
			at = s.Start
		}
		if s.End > at {
			busy += s.End - at
			at = s.End
		}
	}
	if t.total > at {
		gaps = append(gaps, [2]time.Duration{at, t.total})
	}
	return busy, gaps
}

// idle is the run's time with no request in flight anywhere.
func (t timeline) idle() time.Duration {
	var d time.Duration
	_, gaps := t.busy("")
	for _, g := range gaps {
		d += g[1] - g[0]
	}
	return d
}

var (
	digestInPath = regexp.MustCompile(`sha256([:-])([0-9a-f]{8})[0-9a-f]{56}`)
	refTagInPath = regexp.MustCompile(`\.ref\.([0-9a-f]{8})[0-9a-f]{24}`)
	uuidInPath   = regexp.MustCompile(`([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	repoInPath   = regexp.MustCompile(`^/v2/lat-[^/]+/`)
)

// shortPath keeps what tells requests apart: the kind of call, the component, the first hex
// digits of a digest or an upload's id.
func shortPath(p string) string {
	p = repoInPath.ReplaceAllString(p, "/v2/…/")
	p = digestInPath.ReplaceAllString(p, "sha256$1$2…")
	p = refTagInPath.ReplaceAllString(p, ".ref.$1…")
	return uuidInPath.ReplaceAllString(p, "$1…")
}

// write writes the timeline with its totals to w, and the totals alone to summary.
func (t timeline) write(w, summary io.Writer, title string) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
	on := map[int]bool{}
	c := t.chain()
	var chainTime time.Duration
	for _, i := range c {
		on[i] = true
		chainTime += t.spans[i].End - t.spans[i].Start
	}
	fmt.Fprintf(w, "%s: %.3f s\n", title, t.total.Seconds())
	fmt.Fprintf(summary, "%s: %.3f s\n", title, t.total.Seconds())
	fmt.Fprintf(w, "%9s %9s  %-8s %-6s %-60s %s\n", "start ms", "end ms", "server", "method", "path", "status")
	for i, s := range t.spans {
		mark := ""
		if on[i] {
			mark = " *"
		}
		fmt.Fprintf(w, "%9s %9s  %-8s %-6s %-60s %d%s\n", ms(s.Start), ms(s.End), s.server, s.Method, shortPath(s.Path), s.Status, mark)
	}
	for _, server := range []string{"registry", "fulcio", "rekor", "token"} {
		n, sum := 0, time.Duration(0)
		for _, s := range t.spans {
			if s.server == server {
				n++
				sum += s.End - s.Start
			}
		}
		busy, _ := t.busy(server)
		fmt.Fprintf(io.MultiWriter(w, summary), "%-8s %3d requests, in flight %s ms of the run (%s ms summed over requests)\n", server, n, ms(busy), ms(sum))
	}
	_, gaps := t.busy("")
	var long []string
	for _, g := range gaps {
		if g[1]-g[0] >= 5*time.Millisecond {
			long = append(long, fmt.Sprintf("%s–%s", ms(g[0]), ms(g[1])))
		}
	}
	fmt.Fprintf(io.MultiWriter(w, summary), "idle (no request in flight): %s ms in %d gaps; those of 5 ms or more: %s\n", ms(t.idle()), len(gaps), strings.Join(long, ", "))
	// Which servers the chain waits on says which round trips to cut or overlap.
	perServer := map[string]int{}
	for _, i := range c {
		perServer[t.spans[i].server]++
	}
	var by []string
	for _, server := range []string{"registry", "fulcio", "rekor", "token"} {
		if perServer[server] > 0 {
			by = append(by, fmt.Sprintf("%s %d", server, perServer[server]))
		}
	}
	fmt.Fprintf(io.MultiWriter(w, summary), "sequential requests (longest chain, marked *): %d (%s), %s ms of the run's %s ms\n",
		len(c), strings.Join(by, ", "), ms(chainTime), ms(t.total))
}

// TestLatencyTimeline checks the critical path's arithmetic on a made-up run: two requests in
// parallel, then one after both, then a gap, then the last.
func TestLatencyTimeline(t *testing.T) {
	t.Parallel()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	req := func(server string, start, end int) span {
		return span{testenv.Request{Start: ms(start), End: ms(end), Method: "GET", Path: "/v2/lat-x/app000/manifests/latest", Status: 200}, server}
	}
	tl := timeline{total: ms(100), spans: []span{
		req("registry", 5, 30), req("registry", 6, 20), req("fulcio", 30, 50), req("rekor", 60, 90),
	}}
	if got, want := tl.chain(), []int{0, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("chain = %v, want %v", got, want)
	}
	if got, want := tl.idle(), ms(5+10+10); got != want {
		t.Errorf("idle = %v, want %v", got, want)
	}
	if busy, gaps := tl.busy("registry"); busy != ms(25) || len(gaps) != 2 {
		t.Errorf("registry busy %v with gaps %v, want 25ms with 2 gaps", busy, gaps)
	}
	if got, want := shortPath("/v2/lat-net-keyless-1-3/app000/manifests/sha256-"+strings.Repeat("ab", 32)+".sig"), "/v2/…/app000/manifests/sha256-abababab….sig"; got != want {
		t.Errorf("shortPath = %q, want %q", got, want)
	}
}
