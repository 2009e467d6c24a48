package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fastPolicy retries quickly so the tests measure decisions, not waits.
var fastPolicy = RetryPolicy{Attempts: 6, Base: time.Millisecond, Max: 5 * time.Millisecond, Total: 5 * time.Second, AttemptTimeout: 2 * time.Second}

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

// script answers the i-th request (from 0) with fail(i); fail returns 0 to pass to ok.
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

// client returns an http.Client whose transport retries with p, the log, and the recorded waits.
func retryClient(p RetryPolicy) (*http.Client, *logLines, *[]time.Duration) {
	log := &logLines{}
	rt := NewRetryTransport(http.DefaultTransport.(*http.Transport).Clone(), p, log.logf).(*retryTransport)
	var mu sync.Mutex
	waits := &[]time.Duration{}
	rt.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return sleepCtx(ctx, min(d, 5*time.Millisecond))
	}
	return &http.Client{Transport: rt}, log, waits
}

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
	p := RetryPolicy{Attempts: 3, Base: time.Millisecond, Max: 20 * time.Second, Total: time.Minute}
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
			now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
			v := tt.value
			if d, ok := strings.CutPrefix(v, "DATE"); ok {
				off, _ := time.ParseDuration(d)
				v = now.Add(off).Format(http.TimeFormat)
			}
			s := &script{fail: status(http.StatusTooManyRequests, 1, "Retry-After", v)}
			srv := httptest.NewServer(s)
			defer srv.Close()
			c, log, waits := retryClient(p)
			c.Transport.(*retryTransport).now = func() time.Time { return now }
			resp, err := c.Get(srv.URL + "/v2/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated || len(*waits) != 1 {
				t.Fatalf("status %d after %d waits, want 201 after 1\nlog:\n%s", resp.StatusCode, len(*waits), log)
			}
			got := (*waits)[0]
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
	c, log, waits := retryClient(RetryPolicy{Attempts: 6, Base: time.Millisecond, Max: time.Minute, Total: 5 * time.Second})
	resp, err := c.Get(srv.URL + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || s.n.Load() != 1 || len(*waits) != 0 {
		t.Errorf("status %d after %d tries and %d waits, want 503 after 1 try and no wait", resp.StatusCode, s.n.Load(), len(*waits))
	}
	if !strings.Contains(log.String(), "would pass the 5s bound") {
		t.Errorf("the log does not say why it gave up:\n%s", log)
	}
}

// TestRetryJitter: waits stay within the exponential bound and the cap, and are spread out.
func TestRetryJitter(t *testing.T) {
	t.Parallel()
	rt := NewRetryTransport(nil, RetryPolicy{Base: 100 * time.Millisecond, Max: time.Second}, nil).(*retryTransport)
	for attempt := 1; attempt <= 8; attempt++ {
		bound := min(100*time.Millisecond<<(attempt-1), time.Second)
		seen := map[time.Duration]bool{}
		for range 200 {
			w, _ := rt.backoff(attempt, nil)
			if w < 0 || w > bound {
				t.Fatalf("attempt %d: wait %s outside [0, %s]", attempt, w, bound)
			}
			seen[w] = true
		}
		if len(seen) < 50 {
			t.Errorf("attempt %d: only %d distinct waits in 200: not jittered", attempt, len(seen))
		}
	}
	if w, _ := rt.backoff(1000, nil); w > time.Second {
		t.Errorf("a very late attempt waits %s, over the cap", w)
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

// TestRetryAttemptTimeout: a server that does not answer in time is asked again.
func TestRetryAttemptTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	s := &script{fail: func(i int, w http.ResponseWriter, r *http.Request) bool {
		if i == 0 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		}
		return false
	}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	p := fastPolicy
	p.AttemptTimeout = 100 * time.Millisecond
	c, log, _ := retryClient(p)
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

// TestRetryReadsSlowBody: the attempt timeout covers the wait for headers only; a body that
// trickles in afterwards is read to the end.
func TestRetryReadsSlowBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		for range 5 {
			fmt.Fprint(w, "chunk")
			w.(http.Flusher).Flush()
			time.Sleep(40 * time.Millisecond)
		}
	}))
	defer srv.Close()
	p := fastPolicy
	p.AttemptTimeout = 50 * time.Millisecond
	c, _, _ := retryClient(p)
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != strings.Repeat("chunk", 5) {
		t.Errorf("body = %q, %v; want 5 chunks", b, err)
	}
}

