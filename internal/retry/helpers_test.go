package retry

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetpush/fleetpush/internal/retry/retrytest"
)

// fastPolicy: on the fake clock the waits cost nothing; the numbers only shape the decisions.
var fastPolicy = Policy{Attempts: 6, Base: time.Millisecond, Max: 5 * time.Millisecond, Total: 5 * time.Second, AttemptTimeout: 2 * time.Second}

// epoch is where the fake clocks start.
var epoch = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// logLines collects the retry log.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// script answers the i-th request (from 0) with fail(i); fail returns false to pass to ok.
type script struct {
	n    atomic.Int64
	fail func(i int, w http.ResponseWriter, r *http.Request) bool
	mu   sync.Mutex
	body []string // the request bodies, in order
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(s.n.Add(1) - 1)
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.body = append(s.body, string(b))
	s.mu.Unlock()
	if s.fail != nil && s.fail(i, w, r) {
		return
	}
	w.WriteHeader(http.StatusCreated)
	fmt.Fprint(w, "ok")
}

func status(code int, times int, header ...string) func(int, http.ResponseWriter, *http.Request) bool {
	return func(i int, w http.ResponseWriter, _ *http.Request) bool {
		if i >= times {
			return false
		}
		for j := 0; j+1 < len(header); j += 2 {
			w.Header().Set(header[j], header[j+1])
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"errors":[{"code":"X","message":"injected %d"}]}`, code)
		return true
	}
}

func reset(times int) func(int, http.ResponseWriter, *http.Request) bool {
	return func(i int, w http.ResponseWriter, _ *http.Request) bool {
		if i >= times {
			return false
		}
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
		return true
	}
}

// retryClient returns an http.Client whose transport retries with p on a fake clock, the log,
// and the clock (its Sleeps are the waits).
func retryClient(p Policy) (*http.Client, *logLines, *retrytest.Clock) {
	log := &logLines{}
	clock := retrytest.NewClock(epoch)
	rt := NewTransport(http.DefaultTransport.(*http.Transport).Clone(), p, WithLogf(log.logf), WithClock(clock))
	return &http.Client{Transport: rt}, log, clock
}
