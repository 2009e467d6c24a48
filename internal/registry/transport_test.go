package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetpush/fleetpush/internal/retry"
	"github.com/fleetpush/fleetpush/internal/retry/retrytest"
)

// TestStalledRegistry: a registry that answers a manifest read with headers and then a body a
// byte every two seconds fails the read at the try's deadline (configured small here) after the
// policy's tries, with an error that says what to do, instead of holding the run for minutes.
func TestStalledRegistry(t *testing.T) {
	t.Parallel()
	var tries atomic.Int64
	host := memRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.URL.Path, "/manifests/") {
				h.ServeHTTP(w, r)
				return
			}
			tries.Add(1)
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.WriteHeader(http.StatusOK)
			for {
				if _, err := w.Write([]byte("{")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(2 * time.Second):
				}
			}
		})
	})
	log := &logLines{}
	c := New(WithRetry(RetryPolicy{Attempts: 2, Base: time.Millisecond, Max: time.Millisecond, AttemptTimeout: 200 * time.Millisecond}), WithLogf(log.logf))
	s, err := c.Open(host + "/acme/apps/frontend")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(context.Background(), "latest")
	var de *retry.DeadlineError
	if !errors.As(err, &de) {
		t.Fatalf("Get = %v, want a deadline error", err)
	}
	for _, want := range []string{`reading "`, ":latest", "200ms", "re-run"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// Counted on the client's side: on a loaded machine the server may start handling a try
	// only after the client gave up on it.
	if !strings.Contains(log.String(), "giving up after 2 attempts") {
		t.Errorf("the log does not show the policy's 2 attempts:\n%s", log)
	}
}

// TestRateLimitSlowsEveryRepository: a 429 with Retry-After met while reading one component's
// repository holds back the next request to the same registry, for another repository, until
// the registry's pause is over. On a fake clock: the wait is recorded, not spent.
func TestRateLimitSlowsEveryRepository(t *testing.T) {
	t.Parallel()
	clock := retrytest.NewClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	var limited atomic.Bool
	host := memRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if _, ok := arrived[r.URL.Path]; !ok {
				arrived[r.URL.Path] = clock.Now()
			}
			mu.Unlock()
			if r.URL.Path == "/v2/acme/a/manifests/latest" && limited.CompareAndSwap(false, true) {
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	log := &logLines{}
	c := New(WithRetry(RetryPolicy{Attempts: 1, Max: time.Minute}), WithClock(clock), WithLogf(log.logf))
	a, _ := c.Open(host + "/acme/a")
	b, _ := c.Open(host + "/acme/b")
	start := clock.Now()
	if _, err := a.Get(context.Background(), "latest"); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("Get(a) = %v, want the 429 (one attempt)", err)
	}
	if _, err := b.Get(context.Background(), "latest"); err != nil {
		t.Fatalf("Get(b): %v", err)
	}
	mu.Lock()
	waited := arrived["/v2/acme/b/manifests/latest"].Sub(start)
	mu.Unlock()
	if waited != 30*time.Second {
		t.Errorf("the other repository's read went out %s after the 429, want 30s", waited)
	}
	if d := cmp.Diff([]time.Duration{30 * time.Second}, clock.Sleeps()); d != "" {
		t.Errorf("waits (-want +got):\n%s", d)
	}
	if !strings.Contains(log.String(), "every request to it waits 30s") {
		t.Errorf("the log does not say the registry paused the run:\n%s", log)
	}
}

