package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// fakeGitHub is a fake of the GitHub Packages REST API for container packages, answering as
// GitHub's documentation describes: versions listed newest first, 100 a page at most, pages
// linked by the Link header (rel="next", rel="last"); 404 under the owner kind the package does
// not belong to; DELETE of a version answers 204, and 400 for a public version with more than
// 5,000 downloads; rate limits as 403 with Retry-After (secondary) or with
// x-ratelimit-remaining 0 and x-ratelimit-reset (primary). It is a fake: the real API cannot
// be reached from the tests.
type fakeGitHub struct {
	t     testing.TB
	srv   *httptest.Server
	scope string // "orgs" or "users": whose package it is
	owner string
	pkg   string

	mu          sync.Mutex
	versions    []PackageVersion
	popular     map[int64]bool // downloaded more than 5,000 times, public
	secondaryOn int            // the n-th request (1-based) answers a secondary rate limit
	primaryOn   int            // the n-th request's answer says the primary limit ran out
	resetAt     time.Time
	requests    []string
	n           int
}

func newFakeGitHub(t testing.TB, scope string, versions int) *fakeGitHub {
	f := &fakeGitHub{t: t, scope: scope, owner: "acme", pkg: "apps/frontend", popular: map[int64]bool{}}
	for i := range versions {
		f.versions = append(f.versions, PackageVersion{ID: int64(1000 + i), Digest: fmt.Sprintf("sha256:%064x", i+1),
			Tags: []string{fmt.Sprintf("main-%08x", i)}, CreatedAt: time.Unix(int64(i)*3600, 0).UTC(), UpdatedAt: time.Unix(int64(i)*3600, 0).UTC()})
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI())
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if r.Header.Get("Authorization") != "Bearer t0ken" || r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`)
		return
	}
	if f.n == f.secondaryOn {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`)
		return
	}
	remaining := "4999"
	if f.n == f.primaryOn {
		remaining = "0"
	}
	w.Header().Set("x-ratelimit-limit", "5000")
	w.Header().Set("x-ratelimit-remaining", remaining)
	w.Header().Set("x-ratelimit-reset", strconv.FormatInt(f.resetAt.Unix(), 10))

	base := "/" + f.scope + "/" + f.owner + "/packages/container/" + strings.ReplaceAll(f.pkg, "/", "%2F") + "/versions"
	path := r.URL.EscapedPath()
	switch {
	case r.Method == http.MethodGet && path == base:
		perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		if perPage <= 0 || perPage > 100 {
			perPage = 30
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		last := max((len(f.versions)+perPage-1)/perPage, 1)
		from, to := min((page-1)*perPage, len(f.versions)), min(page*perPage, len(f.versions))
		link := func(p int) string {
			return fmt.Sprintf("<%s%s?per_page=%d&state=active&page=%d>", f.srv.URL, base, perPage, p)
		}
		if page < last {
			w.Header().Set("Link", link(page+1)+`; rel="next", `+link(last)+`; rel="last"`)
		}
		type meta struct {
			PackageType string `json:"package_type"`
			Container   struct {
				Tags []string `json:"tags"`
			} `json:"container"`
		}
		var out []map[string]any
		for _, v := range f.versions[from:to] {
			m := meta{PackageType: "container"}
			m.Container.Tags = v.Tags
			if m.Container.Tags == nil {
				m.Container.Tags = []string{}
			}
			out = append(out, map[string]any{"id": v.ID, "name": v.Digest, "url": f.srv.URL + base + "/" + fmt.Sprint(v.ID),
				"created_at": v.CreatedAt.Format(time.RFC3339), "updated_at": v.UpdatedAt.Format(time.RFC3339), "metadata": m})
		}
		if out == nil {
			out = []map[string]any{}
		}
		_ = json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodDelete && strings.HasPrefix(path, base+"/"):
		id, _ := strconv.ParseInt(strings.TrimPrefix(path, base+"/"), 10, 64)
		if f.popular[id] {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"message":"Publicly visible package versions with more than 5000 downloads cannot be deleted. Contact GitHub support for further assistance.","documentation_url":"https://docs.github.com/rest/packages/packages#delete-package-version-for-an-organization"}`)
			return
		}
		for i, v := range f.versions {
			if v.ID == id {
				f.versions = append(f.versions[:i], f.versions[i+1:]...)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"Not Found"}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`)
	}
}

