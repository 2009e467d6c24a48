package registry

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fastPolicy retries quickly so the tests measure decisions, not waits. (The policy itself is
// tested in internal/retry; these tests check that the client applies it, once.)
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
	blobPUT := regexp.MustCompile(`/blobs/uploads/.+`)
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
		{"blob PUT heals", http.MethodPut, blobPUT, 500, 2, "", 2 + 2},
		// The first blob to give up cancels the other's upload: count the tries of the one
		// that gave up.
		{"blob PUT persists", http.MethodPut, blobPUT, 502, -1, "502", 6},
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
