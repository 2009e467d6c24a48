package retry

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Gate holds back every request to a host that asked for a pause (429 Too Many Requests, or a
// Retry-After on another answer that can heal): the workers of a run share one Gate, so a rate
// limit met by one request slows all of them instead of each finding it out for itself.
//
// It also stops sending to a host that stalls: after StallLimit tries in a row ran past their
// deadline with no answer from the host in between, requests to it fail at once, but for one
// probe at a time, whose answer opens the host again. Each try already has a deadline; without
// this, every component of a large run would spend its own deadline on a registry that stopped
// answering, one batch of workers after another.
type Gate struct {
	clock Clock

	mu     sync.Mutex
	until  map[string]time.Time // host -> when it opens again
	stalls map[string]int       // host -> tries past their deadline since its last answer
	probe  map[string]bool      // host -> a probe is on its way
}

// StallLimit is how many tries in a row may run past their deadline before a host is probed
// one request at a time: more than one, so that a lone lost connection does not trip it.
const StallLimit = 3

// StalledError is a request not sent: its host stalled on the tries before it.
type StalledError struct {
	Host   string
	Stalls int
}

func (e *StalledError) Error() string {
	return fmt.Sprintf("%s: not sent: the last %d tries ran past their deadline without an answer (the server is overloaded or stalling, or the network to it is: check its status and re-run; a re-run resumes where this one stopped)", e.Host, e.Stalls)
}

// NewGate returns an open Gate on clock (nil: the real clock).
func NewGate(clock Clock) *Gate {
	if clock == nil {
		clock = RealClock()
	}
	return &Gate{clock: clock, until: map[string]time.Time{}, stalls: map[string]int{}, probe: map[string]bool{}}
}

// admit lets a try to host go out, or refuses it while the host stalls and another try probes
// it; probe says this try is the probe.
func (g *Gate) admit(host string) (probe bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.stalls[host]
	if n < StallLimit {
		return false, nil
	}
	if g.probe[host] {
		return false, &StalledError{Host: host, Stalls: n}
	}
	g.probe[host] = true
	return true, nil
}

// done records how a try to host ended: answered (the host is well), stalled (past its
// deadline), or neither (another failure, which says nothing of the host's health).
func (g *Gate) done(host string, probe, answered, stalled bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if probe {
		delete(g.probe, host)
	}
	switch {
	case answered:
		delete(g.stalls, host)
	case stalled:
		g.stalls[host]++
	}
}

// Close keeps host shut until the given time. A later opening extends the pause, an earlier one
// leaves it; it reports whether the opening moved.
func (g *Gate) Close(host string, until time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if cur, ok := g.until[host]; ok && !until.After(cur) {
		return false
	}
	g.until[host] = until
	return true
}

// Opens returns when host opens again; the zero time when it is open.
func (g *Gate) Opens(host string) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	at, ok := g.until[host]
	if !ok {
		return time.Time{}
	}
	if !at.After(g.clock.Now()) {
		delete(g.until, host)
		return time.Time{}
	}
	return at
}

// Wait returns once host is open (at once when it is), or ctx's error; it reports how long it
// waited. A pause extended while it waits is waited out too.
func (g *Gate) Wait(ctx context.Context, host string) (time.Duration, error) {
	var waited time.Duration
	for {
		at := g.Opens(host)
		if at.IsZero() {
			return waited, ctx.Err()
		}
		d := at.Sub(g.clock.Now())
		if err := g.clock.Sleep(ctx, d); err != nil {
			return waited, err
		}
		waited += d
	}
}
