package testenv

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
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
}

// Fault fails matching requests.
type Fault struct {
	Method string         // "" = any
	Path   *regexp.Regexp // nil = any
	Status int            // HTTP status to answer; 0 with Reset = drop the connection
	Reset  bool           // close the connection without an answer
	Delay  time.Duration  // wait before answering (or before passing through when Status is 0 and !Reset)
	Header http.Header    // extra response headers (Retry-After)
	Times  int            // how many matching requests to fail; <0 = all
	Hits   int            // how many it failed
}

// NewProxy starts a proxy to upstream (host:port, plain HTTP), stopped at test cleanup.
func NewProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	target, _ := url.Parse("http://" + upstream)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = nil
	p := &Proxy{counts: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Host = l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.counts[r.Method+" "+Kind(r)]++
		var hit *Fault
		for _, f := range p.faults {
			if f.matches(r) {
				f.Hits++
				hit = f
				break
			}
		}
		p.mu.Unlock()
		if hit != nil {
			if hit.Delay > 0 {
				time.Sleep(hit.Delay)
			}
			switch {
			case hit.Reset:
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						c.Close()
						return
					}
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
	if f.Times >= 0 && f.Hits >= f.Times {
		return false
	}
	if f.Method != "" && f.Method != r.Method {
		return false
	}
	return f.Path == nil || f.Path.MatchString(r.URL.Path)
}

// Inject adds a fault; faults are tried in the order added.
func (p *Proxy) Inject(f *Fault) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
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

// Reset zeroes the counters.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts = map[string]int{}
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