// TestHandshakeOncePerRepository: many components pushed at once to a registry with a token
// handshake cost one ping for the registry and one token per repository, whatever the number
// of calls or workers.
func TestHandshakeOncePerRepository(t *testing.T) {
	t.Parallel()
	const n = 12
	l := newRequestLog()
	var auth *tokenAuth
	host := memRegistry(t, func(h http.Handler) http.Handler {
		auth = &tokenAuth{next: newRepoBlobs(h)}
		return l.wrap(auth)
	})
	c := New()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.Open(fmt.Sprintf("%s/acme/apps/c%02d", host, i))
			if err != nil {
				errs <- err
				return
			}
			ctx := context.Background()
			if _, err := s.Tags(ctx); err != nil {
				errs <- err
				return
			}
			m, err := s.Push(ctx, fluxImage(t, fmt.Sprint(i)))
			if err != nil {
				errs <- err
				return
			}
			for _, tag := range []string{"a", "b"} {
				if err := s.Tag(ctx, m, tag); err != nil {
					errs <- err
					return
				}
				if _, err := s.Get(ctx, tag); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := l.take()
	if got["GET ping"] != 1 || got["GET token"] != n {
		t.Errorf("%d pings and %d tokens for %d repositories, want 1 and %d", got["GET ping"], got["GET token"], n, n)
	}
	if got["HEAD blob"] != 0 || got["HEAD manifest"] != 0 {
		t.Errorf("existence checks in new repositories: %v", got)
	}
}

// TestPushIntoExistingRepository: where the registry did not say the repository is absent,
// blobs are checked before uploading, and found ones are not sent; a blob the client uploaded
// or found is not checked again.
func TestPushIntoExistingRepository(t *testing.T) {
	t.Parallel()
	l := newRequestLog()
	host := memRegistry(t, func(h http.Handler) http.Handler { return l.wrap(newRepoBlobs(h)) })
	ctx := context.Background()
	first, _ := New().Open(host + "/acme/apps/frontend")
	one := fluxImage(t, "one")
	mustPush(t, first, one)
	l.take()

	// A new run (a new client) pushes the same content under other annotations: same blobs.
	c := New()
	s, _ := c.Open(host + "/acme/apps/frontend")
	again := withAnnotation(t, one, "org.opencontainers.image.revision", "main@sha1:2")
	if _, err := s.Push(ctx, again); err != nil {
		t.Fatal(err)
	}
	if got, want := l.take(), map[string]int{"GET ping": 1, "HEAD blob": 2, "PUT manifest": 1}; !cmp.Equal(got, want) {
		t.Errorf("push of known blobs into an existing repository: %v, want %v", got, want)
	}
	// The same client pushes a third manifest with those blobs: nothing to check.
	third := withAnnotation(t, one, "org.opencontainers.image.revision", "main@sha1:3")
	if _, err := s.Push(ctx, third); err != nil {
		t.Fatal(err)
	}
	if got, want := l.take(), map[string]int{"PUT manifest": 1}; !cmp.Equal(got, want) {
		t.Errorf("push of blobs this client saw: %v, want %v", got, want)
	}
	if c.Stats().BlobUploads.Load() != 0 {
		t.Errorf("%d blobs uploaded, want none", c.Stats().BlobUploads.Load())
	}
}

// TestPushRecoversALostBlob: a manifest refused for a blob the client believed present (the
// registry lost it, or the repository was written by someone else since it was absent) is
// pushed again after checking every blob.
func TestPushRecoversALostBlob(t *testing.T) {
	t.Parallel()
	var refused atomic.Bool
	host := memRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && refused.CompareAndSwap(false, true) {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	s, _ := New().Open(host + "/acme/apps/frontend")
	img := fluxImage(t, "x")
	m := mustPush(t, s, img)
	if got, err := s.GetDigest(context.Background(), m.Digest); err != nil || got == nil {
		t.Fatalf("GetDigest after the recovered push = %v, %v", got, err)
	}
}

// TestUploadLocationToPrivateHost: a registry cannot send the blob to an address inside the
// runner's network by IP.
func TestUploadLocationToPrivateHost(t *testing.T) {
	t.Parallel()
	host := memRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/") {
				w.Header().Set("Location", "http://169.254.169.254/latest/meta-data/")
				w.WriteHeader(http.StatusAccepted)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	s, _ := New().Open(host + "/acme/apps/frontend")
	_, err := s.Push(context.Background(), fluxImage(t, "x"))
	if err == nil || !strings.Contains(err.Error(), "private address") {
		t.Fatalf("Push = %v, want the Location refused", err)
	}
}

func TestRepositoryOf(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"/v2/acme/app/manifests/latest":               "acme/app",
		"/v2/acme/app/blobs/sha256:1":                 "acme/app",
		"/v2/acme/app/blobs/uploads/":                 "acme/app",
		"/v2/acme/app/blobs/uploads/x-y?_state=1":     "acme/app",
		"/v2/acme/app/tags/list":                      "acme/app",
		"/v2/acme/app/referrers/sha256:1":             "acme/app",
		"/v2/a/tags/b/manifests/v1":                   "a/tags/b",
		"/v2/":                                        "",
		"/v2/_catalog":                                "",
		"/token":                                      "",
		"/docker/registry/v2/blobs/sha256/ab/cd/data": "",
	}
	for path, want := range tests {
		got, ok := repositoryOf(path)
		if got != want || ok != (want != "") {
			t.Errorf("repositoryOf(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

// TestRedirectGetsNoCredentials: a registry that redirects a read to another host, one that asks
// for credentials there, does not get the client to send them: only the registries the client
// opened are authenticated to.
func TestRedirectGetsNoCredentials(t *testing.T) {
	t.Parallel()
	var sawAuth atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			sawAuth.Add(1)
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="other"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer other.Close()
	host := memRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/manifests/") {
				http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	c := New(WithCredentials(Credentials{Username: "user", Password: "SECRET"}))
	s, _ := c.Open(host + "/acme/apps/frontend")
	if _, err := s.Get(context.Background(), "latest"); err == nil {
		t.Fatal("Get through a redirect to a host that refuses succeeded")
	}
	if n := sawAuth.Load(); n != 0 {
		t.Errorf("the other host received credentials %d times", n)
	}
}