// TestRetryRefusedIsFinal: nothing listens there; waiting will not change that.
func TestRetryRefusedIsFinal(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, log, waits := retryClient(fastPolicy)
	if _, err := c.Get("http://" + addr + "/v2/"); err == nil {
		t.Fatal("GET of a closed port succeeded")
	}
	if len(*waits) != 0 || log.String() != "" {
		t.Errorf("a refused connection was retried %d times:\n%s", len(*waits), log)
	}
}

// TestRetryStopsOnCancel: a cancelled run stops waiting at once.
func TestRetryStopsOnCancel(t *testing.T) {
	t.Parallel()
	s := &script{fail: status(503, 100, "Retry-After", "30")}
	srv := httptest.NewServer(s)
	defer srv.Close()
	rt := NewRetryTransport(http.DefaultTransport, RetryPolicy{Max: time.Minute, Total: time.Hour}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	start := time.Now()
	_, err := (&http.Client{Transport: rt}).Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to notice the cancellation", d)
	}
}

func TestTransientError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), true},
		{&net.OpError{Op: "read", Err: errSyscall("connection reset by peer")}, true},
		{errors.New("net/http: HTTP/1.x transport connection broken: write: broken pipe"), true},
		{attemptTimeoutError{time.Second}, true},
		{&net.DNSError{Err: "timeout", IsTimeout: true}, true},
		{&net.DNSError{Err: "no such host", IsNotFound: true}, false},
		{errors.New("x509: certificate signed by unknown authority"), false},
		{context.Canceled, false},
		{errors.New("tls: first record does not look like a TLS handshake"), false},
	}
	for _, tt := range tests {
		if got := transientError(tt.err) != ""; got != tt.want {
			t.Errorf("transientError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

type errSyscall string

func (e errSyscall) Error() string { return string(e) }

func TestRetryAfterParse(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	type res struct {
		D  time.Duration
		OK bool
	}
	got := map[string]res{}
	for _, v := range []string{"", "1", " 2 ", "0", "-1", "1.5", "abc", now.Add(90 * time.Second).Format(http.TimeFormat), "99999999999"} {
		d, ok := retryAfter(v, now)
		got[v] = res{d, ok}
	}
	want := map[string]res{
		"": {}, "1": {time.Second, true}, " 2 ": {2 * time.Second, true}, "0": {0, true}, "-1": {}, "1.5": {}, "abc": {},
		now.Add(90 * time.Second).Format(http.TimeFormat): {90 * time.Second, true},
		"99999999999": {24 * time.Hour, true},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("retryAfter (-want +got):\n%s", d)
	}
}

// faulty fails requests matching method and path: times of them (<0: all) with code, counting
// every request it sees by "METHOD kind".
type faulty struct {
	next   http.Handler
	method string
	path   *regexp.Regexp
	code   int
	times  int

	mu     sync.Mutex
	failed int
	seen   map[string]int
}

func (f *faulty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.seen == nil {
		f.seen = map[string]int{}
	}
	f.seen[r.Method+" "+r.URL.Path]++
	hit := r.Method == f.method && f.path.MatchString(r.URL.Path) && (f.times < 0 || f.failed < f.times)
	if hit {
		f.failed++
	}
	f.mu.Unlock()
	if hit {
		w.WriteHeader(f.code)
		fmt.Fprintf(w, `{"errors":[{"code":"UNKNOWN","message":"injected %d"}]}`, f.code)
		return
	}
	f.next.ServeHTTP(w, r)
}

func (f *faulty) count(method string, path *regexp.Regexp) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, v := range f.seen {
		m, p, _ := strings.Cut(k, " ")
		if m == method && path.MatchString(p) {
			n += v
		}
	}
	return n
}

// most is the largest number of requests to any one matching path.
func (f *faulty) most(method string, path *regexp.Regexp) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, v := range f.seen {
		m, p, _ := strings.Cut(k, " ")
		if m == method && path.MatchString(p) {
			n = max(n, v)
		}
	}
	return n
}

// TestClientRetriesOnce: through go-containerregistry, a request is tried exactly as often as
// the policy says: its own retry layers are off, so 6 tries stay 6 (not 6×3, nor 6×3×3 for a
// PUT), and a 404 is asked once.
func TestClientRetriesOnce(t *testing.T) {
	t.Parallel()
	manifestPUT := regexp.MustCompile(`/manifests/sha256:`)
	blobPATCH := regexp.MustCompile(`/blobs/uploads/.+`)
	tests := []struct {
		name      string
		method    string
		path      *regexp.Regexp
		code      int
		times     int
		wantErr   string
		wantTries int
	}{
		{"manifest PUT heals", http.MethodPut, manifestPUT, 503, 2, "", 3},
		{"manifest PUT persists", http.MethodPut, manifestPUT, 503, -1, "503", 6},
		{"manifest PUT 400 is final", http.MethodPut, manifestPUT, 400, -1, "400", 1},
		// Two blobs (config and layer) are uploaded side by side: tries add up over both.
		{"blob PATCH heals", http.MethodPatch, blobPATCH, 500, 2, "", 2 + 2},
		// The first blob to give up cancels the other's upload: count the tries of the one
		// that gave up.
		{"blob PATCH persists", http.MethodPatch, blobPATCH, 502, -1, "502", 6},
		{"blob upload start 429 heals", http.MethodPost, regexp.MustCompile(`/blobs/uploads/$`), 429, 3, "", 3 + 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var f *faulty
			host := memRegistry(t, func(h http.Handler) http.Handler {
				f = &faulty{next: h, method: tt.method, path: tt.path, code: tt.code, times: tt.times}
				return f
			})
			log := &logLines{}
			c := New(WithRetry(fastPolicy), WithLogf(log.logf))
			s, err := c.Open(host + "/acme/apps/frontend")
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Push(context.Background(), fluxImage(t, tt.name))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Push through %d× %d: %v\nlog:\n%s", tt.times, tt.code, err, log)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Push = %v, want an error naming %s", err, tt.wantErr)
			}
			got := f.count(tt.method, tt.path)
			if tt.times < 0 {
				got = f.most(tt.method, tt.path)
			}
			if got != tt.wantTries {
				t.Errorf("%s %s seen %d times, want %d\nlog:\n%s", tt.method, tt.path, got, tt.wantTries, log)
			}
		})
	}

	t.Run("404 is asked once", func(t *testing.T) {
		t.Parallel()
		var f *faulty
		host := memRegistry(t, func(h http.Handler) http.Handler {
			f = &faulty{next: h, method: "none", path: regexp.MustCompile(`^$`)}
			return f
		})
		log := &logLines{}
		s, _ := New(WithRetry(fastPolicy), WithLogf(log.logf)).Open(host + "/acme/apps/frontend")
		if m, err := s.Get(context.Background(), "latest"); m != nil || err != nil {
			t.Fatalf("Get(absent) = %v, %v", m, err)
		}
		if n := f.count(http.MethodGet, regexp.MustCompile(`/manifests/latest$`)); n != 1 {
			t.Errorf("GET of an absent tag sent %d times, want 1", n)
		}
		if log.String() != "" {
			t.Errorf("a 404 was logged as retried:\n%s", log)
		}
	})
}
