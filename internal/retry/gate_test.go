package retry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetpush/fleetpush/internal/retry/retrytest"
	"github.com/google/go-cmp/cmp"
)

// arrivals records the fake time at which each request reached a server.
type arrivals struct {
	clock *retrytest.Clock
	mu    sync.Mutex
	at    map[string][]time.Duration // path -> offsets from epoch
}

func (a *arrivals) record(r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at[r.URL.Path] = append(a.at[r.URL.Path], a.clock.Now().Sub(epoch))
}

func (a *arrivals) get() map[string][]time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string][]time.Duration{}
	for k, v := range a.at {
		out[k] = append([]time.Duration(nil), v...)
	}
	return out
}

// TestGateSlowsEveryRequest: a 429 with Retry-After met by one request holds back the requests
// that come after it to the same host, not only its own retry; other hosts are not held.
func TestGateSlowsEveryRequest(t *testing.T) {
	t.Parallel()
	clock := retrytest.NewClock(epoch)
	arr := &arrivals{clock: clock, at: map[string][]time.Duration{}}
	limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arr.record(r)
		if r.URL.Path == "/v2/a/manifests/latest" && len(arr.get()[r.URL.Path]) == 1 {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer limited.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arr.record(r)
	}))
	defer other.Close()

	log := &logLines{}
	gate := NewGate(clock)
	// Two transports sharing a gate, as the registry client's and a signer's do: workers of one
	// run. The first does not retry, so the pause it meets is only the gate's.
	once := &http.Client{Transport: NewTransport(nil, Policy{Attempts: 1, Max: time.Minute}, WithClock(clock), WithGate(gate), WithLogf(log.logf))}
	retrying := &http.Client{Transport: NewTransport(nil, Policy{Attempts: 3, Base: time.Millisecond, Max: time.Minute}, WithClock(clock), WithGate(gate), WithLogf(log.logf))}

	get := func(c *http.Client, url string) int {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(once, limited.URL+"/v2/a/manifests/latest"); code != http.StatusTooManyRequests {
		t.Fatalf("first request: %d, want the 429", code)
	}
	if at := gate.Opens(strings.TrimPrefix(limited.URL, "http://")); !at.Equal(epoch.Add(30 * time.Second)) {
		t.Fatalf("gate opens at %s, want 30s after the 429", at)
	}
	// Another worker, another repository, the same host: it waits out the pause first.
	get(retrying, limited.URL+"/v2/b/manifests/latest")
	// Another host is not held (the time is already past the pause, so check the waits).
	sleepsBefore := len(clock.Sleeps())
	get(retrying, other.URL+"/v2/c/manifests/latest")
	if n := len(clock.Sleeps()); n != sleepsBefore {
		t.Errorf("a request to another host waited: %v", clock.Sleeps()[sleepsBefore:])
	}

	want := map[string][]time.Duration{
		"/v2/a/manifests/latest": {0},
		"/v2/b/manifests/latest": {30 * time.Second},
		"/v2/c/manifests/latest": {30 * time.Second},
	}
	if d := cmp.Diff(want, arr.get()); d != "" {
		t.Errorf("arrival times (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]time.Duration{30 * time.Second}, clock.Sleeps()); d != "" {
		t.Errorf("waits (-want +got):\n%s", d)
	}
	if !strings.Contains(log.String(), "429 Too Many Requests: every request to it waits 30s") {
		t.Errorf("the log does not say the host was paused:\n%s", log)
	}
}

// TestGateOwnRetryWaitsOnce: the request that met the 429 waits its Retry-After once, not once
// for its backoff and again at the gate.
func TestGateOwnRetryWaitsOnce(t *testing.T) {
	t.Parallel()
	s := &script{fail: status(http.StatusTooManyRequests, 1, "Retry-After", "5")}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, _, clock := retryClient(Policy{Attempts: 3, Base: time.Millisecond, Max: time.Minute})
	resp, err := c.Get(srv.URL + "/v2/x/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := cmp.Diff([]time.Duration{5 * time.Second}, clock.Sleeps()); d != "" || s.n.Load() != 2 {
		t.Errorf("after %d tries, waits (-want +got):\n%s", s.n.Load(), d)
	}
}

// TestGateExtends: a later pause extends an earlier one, an earlier one leaves it; a waiter
// waits out an extension made while it waits; a cancelled waiter stops.
func TestGateExtends(t *testing.T) {
	t.Parallel()
	clock := retrytest.NewClock(epoch)
	g := NewGate(clock)
	if !g.Close("h", epoch.Add(10*time.Second)) || g.Close("h", epoch.Add(5*time.Second)) {
		t.Fatal("an earlier opening shortened the pause, or the first did not count")
	}
	if at := g.Opens("h"); !at.Equal(epoch.Add(10 * time.Second)) {
		t.Fatalf("opens at %s", at)
	}
	if at := g.Opens("other"); !at.IsZero() {
		t.Fatalf("an untouched host is closed until %s", at)
	}
	// While the first wait runs, another request extends the pause to 25s.
	var extended bool
	clock.AfterFunc(9*time.Second, func() { extended = g.Close("h", epoch.Add(25*time.Second)) })
	waited, err := g.Wait(context.Background(), "h")
	if err != nil || !extended || waited != 25*time.Second {
		t.Fatalf("Wait = %s, %v (extended %v), want 25s", waited, err, extended)
	}
	if at := g.Opens("h"); !at.IsZero() {
		t.Errorf("still closed until %s after the wait", at)
	}
	g.Close("h", clock.Now().Add(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Wait(ctx, "h"); err == nil {
		t.Error("a cancelled wait returned no error")
	}
}

// TestGateStopsSendingToAStalledHost: once StallLimit tries in a row have run past their
// deadline, requests to that host fail at once but for one probe at a time; an answer to the
// probe opens the host again. Other hosts are not affected.
func TestGateStopsSendingToAStalledHost(t *testing.T) {
	t.Parallel()
	g := NewGate(retrytest.NewClock(epoch))
	for range StallLimit {
		probe, err := g.admit("h")
		if probe || err != nil {
			t.Fatalf("admit before the limit = %v, %v", probe, err)
		}
		g.done("h", false, false, true)
	}
	probe, err := g.admit("h")
	if !probe || err != nil {
		t.Fatalf("first admit past the limit = %v, %v; want the probe", probe, err)
	}
	_, err = g.admit("h")
	var se *StalledError
	if !errors.As(err, &se) || se.Stalls != StallLimit || !strings.Contains(err.Error(), "re-run") {
		t.Fatalf("admit while probing = %v, want a StalledError saying what to do", err)
	}
	if p, err := g.admit("other"); p || err != nil {
		t.Errorf("another host was held: %v, %v", p, err)
	}
	g.done("h", true, false, true) // the probe stalled too: the next may probe
	if p, err := g.admit("h"); !p || err != nil {
		t.Fatalf("admit after a failed probe = %v, %v; want a new probe", p, err)
	}
	g.done("h", true, true, false) // answered: the host is open
	if p, err := g.admit("h"); p || err != nil {
		t.Errorf("admit after an answer = %v, %v; want an ordinary try", p, err)
	}
}

// TestStalledHostFailsFast: requests to a registry that stopped answering stop costing a
// deadline each once it has stalled StallLimit tries in a row; an error says what to do. The
// deadlines run on a fake clock, moved only once the server holds each try, so a loaded machine
// cannot reorder them.
func TestStalledHostFailsFast(t *testing.T) {
	t.Parallel()
	var tries atomic.Int64
	srv := httptest.NewServer(trickle(&tries, 100))
	defer srv.Close()
	clock := retrytest.NewClock(epoch)
	const window = 100 * time.Millisecond
	rt := NewTransport(nil, Policy{Attempts: 1, AttemptTimeout: window}, WithClock(clock))
	// send starts a request and waits until the server holds it.
	send := func(path string, want int64) chan error {
		done := make(chan error, 1)
		go func() {
			resp, err := rt.RoundTrip(httptest.NewRequest(http.MethodGet, srv.URL+path, nil))
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		for tries.Load() < want {
			select {
			case err := <-done:
				t.Fatalf("%s ended before the server held it: %v", path, err)
			default:
				time.Sleep(time.Millisecond)
			}
		}
		return done
	}
	for i := range StallLimit {
		done := send("/v2/x/manifests/latest", int64(i+1))
		clock.Advance(window + time.Millisecond)
		var de *DeadlineError
		if err := <-done; !errors.As(err, &de) {
			t.Fatalf("try %d of a stalled host = %v, want a DeadlineError", i, err)
		}
	}
	// A probe is on its way (held by the server, its deadline not yet reached) while this
	// request asks.
	probing := send("/v2/y/manifests/latest", StallLimit+1)
	_, err := rt.RoundTrip(httptest.NewRequest(http.MethodGet, srv.URL+"/v2/z/manifests/latest", nil))
	var se *StalledError
	if !errors.As(err, &se) {
		t.Fatalf("request while the host stalls = %v, want a StalledError", err)
	}
	clock.Advance(window + time.Millisecond)
	if err := <-probing; err == nil {
		t.Error("the probe of a stalled host succeeded")
	}
	if got := tries.Load(); got != StallLimit+1 {
		t.Errorf("%d tries reached the host, want %d", got, StallLimit+1)
	}
}
