package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

// newFakeGitHub is testenv's fake of the GitHub Packages API with versions main builds of the
// package apps/frontend of acme, an hour apart.
func newFakeGitHub(t testing.TB, scope string, versions int) *testenv.FakeGitHub {
	f := testenv.NewFakeGitHub(t, scope, "acme", "apps/frontend", "t0ken")
	for i := range versions {
		f.Versions = append(f.Versions, testenv.GitHubVersion{ID: int64(1000 + i), Digest: fmt.Sprintf("sha256:%064x", i+1),
			Tags: []string{fmt.Sprintf("main-%08x", i)}, CreatedAt: time.Unix(int64(i)*3600, 0).UTC(), UpdatedAt: time.Unix(int64(i)*3600, 0).UTC()})
	}
	return f
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

func fakeClient(t testing.TB, f *testenv.FakeGitHub, clk *fakeSleep, logf func(string, ...any)) *GitHubPackages {
	t.Helper()
	repo, err := name.NewRepository("ghcr.io/acme/apps/frontend")
	if err != nil {
		t.Fatal(err)
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	g, err := NewGitHubPackages(repo, "t0ken", WithGitHubAPI(f.URL), WithGitHubHTTP(f.Client()),
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
			g := fakeClient(t, f, &fakeSleep{}, nil)
			vs, err := g.Versions(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 250 || vs[249].ID != 1249 || vs[0].Tags[0] != "main-00000000" {
				t.Fatalf("listed %d versions, want 250 in order with their tags", len(vs))
			}
			if got := len(f.Requests); (scope == "orgs" && got != 3) || (scope == "users" && got != 4) {
				t.Errorf("%d requests: %v", got, f.Requests)
			}
		})
	}
}

func TestGitHubPackagesDeletes(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t, "orgs", 3)
	f.Popular[1001] = true
	var logged []string
	g := fakeClient(t, f, &fakeSleep{}, func(format string, a ...any) { logged = append(logged, fmt.Sprintf(format, a...)) })
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
		f.SecondaryOn = 2 // the second page
		clk := &fakeSleep{now: time.Unix(1_800_000_000, 0)}
		vs, err := fakeClient(t, f, clk, nil).Versions(context.Background())
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
		f.PrimaryOn, f.ResetAt = 1, clk.now.Add(10*time.Minute)
		if _, err := fakeClient(t, f, clk, nil).Versions(context.Background()); err != nil {
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
		f.PrimaryOn, f.ResetAt = 1, clk.now.Add(50*time.Minute)
		_, err := fakeClient(t, f, clk, nil).Versions(context.Background())
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
	p := WithGitHubPackages(oci, fakeClient(t, f, &fakeSleep{}, nil))
	d, _ := v1.NewHash(f.Versions[1].Digest)
	ctx := context.Background()
	if err := p.DeleteManifest(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteManifest(ctx, d); err != nil {
		t.Fatalf("deleting it again: %v", err)
	}
	if len(f.Versions) != 1 || f.Versions[0].ID != 1000 {
		t.Errorf("versions left: %+v, want only 1000", f.Versions)
	}
	if oci.deletes != 1 {
		t.Errorf("OCI deletes tried: %d, want 1 (after a 405 the REST API alone)", oci.deletes)
	}
	times, err := p.(PushTimer).PushTimes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d0, _ := v1.NewHash(f.Versions[0].Digest); len(times) != 1 || !times[d0].Equal(f.Versions[0].UpdatedAt) {
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
	g, err := NewGitHubPackages(repo, "t0ken", WithGitHubAPI(f.URL), WithGitHubTransportOf(c), WithGitHubClock(clk.Now, clk.Sleep))
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
	if got := len(f.Requests); got != 3 {
		t.Errorf("%d requests, want 3 (one per page): %v", got, f.Requests)
	}
	if c.Budget().Peak() == 0 || c.Budget().Held() != 0 {
		t.Errorf("answer budget: peak %d, held %d after the listing; want the pages drawn on it and given back", c.Budget().Peak(), c.Budget().Held())
	}
}
