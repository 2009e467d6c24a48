package retry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetpush/fleetpush/internal/retry/retrytest"
)

// trickle answers at once with headers, then sends its body a byte every two seconds until the
// client goes away: the stalling registry of the hang report.
func trickle(tries *atomic.Int64, contentLength int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tries.Add(1)
		if contentLength > 0 {
			w.Header().Set("Content-Length", fmt.Sprint(contentLength))
		}
		w.WriteHeader(http.StatusOK)
		for {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(2 * time.Second):
			}
		}
	}
}

// TestDeadlineCoversTheBody: headers in time do not make a try succeed; a body that trickles is
// cut off at the deadline, retried within the budget, and the error says what happened and what
// to do. The deadline is real but small; the trickle would take hours.
func TestDeadlineCoversTheBody(t *testing.T) {
	t.Parallel()
	for _, length := range []int{0, 100, 10 << 20} {
		t.Run(fmt.Sprintf("content-length %d", length), func(t *testing.T) {
			t.Parallel()
			var tries atomic.Int64
			srv := httptest.NewServer(trickle(&tries, length))
			defer srv.Close()
			log := &logLines{}
			p := Policy{Attempts: 2, Base: time.Millisecond, Max: time.Millisecond, AttemptTimeout: 200 * time.Millisecond}
			c := &http.Client{Transport: NewTransport(nil, p, WithLogf(log.logf))}
			resp, err := c.Get(srv.URL + "/v2/acme/app/manifests/latest")
			if err == nil {
				// An answer past ReadLimit is streamed: the deadline holds over the caller's reads.
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			var de *DeadlineError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a DeadlineError", err)
			}
			for _, want := range []string{"/v2/acme/app/manifests/latest", "200ms", "re-run"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			// Counted on the client's side: on a loaded machine the server may start handling a
			// try only after the client gave up on it.
			if length > int(p.WithDefaults().ReadLimit) {
				// The answer was handed on before it stalled: the caller's error, not retried.
				if !errors.As(err, &de) || !de.Answered || log.String() != "" {
					t.Errorf("a streamed answer's stall: %v, log:\n%s", err, log)
				}
			} else if !strings.Contains(log.String(), "giving up after 2 attempts") {
				t.Errorf("the log does not show the policy's 2 attempts:\n%s", log)
			}
		})
	}
}

// TestDeadlineRetriesAStalledBody: a try whose body stalls is retried, and the retry's answer is
// the caller's. The deadlines run on a fake clock, moved once the client holds the first try's
// headers (so it is the body that stalls, not the answer that is late): on a loaded machine the
// retry cannot run out of time as well.
func TestDeadlineRetriesAStalledBody(t *testing.T) {
	t.Parallel()
	var tries, stalled atomic.Int64
	stall := trickle(&stalled, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tries.Add(1) == 1 {
			stall(w, r)
			return
		}
		fmt.Fprint(w, `{"tags":["v1.0.0"]}`)
	}))
	defer srv.Close()
	log := &logLines{}
	clock := retrytest.NewClock(epoch)
	const window = 200 * time.Millisecond
	headers := make(chan struct{}, 1) // a try's headers reached the client
	base := headersSeen{http.DefaultTransport, headers}
	c := &http.Client{Transport: NewTransport(base, Policy{Attempts: 3, Base: time.Millisecond, AttemptTimeout: window}, WithLogf(log.logf), WithClock(clock))}
	type answer struct {
		resp *http.Response
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := c.Get(srv.URL + "/v2/acme/app/tags/list")
		done <- answer{resp, err}
	}()
	// Backstops only, never reached when the transport works: a failure, not a hang.
	select {
	case <-headers:
	case a := <-done:
		t.Fatalf("GET ended before the first try's headers: %v", a.err)
	case <-time.After(time.Minute):
		t.Fatal("the first try's headers did not arrive")
	}
	clock.Advance(window + time.Millisecond)
	var a answer
	select {
	case a = <-done:
	case <-time.After(time.Minute):
		t.Fatalf("the stalled try was not given up at its deadline\nlog:\n%s", log)
	}
	resp, err := a.resp, a.err
	if err != nil {
		t.Fatalf("GET: %v\nlog:\n%s", err, log)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != `{"tags":["v1.0.0"]}` {
		t.Errorf("body %q, want a later try's answer", b)
	}
	if !regexp.MustCompile(`the answer stalled.*; retrying`).MatchString(log.String()) {
		t.Errorf("the log does not say the first try's answer stalled:\n%s", log)
	}
}

