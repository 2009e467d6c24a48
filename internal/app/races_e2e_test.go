package app

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// raceRounds are the rounds of each race run here, each against fresh repositories: the round
// number picks the delays (window), and round 1 opens the window in which an update is lost
// unless the runs converge. The many interleavings of these races are the tag engine's
// in-memory tests; these are the proof on a real registry that the pieces fit.
var raceRounds = []int{1}

// twoCommits is an apps repository with an older and a newer commit on main (frontend differs),
// each checked out in its own worktree, as two CI jobs of overlapping pushes would have them.
type twoCommits struct {
	repo               *testenv.GitRepo
	olderDir, newerDir string
	olderSHA, newerSHA string
}

func newTwoCommits(t *testing.T) *twoCommits {
	t.Helper()
	repo := apps(t)
	tc := &twoCommits{repo: repo, olderSHA: repo.Head()}
	repo.Write("components/frontend/base/extra-configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: frontend\ndata:\n  k: newer\n")
	tc.newerSHA = repo.Commit("frontend: newer")
	repo.Git("tag", "frontend/v1.1.0", tc.olderSHA)
	repo.Git("tag", "frontend/v1.2.0", tc.newerSHA)
	tc.olderDir = repo.Worktree(tc.olderSHA)
	tc.newerDir = repo.Worktree(tc.newerSHA)
	return tc
}

// job is one publish of the race.
type job struct {
	dir   string   // checkout
	host  string   // registry host (a proxy) it talks to
	args  []string // extra flags
	code  int
	res   map[string]report.Result
	log   string
	delay time.Duration // before it starts
}

