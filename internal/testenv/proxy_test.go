package testenv

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProxyLatencyAndTimeline: a latency proxy holds each request at least its latency and
// records it, status included, on a timeline that Reset starts anew.
func TestProxyLatencyAndTimeline(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/missing") {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("ok")) //nolint:errcheck
	}))
	defer up.Close()
	p := NewProxy(t, strings.TrimPrefix(up.URL, "http://"))
	const d = 20 * time.Millisecond
	p.Latency(d)
	for _, path := range []string{"/v2/", "/v2/a/manifests/missing"} {
		resp, err := http.Get("http://" + p.Host + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	tl := p.Timeline()
	if len(tl) != 2 {
		t.Fatalf("timeline has %d events, want 2: %+v", len(tl), tl)
	}
	for i, want := range []struct {
		path   string
		status int
	}{{"/v2/", 200}, {"/v2/a/manifests/missing", 404}} {
		e := tl[i]
		if e.Path != want.path || e.Status != want.status || e.Method != "GET" {
			t.Errorf("event %d = %+v, want GET %s %d", i, e, want.path, want.status)
		}
		// A lower bound only: the proxy sleeps the latency before passing the request on.
		if e.End-e.Start < d {
			t.Errorf("event %d took %v, less than the latency %v", i, e.End-e.Start, d)
		}
	}
	if tl[1].Start < tl[0].End {
		t.Errorf("the second request started before the first ended: %+v", tl)
	}
	p.Reset()
	if n := len(p.Timeline()); n != 0 {
		t.Errorf("timeline after Reset has %d events", n)
	}
}

// The wrapper keeps what a Reset fault needs: the connection can still be dropped.
func TestProxyResetThroughWrapper(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	p := NewProxy(t, strings.TrimPrefix(up.URL, "http://"))
	p.Inject(&Fault{Reset: true, Times: 1})
	_, err := http.Get("http://" + p.Host + "/v2/")
	if err == nil {
		t.Fatal("a Reset fault answered")
	}
}