// headersSeen signals on seen (without blocking) each time an answer's headers have arrived.
type headersSeen struct {
	base http.RoundTripper
	seen chan struct{}
}

func (h headersSeen) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := h.base.RoundTrip(r)
	if err == nil {
		select {
		case h.seen <- struct{}{}:
		default:
		}
	}
	return resp, err
}

// TestDeadlineKeepsAMovingTransfer: a large answer that keeps moving at least MinRate in every
// window is read to the end, however long past AttemptTimeout; once it stops moving, the next
// window ends it. On the fake clock, stepped by the test between reads.
func TestDeadlineKeepsAMovingTransfer(t *testing.T) {
	t.Parallel()
	const chunk, chunks = 2000, 5
	next := make(chan bool) // true: send a chunk; false: stall
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(chunk*(chunks+1)))
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for {
			select {
			case send := <-next:
				if !send {
					<-r.Context().Done()
					return
				}
				_, _ = w.Write([]byte(strings.Repeat("y", chunk)))
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer srv.Close()
	clock := retrytest.NewClock(epoch)
	p := Policy{Attempts: 1, AttemptTimeout: time.Second, MinRate: chunk / 2, ReadLimit: 10}
	c := &http.Client{Transport: NewTransport(nil, p, WithClock(clock))}
	resp, err := c.Get(srv.URL + "/v2/acme/app/blobs/sha256:abc")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, chunk)
	for i := range chunks {
		next <- true
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		clock.Advance(p.AttemptTimeout) // a window that moved a chunk: the try goes on
	}
	if moved := clock.Now().Sub(epoch); moved <= p.AttemptTimeout {
		t.Fatalf("the transfer lasted %s, not past the first deadline", moved)
	}
	next <- false
	clock.Advance(p.AttemptTimeout) // a window that moved nothing: the try ends
	_, err = io.ReadFull(resp.Body, buf)
	var de *DeadlineError
	if !errors.As(err, &de) || !de.Answered || de.Moved != 0 {
		t.Fatalf("read after a still window: %v, want a DeadlineError for the stalled answer", err)
	}
	if !strings.Contains(err.Error(), "stalled") {
		t.Errorf("error %q does not say the answer stalled", err)
	}
}

// TestDeadlineUploadIsProgress: a request body still being sent keeps its try alive.
func TestDeadlineUploadIsProgress(t *testing.T) {
	t.Parallel()
	clock := retrytest.NewClock(epoch)
	p := Policy{AttemptTimeout: time.Second, MinRate: 100}.WithDefaults()
	var cause error
	w := newWatchdog(clock, p, "PUT x", func(err error) { cause = err })
	for range 5 {
		w.add(150) // what the transport read from the request body in the window
		clock.Advance(time.Second)
	}
	if cause != nil {
		t.Fatalf("a moving upload was cut: %v", cause)
	}
	clock.Advance(time.Second)
	var de *DeadlineError
	if !errors.As(cause, &de) || de.Answered || !strings.Contains(de.Error(), "no answer within 1s") {
		t.Fatalf("cause = %v, want no answer within 1s", cause)
	}
	w.finish()
	if clock.Pending() != 0 {
		t.Errorf("%d timers left after the try ended", clock.Pending())
	}
}