// runTogether starts the jobs at the same moment (each after its own delay) and waits for all.
func runTogether(t *testing.T, prefix string, jobs ...*job) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			time.Sleep(j.delay)
			args := append([]string{"publish", "--source", j.dir, "--repository", j.host + "/" + prefix, "--all", "--validate=false", "--output", "json"}, j.args...)
			var out string
			j.code, out, j.log = run(t, map[string]string{}, args...)
			var rs []report.Result
			if err := json.Unmarshal([]byte(out), &rs); err == nil {
				j.res = map[string]report.Result{}
				for _, r := range rs {
					j.res[r.Component] = r
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	for _, j := range jobs {
		if j.code != ExitOK || j.res == nil {
			t.Fatalf("a concurrent publish in %s exited %d:\n%s", j.dir, j.code, j.log)
		}
	}
}

// windows are the extra latencies put on one job's tag writes, so that over the iterations the
// overlapping runs interleave their read-decide-write steps in many different orders.
func window(i int) time.Duration { return time.Duration(i%5) * 15 * time.Millisecond }

// TestRaceLatest publishes an older and a newer commit of one repository at the same time, again
// and again with fresh repositories, the older's tag writes delayed by varying amounts (and in
// some rounds the newer's): latest must end at the newer commit every time.
func TestRaceLatest(t *testing.T) {
	t.Parallel()
	host := testenv.Registry(t)
	tc := newTwoCommits(t)
	older, newer := testenv.NewProxy(t, host), testenv.NewProxy(t, host)
	start := time.Now()
	handedBack := 0
	for _, i := range raceRounds {
		prefix := fmt.Sprintf("acme/race-latest-%d", i)
		older.Clear()
		newer.Clear()
		slow := older
		if i%4 == 3 {
			slow = newer
		}
		slow.Inject(&testenv.Fault{Method: "PUT", Path: re(`/manifests/(latest|main-[0-9a-f]+)$`), Delay: window(i), Times: -1})
		slow.Inject(&testenv.Fault{Method: "GET", Path: re(`/manifests/latest$`), Delay: window(i + 2), Times: -1})
		o := &job{dir: tc.olderDir, host: older.Host, args: []string{"--ref", "refs/heads/main"}}
		n := &job{dir: tc.newerDir, host: newer.Host, args: []string{"--ref", "refs/heads/main"}, delay: time.Duration(i%3) * 5 * time.Millisecond}
		runTogether(t, prefix, o, n)
		handedBack += strings.Count(o.log+n.log, "was published while this run moved it")
		for _, c := range appNames {
			want := testenv.DigestAt(t, host, prefix+"/"+c, "main-"+tc.newerSHA[:8])
			if want == "" || want != n.res[c].Digest {
				t.Fatalf("iteration %d: %s:main-%s = %q, want the newer run's %s", i, c, tc.newerSHA[:8], want, n.res[c].Digest)
			}
			if got := testenv.DigestAt(t, host, prefix+"/"+c, "latest"); got != want {
				t.Errorf("iteration %d: %s:latest = %s, want the newer commit's %s\nolder run:\n%s\nnewer run:\n%s", i, c, got, want, o.log, n.log)
			}
			if got := testenv.DigestAt(t, host, prefix+"/"+c, "main-"+tc.olderSHA[:8]); got != o.res[c].Digest {
				t.Errorf("iteration %d: %s:main-%s = %s, want the older run's %s", i, c, tc.olderSHA[:8], got, o.res[c].Digest)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("%d iterations of an older and a newer commit published at once: latest ended at the newer every time; %d times the older run overwrote it and handed it back (%s)", len(raceRounds), handedBack, time.Since(start).Round(time.Millisecond))
}

// TestRaceSameCommit: two jobs of the same commit at once (a re-run overlapping the first run)
// agree on one digest and leave both tags on it.
func TestRaceSameCommit(t *testing.T) {
	t.Parallel()
	host := testenv.Registry(t)
	tc := newTwoCommits(t)
	a, b := testenv.NewProxy(t, host), testenv.NewProxy(t, host)
	for _, i := range raceRounds {
		prefix := fmt.Sprintf("acme/race-same-%d", i)
		a.Clear()
		a.Inject(&testenv.Fault{Method: "PUT", Path: re(`/manifests/`), Delay: window(i), Times: -1})
		j1 := &job{dir: tc.newerDir, host: a.Host, args: []string{"--ref", "refs/heads/main"}}
		j2 := &job{dir: tc.newerDir, host: b.Host, args: []string{"--ref", "refs/heads/main"}}
		runTogether(t, prefix, j1, j2)
		for _, c := range appNames {
			if j1.res[c].Digest != j2.res[c].Digest {
				t.Errorf("iteration %d: %s: the two jobs published %s and %s", i, c, j1.res[c].Digest, j2.res[c].Digest)
			}
			for _, tag := range []string{"latest", "main-" + tc.newerSHA[:8]} {
				if got := testenv.DigestAt(t, host, prefix+"/"+c, tag); got != j1.res[c].Digest {
					t.Errorf("iteration %d: %s:%s = %s, want %s", i, c, tag, got, j1.res[c].Digest)
				}
			}
		}
	}
}

// TestRaceReleases releases v1.1.0 and v1.2.0 of one component at the same time, again and again
// with fresh repositories: latest-stable ends at v1.2.0 every time, and neither version is ever
// overwritten, also when both releases run again at once.
func TestRaceReleases(t *testing.T) {
	t.Parallel()
	host := testenv.Registry(t)
	tc := newTwoCommits(t)
	older, newer := testenv.NewProxy(t, host), testenv.NewProxy(t, host)
	start := time.Now()
	handedOver := 0
	for _, i := range raceRounds {
		prefix := fmt.Sprintf("acme/race-stable-%d", i)
		repo := prefix + "/frontend"
		older.Clear()
		newer.Clear()
		if i%4 != 3 {
			// The window that loses an update: v1.1.0 lists the tags before v1.2.0 exists and
			// writes latest-stable after the v1.2.0 run moved and checked it.
			older.Inject(&testenv.Fault{Method: "PUT", Path: re(`/manifests/latest-stable$`), Delay: 40*time.Millisecond + window(i), Times: -1})
			newer.Inject(&testenv.Fault{Method: "PUT", Path: re(`/manifests/v1\.2\.0$`), Delay: time.Duration(i%3) * 10 * time.Millisecond, Times: -1})
		} else {
			newer.Inject(&testenv.Fault{Method: "PUT", Path: re(`/manifests/(latest-stable|v[0-9.]+)$`), Delay: window(i), Times: -1})
			newer.Inject(&testenv.Fault{Method: "GET", Path: re(pathTagList), Delay: window(i + 2), Times: -1})
		}
		o := &job{dir: tc.olderDir, host: older.Host, args: []string{"--ref", "refs/tags/frontend/v1.1.0"}}
		n := &job{dir: tc.newerDir, host: newer.Host, args: []string{"--ref", "refs/tags/frontend/v1.2.0"}, delay: time.Duration(i%3) * 5 * time.Millisecond}
		runTogether(t, prefix, o, n)
		handedOver += strings.Count(o.log, "latest-stable handed to v1.2.0")
		v110, v120 := o.res["frontend"].Digest, n.res["frontend"].Digest
		if v110 == "" || v120 == "" || v110 == v120 {
			t.Fatalf("iteration %d: v1.1.0 %q and v1.2.0 %q, want two digests", i, v110, v120)
		}
		check := func(round string) {
			t.Helper()
			if got := testenv.DigestAt(t, host, repo, "v1.1.0"); got != v110 {
				t.Errorf("iteration %d %s: v1.1.0 = %s, want %s: a version was overwritten", i, round, got, v110)
			}
			if got := testenv.DigestAt(t, host, repo, "v1.2.0"); got != v120 {
				t.Errorf("iteration %d %s: v1.2.0 = %s, want %s: a version was overwritten", i, round, got, v120)
			}
			if got := testenv.DigestAt(t, host, repo, "latest-stable"); got != v120 {
				t.Errorf("iteration %d %s: latest-stable = %s, want v1.2.0 %s (v1.1.0 is %s)\nv1.1.0 run:\n%s\nv1.2.0 run:\n%s", i, round, got, v120, v110, o.log, n.log)
			}
		}
		check("first")
		// Both again at once: nothing may change.
		o2 := &job{dir: tc.olderDir, host: older.Host, args: o.args}
		n2 := &job{dir: tc.newerDir, host: newer.Host, args: n.args}
		runTogether(t, prefix, o2, n2)
		if o2.res["frontend"].Digest != v110 || n2.res["frontend"].Digest != v120 {
			t.Errorf("iteration %d: re-releases published %s and %s, want %s and %s", i, o2.res["frontend"].Digest, n2.res["frontend"].Digest, v110, v120)
		}
		check("again")
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("%d iterations of v1.1.0 and v1.2.0 released at once, twice each: latest-stable ended at v1.2.0 and no version changed; %d times the v1.1.0 run overwrote it and handed it over (%s)", len(raceRounds), handedOver, time.Since(start).Round(time.Millisecond))
}
