package testenv

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy sits on loopback in front of a real server, counting requests and failing the ones a
// test chooses: the fault injector of the reliability tests.
type Proxy struct {
	Host string // 127.0.0.1:PORT to point clients at

	mu     sync.Mutex
	counts map[string]int // "METHOD kind" -> n, kind from Kind
	faults []*Fault
	t0     time.Time // the timeline's zero: creation or the last Reset
	events []Request
}

// Request is one request that passed the proxy, for a timeline: when it arrived and when its
// answer was written (latency included), relative to the proxy's creation or last Reset.
type Request struct {
	Start, End   time.Duration
	Method, Path string
	Status       int
}

// maxEvents bounds the timeline: a long benchmark keeps counting, not recording.
const maxEvents = 100_000

// Fault fails matching requests.
type Fault struct {
	Method string         // "" = any
	Path   *regexp.Regexp // nil = any
	Status int            // HTTP status to answer; 0 with Reset = drop the connection
	Reset  bool           // close the connection without an answer
	Delay  time.Duration  // wait before answering (or before passing through when Status is 0 and !Reset)
	Header http.Header    // extra response headers (Retry-After)
	Times  int            // how many matching requests to fail; <0 = all
	hits   *atomic.Int64  // how many it failed (Hits; made by Inject, so a Fault copies freely before)
	// After, when set, holds the fault back until After, a fault injected into the same proxy
	// (read under its lock), has been hit: with a fault that only passes requests through (no
	// Status, Reset or Delay) as a marker, "fail the reads that come after this write".
	After *Fault
	// Wait, when set, holds the answer back until Wait, a fault injected into the same proxy,
	// has been hit (at most WaitAtMost, so that a test whose expectation fails fails instead of
	// hanging): "answer this only once that other request has arrived".
	Wait       *Fault
	WaitAtMost time.Duration
	hit        chan struct{} // closed at the first hit (made by Inject)
}

// Hits is how many requests f failed so far. Atomic: the proxy counts in its handlers, and a test
// reads after its client saw the answers, which orders nothing for the race detector.
func (f *Fault) Hits() int {
	if f.hits == nil {
		return 0
	}
	return int(f.hits.Load())
}

// NewProxy starts a proxy to upstream (host:port, plain HTTP), stopped at test cleanup.
func NewProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	target, _ := url.Parse("http://" + upstream)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = nil
	p := &Proxy{counts: map[string]int{}, t0: time.Now()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Host = l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		defer p.record(start, r, w)
		p.mu.Lock()
		p.counts[r.Method+" "+Kind(r)]++
		var hit *Fault
		for _, f := range p.faults {
			if f.matches(r) {
				if f.hits.Add(1) == 1 && f.hit != nil {
					close(f.hit)
				}
				hit = f
				break
			}
		}
		p.mu.Unlock()
		if hit != nil {
			if w := hit.Wait; w != nil && w.hit != nil {
				select {
				case <-w.hit:
				case <-time.After(hit.WaitAtMost):
				case <-r.Context().Done():
					return
				}
			}
			if hit.Delay > 0 {
				time.Sleep(hit.Delay)
			}
			switch {
			case hit.Reset:
				if c, _, err := w.Hijack(); err == nil {
					c.Close()
					return
				}
				panic(http.ErrAbortHandler)
			case hit.Status != 0:
				for k, v := range hit.Header {
					w.Header()[k] = v
				}
				w.WriteHeader(hit.Status)
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(l) //nolint:errcheck // ends at Close
	t.Cleanup(func() { srv.Close() })
	return p
}

func (f *Fault) matches(r *http.Request) bool {
	if f.Times >= 0 && f.Hits() >= f.Times {
		return false
	}
	if f.After != nil && f.After.Hits() == 0 {
		return false
	}
	if f.Method != "" && f.Method != r.Method {
		return false
	}
	return f.Path == nil || f.Path.MatchString(r.URL.Path)
}

// statusWriter remembers the status a handler wrote, for the timeline.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Hijack lets a Reset fault drop the connection through the wrapper.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if hj, ok := w.ResponseWriter.(http.Hijacker); ok {
		return hj.Hijack()
	}
	return nil, nil, http.ErrNotSupported
}

// Unwrap lets http.ResponseController reach the connection's own writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes streaming answers through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (p *Proxy) record(start time.Time, r *http.Request, w *statusWriter) {
	end := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.events) < maxEvents {
		p.events = append(p.events, Request{Start: start.Sub(p.t0), End: end.Sub(p.t0), Method: r.Method, Path: r.URL.Path, Status: w.status})
	}
}

// Latency holds every request for d before passing it on: the proxy then stands for a server
// that far away (a round trip's worth of network per request). It is a Fault that fails nothing.
func (p *Proxy) Latency(d time.Duration) *Fault {
	return p.Inject(&Fault{Delay: d, Times: -1})
}

// Timeline is a copy of the requests recorded since the proxy's creation or last Reset, in the
// order they ended.
func (p *Proxy) Timeline() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.events...)
}

// Inject adds a fault; faults are tried in the order added.
func (p *Proxy) Inject(f *Fault) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.hit == nil {
		f.hit = make(chan struct{})
	}
	if f.hits == nil {
		f.hits = new(atomic.Int64)
	}
	p.faults = append(p.faults, f)
	return f
}

// Clear removes every fault.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// Count returns how many requests of a method and kind passed ("PUT", "blob-upload").
func (p *Proxy) Count(method, kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[method+" "+kind]
}

// Total is the number of requests seen.
func (p *Proxy) Total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.counts {
		n += c
	}
	return n
}

// Reset zeroes the counters and starts a new timeline.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts = map[string]int{}
	p.events, p.t0 = nil, time.Now()
}

// Kind classifies a registry API request: ping, blob-upload, blob, manifest, tags, other.
func Kind(r *http.Request) string {
	path := r.URL.Path
	switch {
	case path == "/v2/" || path == "/v2":
		return "ping"
	case strings.Contains(path, "/blobs/uploads"):
		return "blob-upload"
	case strings.Contains(path, "/blobs/"):
		return "blob"
	case strings.Contains(path, "/manifests/"):
		return "manifest"
	case strings.HasSuffix(path, "/tags/list"):
		return "tags"
	}
	return "other"
}
