package app

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fleetpush/fleetpush/internal/registry"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestPruneHandsGHCRToGitHubPackages: on ghcr.io, which answers the OCI DELETE with 405, prune
// deletes through the GitHub Packages REST API, and the app wires that client: the package is
// the repository path after the owner, found under the organization or else the user, the token
// is GITHUB_TOKEN and the API is GITHUB_API_URL. ghcr.io is played by an in-memory registry that
// refuses deletes (reached through the run's transport), GitHub by testenv's fake of the REST
// API, which removes a deleted version's manifest and tags from that registry, as ghcr.io does.
// The real API cannot be reached from the tests.
func TestPruneHandsGHCRToGitHubPackages(t *testing.T) {
	t.Parallel()
	for _, scope := range []string{"orgs", "users"} {
		t.Run(scope, func(t *testing.T) {
			t.Parallel()
			const versions, keep = 6, 2
			var inner http.Handler
			host := testenv.MemRegistry(t, func(h http.Handler) http.Handler {
				inner = h
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodDelete {
						w.WriteHeader(http.StatusMethodNotAllowed) // as ghcr.io answers
						return
					}
					h.ServeHTTP(w, r)
				})
			})
			const path = "acme/apps/frontend"
			fillPruneRepo(t, host, path, versions)

			// GitHub's view of the same repository: one package version per manifest.
			gh := testenv.NewFakeGitHub(t, scope, "acme", "apps/frontend", "gh-t0ken")
			byDigest := map[string][]string{}
			repo, _ := name.NewRepository(host+"/"+path, name.Insecure)
			all, err := remote.List(repo)
			if err != nil {
				t.Fatal(err)
			}
			for _, tag := range all {
				desc, err := remote.Head(repo.Tag(tag))
				if err != nil {
					t.Fatal(err)
				}
				byDigest[desc.Digest.String()] = append(byDigest[desc.Digest.String()], tag)
			}
			old := time.Now().Add(-30 * 24 * time.Hour)
			for i, d := range slices.Sorted(maps.Keys(byDigest)) {
				gh.Versions = append(gh.Versions, testenv.GitHubVersion{ID: int64(5000 + i), Digest: d, Tags: byDigest[d], CreatedAt: old, UpdatedAt: old})
			}
			before := slices.Clone(gh.Versions)
			gh.OnDelete = func(v testenv.GitHubVersion) {
				for _, ref := range append(slices.Clone(v.Tags), v.Digest) {
					rec := httptest.NewRecorder()
					inner.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/v2/"+path+"/manifests/"+ref, nil))
				}
			}

			// ghcr.io, for the run's registry client, is the in-memory registry.
			toMem := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.URL.Host == "ghcr.io" {
					r = r.Clone(r.Context())
					r.URL.Scheme, r.URL.Host, r.Host = "http", host, host
				}
				return http.DefaultTransport.RoundTrip(r)
			})
			src := testenv.NewGitRepo(t, "../../testdata/apps").Dir
			env := map[string]string{"GITHUB_TOKEN": "gh-t0ken", "GITHUB_API_URL": gh.URL,
				// The server's own API would be https://github.example.com/api/v3: GITHUB_API_URL wins.
				"GITHUB_SERVER_URL": "https://github.example.com"}
			if scope == "orgs" {
				// As an Actions step, for the step summary.
				env = testenv.Actions(t, "acme/apps", src, env)
			}
			code, out, stderr := runWith(t, env, []Option{WithClock(fixedClock{time.Now()}), WithRegistryOptions(registry.WithTransport(toMem))},
				"prune", "--source", src, "--repository", "ghcr.io/acme/apps", "--components", "frontend",
				"--keep", fmt.Sprint(keep), "--keep-days", "0", "--dry-run=false", "--output", "json")
			mustCode(t, code, 0, stderr)
			p := decodeResults(t, out, stderr)["frontend"].Prune
			if p == nil || p.Deleted != versions-keep || len(p.Failures) > 0 {
				t.Fatalf("prune: %+v, want %d versions deleted\nstderr:\n%s", p, versions-keep, stderr)
			}

			// Every request went to the package under its owner's kind, with the token.
			base := "/" + scope + "/acme/packages/container/apps%2Ffrontend/versions"
			gh.Lock() // its handler wrote them; a socket orders nothing for the race detector
			requests := append([]string(nil), gh.Requests...)
			gh.Unlock()
			deletes := 0
			for _, r := range requests {
				if strings.HasPrefix(r, "DELETE ") {
					deletes++
					if !strings.HasPrefix(r, "DELETE "+base+"/") {
						t.Errorf("%s: want a delete under %s", r, base)
					}
				}
			}
			// Each pruned build goes with its signature, referrer and fallback index: four
			// versions each.
			if want := 4 * (versions - keep); deletes != want {
				t.Errorf("%d versions deleted through the API, want %d: %v", deletes, want, requests)
			}
			left, err := remote.List(repo)
			if err != nil {
				t.Fatal(err)
			}
			if len(gh.Versions) != 4*keep || len(left) != 4*keep {
				t.Errorf("left %d package versions and tags %v, want the %d kept builds with their attachments", len(gh.Versions), left, keep)
			}
			if scope == "orgs" {
				// One report in the step summary: the retention table, not the publish table
				// too.
				sum, err := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
				if err != nil {
					t.Fatal(err)
				}
				if n := strings.Count(string(sum), "| component |"); n != 1 || !strings.Contains(string(sum), "#### Retention") {
					t.Errorf("step summary has %d tables, want the retention table alone:\n%s", n, sum)
				}
			}
			// Each deleted version's id is logged: GitHub restores it by id within 30 days.
			for _, v := range before {
				if !slices.ContainsFunc(gh.Versions, func(w testenv.GitHubVersion) bool { return w.ID == v.ID }) && !strings.Contains(stderr, fmt.Sprint(v.ID)) {
					t.Errorf("the log does not name the deleted version %d:\n%s", v.ID, stderr)
				}
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
