package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FakeGitHub is a fake of the GitHub Packages REST API for container packages, answering as
// GitHub's documentation describes: versions listed newest first, 100 a page at most, pages
// linked by the Link header (rel="next", rel="last"); 404 under the owner kind the package does
// not belong to; DELETE of a version answers 204, and 400 for a public version with more than
// 5,000 downloads; rate limits as 403 with Retry-After (secondary) or with
// x-ratelimit-remaining 0 and x-ratelimit-reset (primary). It is a fake: the real API cannot
// be reached from the tests.
//
// Its fields may be read and changed only while no request is in flight (before and after the
// client's calls), except through Lock and Unlock.
type FakeGitHub struct {
	URL   string // the API's base URL, as GITHUB_API_URL gives it
	Scope string // "orgs" or "users": whose package it is
	Owner string
	Pkg   string // the package name, "apps/frontend"
	Token string // the token every request must carry

	mu          sync.Mutex
	srv         *httptest.Server
	Versions    []GitHubVersion // newest first, as GitHub lists them
	Popular     map[int64]bool  // downloaded more than 5,000 times, public
	SecondaryOn int             // the n-th request (1-based) answers a secondary rate limit
	PrimaryOn   int             // the n-th request's answer says the primary limit ran out
	ResetAt     time.Time
	Requests    []string // "METHOD /path?query" of every request
	// OnDelete, when set, is called (with the fake's lock held) for each version deleted: a
	// test's registry removes the manifest and its tags there, as ghcr.io does.
	OnDelete func(GitHubVersion)
	n        int
}

// GitHubVersion is one version of a container package: a digest and its tags.
type GitHubVersion struct {
	ID        int64
	Digest    string
	Tags      []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewFakeGitHub serves the fake on loopback for the package pkg of owner (an organization's
// when scope is "orgs", a user's when "users"), answering only requests that carry token.
func NewFakeGitHub(t testing.TB, scope, owner, pkg, token string) *FakeGitHub {
	t.Helper()
	f := &FakeGitHub{Scope: scope, Owner: owner, Pkg: pkg, Token: token, Popular: map[int64]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Client is an HTTP client for the fake.
func (f *FakeGitHub) Client() *http.Client { return f.srv.Client() }

// Lock and Unlock guard the fields while requests may be in flight.
func (f *FakeGitHub) Lock()   { f.mu.Lock() }
func (f *FakeGitHub) Unlock() { f.mu.Unlock() }

func (f *FakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.Requests = append(f.Requests, r.Method+" "+r.URL.RequestURI())
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if r.Header.Get("Authorization") != "Bearer "+f.Token || r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`)
		return
	}
	if f.n == f.SecondaryOn {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`)
		return
	}
	remaining := "4999"
	if f.n == f.PrimaryOn {
		remaining = "0"
	}
	w.Header().Set("x-ratelimit-limit", "5000")
	w.Header().Set("x-ratelimit-remaining", remaining)
	w.Header().Set("x-ratelimit-reset", strconv.FormatInt(f.ResetAt.Unix(), 10))

	base := "/" + f.Scope + "/" + f.Owner + "/packages/container/" + strings.ReplaceAll(f.Pkg, "/", "%2F") + "/versions"
	path := r.URL.EscapedPath()
	switch {
	case r.Method == http.MethodGet && path == base:
		perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		if perPage <= 0 || perPage > 100 {
			perPage = 30
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		last := max((len(f.Versions)+perPage-1)/perPage, 1)
		from, to := min((page-1)*perPage, len(f.Versions)), min(page*perPage, len(f.Versions))
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
		for _, v := range f.Versions[from:to] {
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
		if f.Popular[id] {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"message":"Publicly visible package versions with more than 5000 downloads cannot be deleted. Contact GitHub support for further assistance.","documentation_url":"https://docs.github.com/rest/packages/packages#delete-package-version-for-an-organization"}`)
			return
		}
		for i, v := range f.Versions {
			if v.ID == id {
				f.Versions = append(f.Versions[:i], f.Versions[i+1:]...)
				if f.OnDelete != nil {
					f.OnDelete(v)
				}
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