// fakeSleep records the waits and moves the fake clock on.
type fakeSleep struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (s *fakeSleep) Now() time.Time { s.mu.Lock(); defer s.mu.Unlock(); return s.now }
func (s *fakeSleep) Sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	s.now = s.now.Add(d)
	return nil
}

func (f *fakeGitHub) client(t testing.TB, clk *fakeSleep, logf func(string, ...any)) *GitHubPackages {
	t.Helper()
	repo, err := name.NewRepository("ghcr.io/acme/apps/frontend")
	if err != nil {
		t.Fatal(err)
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	g, err := NewGitHubPackages(repo, "t0ken", WithGitHubAPI(f.srv.URL), WithGitHubHTTP(f.srv.Client()),
		WithGitHubClock(clk.Now, clk.Sleep), WithGitHubLogf(logf))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGitHubPackagesListsEveryPage(t *testing.T) {
	t.Parallel()
	for _, scope := range []string{"orgs", "users"} {
		t.Run(scope, func(t *testing.T) {
			t.Parallel()
			f := newFakeGitHub(t, scope, 250)
			g := f.client(t, &fakeSleep{}, nil)
			vs, err := g.Versions(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 250 || vs[249].ID != 1249 || vs[0].Tags[0] != "main-00000000" {
				t.Fatalf("listed %d versions, want 250 in order with their tags", len(vs))
			}
			if got := len(f.requests); (scope == "orgs" && got != 3) || (scope == "users" && got != 4) {
				t.Errorf("%d requests: %v", got, f.requests)
			}
		})
	}
}

func TestGitHubPackagesDeletes(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t, "orgs", 3)
	f.popular[1001] = true
	var logged []string
	g := f.client(t, &fakeSleep{}, func(format string, a ...any) { logged = append(logged, fmt.Sprintf(format, a...)) })
	ctx := context.Background()
	vs, err := g.Versions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.DeleteVersion(ctx, vs[0]); err != nil {
		t.Fatal(err)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "1000") || !strings.Contains(logged[0], "30 days") {
		t.Errorf("log %q: want the deleted version's id and how long it can be restored", logged)
	}
	if err := g.DeleteVersion(ctx, vs[1]); !errors.Is(err, ErrTooManyDownloads) {
		t.Errorf("deleting a popular public version: %v, want ErrTooManyDownloads", err)
	}
	if err := g.DeleteVersion(ctx, vs[0]); err != nil {
		t.Errorf("deleting a version already gone: %v", err)
	}
}

func TestGitHubPackagesRateLimits(t *testing.T) {
	t.Parallel()
	t.Run("secondary: Retry-After is waited for", func(t *testing.T) {
		t.Parallel()
		f := newFakeGitHub(t, "orgs", 150)
		f.secondaryOn = 2 // the second page
		clk := &fakeSleep{now: time.Unix(1_800_000_000, 0)}
		vs, err := f.client(t, clk, nil).Versions(context.Background())
		if err != nil || len(vs) != 150 {
			t.Fatalf("listed %d, %v", len(vs), err)
		}
		if len(clk.waits) != 1 || clk.waits[0] != time.Minute {
			t.Errorf("waits %v, want one of a minute", clk.waits)
		}
	})
	t.Run("primary: nothing is sent before the reset", func(t *testing.T) {
		t.Parallel()
		f := newFakeGitHub(t, "orgs", 150)
		clk := &fakeSleep{now: time.Unix(1_800_000_000, 0)}
		f.primaryOn, f.resetAt = 1, clk.now.Add(10*time.Minute)
		if _, err := f.client(t, clk, nil).Versions(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(clk.waits) != 1 || clk.waits[0] != 10*time.Minute {
			t.Errorf("waits %v, want one until the reset", clk.waits)
		}
	})
	t.Run("a wait past the bound is an error that says to re-run", func(t *testing.T) {
		t.Parallel()
		f := newFakeGitHub(t, "orgs", 150)
		clk := &fakeSleep{now: time.Unix(1_800_000_000, 0)}
		f.primaryOn, f.resetAt = 1, clk.now.Add(50*time.Minute)
		_, err := f.client(t, clk, nil).Versions(context.Background())
		if err == nil || !strings.Contains(err.Error(), "re-run") {
			t.Errorf("error %v, want one that says to re-run later", err)
		}
	})
}

// TestGitHubPackagesAfter405: on a registry that answers the OCI DELETE with 405, as ghcr.io
// does, the package version of the digest is deleted through the REST API instead.
func TestGitHubPackagesAfter405(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t, "users", 2)
	oci := &refusingPruner{}
	p := WithGitHubPackages(oci, f.client(t, &fakeSleep{}, nil))
	d, _ := v1.NewHash(f.versions[1].Digest)
	ctx := context.Background()
	if err := p.DeleteManifest(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteManifest(ctx, d); err != nil {
		t.Fatalf("deleting it again: %v", err)
	}
	if len(f.versions) != 1 || f.versions[0].ID != 1000 {
		t.Errorf("versions left: %+v, want only 1000", f.versions)
	}
	if oci.deletes != 1 {
		t.Errorf("OCI deletes tried: %d, want 1 (after a 405 the REST API alone)", oci.deletes)
	}
	times, err := p.(PushTimer).PushTimes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d0, _ := v1.NewHash(f.versions[0].Digest); len(times) != 1 || !times[d0].Equal(f.versions[0].UpdatedAt) {
		t.Errorf("push times %v, want the remaining version's updated_at", times)
	}
	if err := p.DeleteTag(ctx, "main-00000000"); !errors.Is(err, ErrTagDeleteUnsupported) {
		t.Errorf("DeleteTag: %v, want ErrTagDeleteUnsupported", err)
	}
}

// refusingPruner answers every manifest delete as ghcr.io does.
type refusingPruner struct {
	Pruner
	deletes int
}

func (r *refusingPruner) DeleteManifest(context.Context, v1.Hash) error {
	r.deletes++
	return fmt.Errorf("deleting: %w", ErrDeleteUnsupported)
}

// TestGitHubPackagesOverTheRunsTransport: over the run's transport (as prune uses it), the API's
// answers draw on the run's answer budget and give it back, and each request is sent once by the
// transport (the client's own loop retries by GitHub's rules: the two would multiply).
func TestGitHubPackagesOverTheRunsTransport(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t, "orgs", 250)
	c := New()
	repo, err := name.NewRepository("ghcr.io/acme/apps/frontend")
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeSleep{}
	g, err := NewGitHubPackages(repo, "t0ken", WithGitHubAPI(f.srv.URL), WithGitHubTransportOf(c), WithGitHubClock(clk.Now, clk.Sleep))
	if err != nil {
		t.Fatal(err)
	}
	vs, err := g.Versions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 250 {
		t.Fatalf("listed %d versions, want 250", len(vs))
	}
	if got := len(f.requests); got != 3 {
		t.Errorf("%d requests, want 3 (one per page): %v", got, f.requests)
	}
	if c.Budget().Peak() == 0 || c.Budget().Held() != 0 {
		t.Errorf("answer budget: peak %d, held %d after the listing; want the pages drawn on it and given back", c.Budget().Peak(), c.Budget().Held())
	}
}
