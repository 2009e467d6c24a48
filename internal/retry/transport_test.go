package retry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

func TestRetryStatusCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fail      func(int, http.ResponseWriter, *http.Request) bool
		wantTries int64
		wantCode  int
		wantLog   string // a regexp the log must match; "" = the log must be empty
	}{
		{"500 heals", status(500, 2), 3, 201, `PUT .*/v2/x: 500 Internal Server Error; retrying in .* \(attempt 2 of 6\)`},
		{"502 heals", status(502, 1), 2, 201, `502 Bad Gateway; retrying`},
		{"503 heals", status(503, 5), 6, 201, `503 Service Unavailable; retrying .*attempt 6 of 6`},
		{"504 heals", status(504, 1), 2, 201, `504`},
		{"429 heals", status(429, 1), 2, 201, `429 Too Many Requests; retrying`},
		{"408 heals", status(408, 1), 2, 201, `408`},
		{"503 persists", status(503, 100), 6, 503, `503 Service Unavailable; giving up after 6 attempts`},
		{"reset heals", reset(2), 3, 201, `PUT .*: (connection|EOF|.*closed).*retrying`},
		{"401 is final", status(401, 100), 1, 401, ``},
		{"403 is final", status(403, 100), 1, 403, ``},
		{"404 is final", status(404, 100), 1, 404, ``},
		{"400 manifest invalid is final", status(400, 100), 1, 400, ``},
		{"405 is final", status(405, 100), 1, 405, ``},
		{"416 is final", status(416, 100), 1, 416, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &script{fail: tt.fail}
			srv := httptest.NewServer(s)
			defer srv.Close()
			c, log, _ := retryClient(fastPolicy)
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v2/x?_state=SECRET", strings.NewReader("manifest"))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("PUT: %v\nlog:\n%s", err, log)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got, want := resp.StatusCode, tt.wantCode; got != want {
				t.Errorf("status = %d, want %d", got, want)
			}
			if got, want := s.n.Load(), tt.wantTries; got != want {
				t.Errorf("tries = %d, want %d", got, want)
			}
			if tt.wantCode >= 400 && !strings.Contains(string(body), "injected") {
				t.Errorf("the final answer's body was lost: %q", body)
			}
			for i, b := range s.body {
				if b != "manifest" {
					t.Errorf("try %d sent body %q, want the same %q every time", i+1, b, "manifest")
				}
			}
			if tt.wantLog == "" {
				if log.String() != "" {
					t.Errorf("a final answer was logged as retried:\n%s", log)
				}
			} else if !regexp.MustCompile(tt.wantLog).MatchString(log.String()) {
				t.Errorf("log does not match %q:\n%s", tt.wantLog, log)
			}
			if strings.Contains(log.String(), "SECRET") {
				t.Errorf("the log shows the query string:\n%s", log)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	p := Policy{Attempts: 3, Base: time.Millisecond, Max: 20 * time.Second, Total: time.Minute}
	tests := []struct {
		name  string
		value string
		want  time.Duration // the first wait; 0 = the jittered backoff (≤ Base)
	}{
		{"seconds", "3", 3 * time.Second},
		{"zero", "0", 0},
		{"capped", "3600", 20 * time.Second},
		{"http date", "DATE+7s", 7 * time.Second},
		{"date in the past", "DATE-1h", 0},
		{"garbage", "soon", 0},
		{"negative", "-5", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := tt.value
			if d, ok := strings.CutPrefix(v, "DATE"); ok {
				off, _ := time.ParseDuration(d)
				v = epoch.Add(off).Format(http.TimeFormat)
			}
			s := &script{fail: status(http.StatusTooManyRequests, 1, "Retry-After", v)}
			srv := httptest.NewServer(s)
			defer srv.Close()
			c, log, clock := retryClient(p)
			resp, err := c.Get(srv.URL + "/v2/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			waits := clock.Sleeps()
			if resp.StatusCode != http.StatusCreated || len(waits) != 1 {
				t.Fatalf("status %d after waits %v, want 201 after 1\nlog:\n%s", resp.StatusCode, waits, log)
			}
			got := waits[0]
			if tt.want == 0 {
				if got > p.Base {
					t.Errorf("wait = %s, want the backoff (≤ %s)", got, p.Base)
				}
			} else if got != tt.want {
				t.Errorf("wait = %s, want %s\nlog:\n%s", got, tt.want, log)
			}
			if tt.want > 0 && !strings.Contains(log.String(), "Retry-After") {
				t.Errorf("the log does not say the wait came from Retry-After:\n%s", log)
			}
		})
	}
}

// TestRetryTotalBound: a wait that would end past Total is not made: the answer is returned.
func TestRetryTotalBound(t *testing.T) {
	t.Parallel()
	s := &script{fail: status(http.StatusServiceUnavailable, 100, "Retry-After", "10")}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, log, clock := retryClient(Policy{Attempts: 6, Base: time.Millisecond, Max: time.Minute, Total: 5 * time.Second})
	resp, err := c.Get(srv.URL + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || s.n.Load() != 1 || len(clock.Sleeps()) != 0 {
		t.Errorf("status %d after %d tries and waits %v, want 503 after 1 try and no wait", resp.StatusCode, s.n.Load(), clock.Sleeps())
	}
	if !strings.Contains(log.String(), "would pass the 5s bound") {
		t.Errorf("the log does not say why it gave up:\n%s", log)
	}
}

// TestRetryBodies: every retry sends the whole body again, whether the request can make a fresh
// one (GetBody) or only streams it (buffered up to the limit); a stream over the limit is sent
// once and not retried.
func TestRetryBodies(t *testing.T) {
	t.Parallel()
	payload := strings.Repeat("layer-bytes-", 1000)
	tests := []struct {
		name      string
		body      func() io.Reader
		limit     int64
		wantTries int64
	}{
		{"GetBody", func() io.Reader { return bytes.NewBufferString(payload) }, 0, 3},
		{"stream", func() io.Reader { return io.NopCloser(strings.NewReader(payload)) }, 0, 3},
		{"stream at the limit", func() io.Reader { return io.NopCloser(strings.NewReader(payload)) }, int64(len(payload)), 3},
		{"stream over the limit", func() io.Reader { return io.NopCloser(strings.NewReader(payload)) }, int64(len(payload)) - 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &script{fail: status(http.StatusInternalServerError, 2)}
			srv := httptest.NewServer(s)
			defer srv.Close()
			p := fastPolicy
			p.BodyLimit = tt.limit
			c, log, _ := retryClient(p)
			req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/v2/x/blobs/uploads/1", tt.body())
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := s.n.Load(); got != tt.wantTries {
				t.Errorf("tries = %d, want %d\nlog:\n%s", got, tt.wantTries, log)
			}
			for i, b := range s.body {
				if b != payload {
					t.Errorf("try %d sent %d bytes, want all %d", i+1, len(b), len(payload))
				}
			}
			if tt.wantTries == 1 && !strings.Contains(log.String(), "not retried") {
				t.Errorf("the log does not say why the stream was not retried:\n%s", log)
			}
		})
	}
}

// TestRetryAttemptTimeout: a server that does not answer before the try's deadline is asked
// again. The deadline passes on the fake clock, once the server holds the first request.
func TestRetryAttemptTimeout(t *testing.T) {
	t.Parallel()
	holding := make(chan struct{})
	s := &script{fail: func(i int, w http.ResponseWriter, r *http.Request) bool {
		if i == 0 {
			close(holding)
			<-r.Context().Done() // answers only once the client gives up on it
			return true
		}
		return false
	}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	p := fastPolicy
	p.AttemptTimeout = 100 * time.Millisecond
	c, log, clock := retryClient(p)
	go func() {
		<-holding
		clock.Advance(p.AttemptTimeout)
	}()
	resp, err := c.Get(srv.URL + "/v2/x/tags/list")
	if err != nil {
		t.Fatalf("GET: %v\nlog:\n%s", err, log)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(b) != "ok" || s.n.Load() != 2 {
		t.Errorf("status %d body %q after %d tries, want 201 ok after 2", resp.StatusCode, b, s.n.Load())
	}
	if !strings.Contains(log.String(), "no answer within 100ms") {
		t.Errorf("the log does not name the timeout:\n%s", log)
	}
}

// TestRetryRefusedIsFinal: nothing listens there; waiting will not change that.
func TestRetryRefusedIsFinal(t *testing.T) {
	t.Parallel()
	addr := testenv.RefusingAddr(t)
	c, log, clock := retryClient(fastPolicy)
	if _, err := c.Get("http://" + addr + "/v2/"); err == nil {
		t.Fatal("GET of a closed port succeeded")
	}
	if n := len(clock.Sleeps()); n != 0 || log.String() != "" {
		t.Errorf("a refused connection was retried %d times:\n%s", n, log)
	}
}

// TestRetryStopsOnCancel: a cancelled run stops waiting at once: the wait (30s, on the real
// clock) ends with the cancellation.
func TestRetryStopsOnCancel(t *testing.T) {
	t.Parallel()
	s := &script{fail: status(503, 100, "Retry-After", "30")}
	srv := httptest.NewServer(s)
	defer srv.Close()
	sleeping := make(chan struct{}, 1)
	rt := NewTransport(http.DefaultTransport, Policy{Max: time.Minute, Total: time.Hour}, WithClock(signalSleep{RealClock(), sleeping}))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sleeping
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	_, err := (&http.Client{Transport: rt}).Do(req)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want the cancellation", err)
	}
}

// signalSleep is a Clock that says when a sleep starts.
type signalSleep struct {
	Clock
	sleeping chan struct{}
}

func (c signalSleep) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case c.sleeping <- struct{}{}:
	default:
	}
	return c.Clock.Sleep(ctx, d)
}

// TestRetrySameRequestTwice: a request sent a second time by a layer above (a bearer transport
// after refreshing its token) carries its whole body again.
func TestRetrySameRequestTwice(t *testing.T) {
	t.Parallel()
	s := &script{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	rt := NewTransport(nil, fastPolicy)
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v2/x/manifests/latest", strings.NewReader("manifest"))
	for range 2 {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := s.body; len(got) != 2 || got[0] != "manifest" || got[1] != "manifest" {
		t.Errorf("bodies sent = %q, want the manifest twice", got)
	}
}
