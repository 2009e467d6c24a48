package retry

import (
	"context"
	"sync"
	"time"
)

// Gate holds back every request to a host that asked for a pause (429 Too Many Requests, or a
// Retry-After on another answer that can heal): the workers of a run share one Gate, so a rate
// limit met by one request slows all of them instead of each finding it out for itself.
type Gate struct {
	clock Clock

	mu    sync.Mutex
	until map[string]time.Time // host -> when it opens again
}

// NewGate returns an open Gate on clock (nil: the real clock).
func NewGate(clock Clock) *Gate {
	if clock == nil {
		clock = RealClock()
	}
	return &Gate{clock: clock, until: map[string]time.Time{}}
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
