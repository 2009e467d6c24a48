package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fleetpush/fleetpush/internal/retry"
)

// ghcr.io answers the OCI API's DELETE with 405 Method Not Allowed: a container image is deleted
// there through the GitHub Packages REST API, one package version (a digest with its tags) at a
// time. GitHubPackages is that API's client, for one package.

// Bounds of the GitHub Packages client.
const (
	// ghPerPage is the largest page the API serves.
	ghPerPage = 100
	// ghMaxPages bounds a listing: 100,000 versions, far past any package prune is meant for.
	ghMaxPages = 1000
	// ghMaxPageBytes bounds one page's body: a hundred versions, each with a few tags, take
	// a few hundred KiB.
	ghMaxPageBytes = 8 << 20
	// ghMaxAttempts bounds the tries of one request through rate limits and 5xx answers.
	ghMaxAttempts = 6
	// ghMaxWait bounds one wait for a rate limit: GitHub's primary limit resets within the hour;
	// a longer ask is an error that says when to re-run.
	ghMaxWait = 15 * time.Minute
	// ghSecondaryWait is the wait GitHub's documentation asks for after a secondary rate limit
	// that names no time: at least one minute.
	ghSecondaryWait = time.Minute
)

// ErrTooManyDownloads is GitHub refusing to delete a public package version downloaded more
// than 5,000 times: only GitHub Support can.
var ErrTooManyDownloads = errors.New("GitHub does not delete a public package version with more than 5,000 downloads: ask GitHub Support, or keep it")

// PackageVersion is one version of a container package: a digest and its tags.
type PackageVersion struct {
	ID        int64
	Digest    string
	Tags      []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// GitHubPackages lists and deletes the versions of one container package.
type GitHubPackages struct {
	api     string // https://api.github.com, or a GitHub Enterprise Server's
	token   string
	owner   string
	pkg     string // the package name: the repository path after the owner
	http    *http.Client
	sleep   func(context.Context, time.Duration) error
	now     func() time.Time
	logf    func(string, ...any)
	mu      sync.Mutex
	scope   string    // "orgs" or "users", once known
	resumes time.Time // a primary rate limit ran out: no request before then
}

// GitHubPackagesOption configures a GitHubPackages.
type GitHubPackagesOption func(*GitHubPackages)

// WithGitHubAPI sets the API's base URL (GITHUB_API_URL; tests give a fake's).
func WithGitHubAPI(u string) GitHubPackagesOption {
	return func(g *GitHubPackages) { g.api = strings.TrimSuffix(u, "/") }
}

// WithGitHubHTTP sets the HTTP client.
func WithGitHubHTTP(c *http.Client) GitHubPackagesOption {
	return func(g *GitHubPackages) { g.http = c }
}

// WithGitHubTransportOf sends the API's requests over c's transport for the other services of a
// run (see Client.RetryTransport): each try gets the run's deadline and draws on the run's
// memory budget for answers, as every other request of the run does. The client tries each
// request once there: do waits out GitHub's rate limits and retries itself, by GitHub's rules.
func WithGitHubTransportOf(c *Client) GitHubPackagesOption {
	return func(g *GitHubPackages) {
		p := c.retry.WithDefaults()
		p.Attempts = 1
		g.http = &http.Client{Transport: &answerCaps{fixed: ghMaxPageBytes + 1, next: retry.NewTransport(c.services, p,
			retry.WithLogf(c.logf), retry.WithClock(c.clock), retry.WithBudget(c.budget))}}
	}
}

// WithGitHubClock sets the clock and the sleep of rate-limit waits (tests never sleep).
func WithGitHubClock(now func() time.Time, sleep func(context.Context, time.Duration) error) GitHubPackagesOption {
	return func(g *GitHubPackages) { g.now, g.sleep = now, sleep }
}

// WithGitHubLogf receives a line per deleted version (its id: GitHub restores a deleted
// version within 30 days by id) and per rate-limit wait.
func WithGitHubLogf(f func(string, ...any)) GitHubPackagesOption {
	return func(g *GitHubPackages) { g.logf = f }
}

// NewGitHubPackages returns the client of the package of repo, a ghcr.io repository
// ("ghcr.io/acme/apps/frontend": owner acme, package apps/frontend).
func NewGitHubPackages(repo name.Repository, token string, opts ...GitHubPackagesOption) (*GitHubPackages, error) {
	owner, pkg, ok := strings.Cut(repo.RepositoryStr(), "/")
	if !ok || pkg == "" {
		return nil, fmt.Errorf("%s: a GitHub package is <owner>/<name>", repo)
	}
	if token == "" {
		return nil, fmt.Errorf("deleting from %s needs a GitHub token (GITHUB_TOKEN with `permissions: packages: write`, and admin on the package)", repo)
	}
	g := &GitHubPackages{api: "https://api.github.com", token: token, owner: owner, pkg: pkg, http: http.DefaultClient,
		sleep: pauseCtx, now: time.Now, logf: func(string, ...any) {}}
	for _, o := range opts {
		o(g)
	}
	return g, nil
}

func pauseCtx(ctx context.Context, d time.Duration) error { return pause(ctx, d) }

// String names the package for messages.
func (g *GitHubPackages) String() string { return "ghcr.io/" + g.owner + "/" + g.pkg }

func (g *GitHubPackages) base(scope string) string {
	return fmt.Sprintf("%s/%s/%s/packages/container/%s/versions", g.api, scope, url.PathEscape(g.owner), url.PathEscape(g.pkg))
}

// Versions lists every version of the package, following the Link header's next page under the
// same guard as every listing (pages.go): a page limit, a repeated link or a page with nothing
// new ends it, and a next page must stay on the same API.
func (g *GitHubPackages) Versions(ctx context.Context) ([]PackageVersion, error) {
	var out []PackageVersion
	guard := newPageGuard("the versions of "+g.String(), ghMaxPages)
	next := ""
	for {
		var resp *http.Response
		var err error
		if next == "" {
			resp, err = g.first(ctx)
		} else {
			resp, err = g.do(ctx, http.MethodGet, next)
		}
		if err != nil {
			return nil, fmt.Errorf("listing the versions of %s: %w", g, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, ghMaxPageBytes+1))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("listing the versions of %s: %w", g, err)
		}
		if len(body) > ghMaxPageBytes {
			return nil, fmt.Errorf("listing the versions of %s: a page of more than %d bytes", g, ghMaxPageBytes)
		}
		var vs []struct {
			ID        int64     `json:"id"`
			Name      string    `json:"name"`
			CreatedAt time.Time `json:"created_at"`
			UpdatedAt time.Time `json:"updated_at"`
			Metadata  struct {
				Container struct {
					Tags []string `json:"tags"`
				} `json:"container"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(body, &vs); err != nil {
			return nil, fmt.Errorf("listing the versions of %s: %w", g, err)
		}
		ids := make([]string, 0, len(vs))
		byID := map[string]PackageVersion{}
		for _, v := range vs {
			id := strconv.FormatInt(v.ID, 10)
			ids = append(ids, id)
			byID[id] = PackageVersion{ID: v.ID, Digest: v.Name, Tags: v.Metadata.Container.Tags, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
		}
		if next, err = nextLink(resp.Header.Get("Link"), resp.Request.URL); err != nil {
			return nil, fmt.Errorf("listing the versions of %s: %w", g, err)
		}
		// The next page must be on the same API: a Link header is the server's word.
		if next != "" && !strings.HasPrefix(next, g.api+"/") {
			return nil, fmt.Errorf("listing the versions of %s: the next page %q is not on %s", g, next, g.api)
		}
		fresh, more, err := guard.add(ids, next)
		if err != nil {
			return nil, err
		}
		for _, id := range fresh {
			out = append(out, byID[id])
		}
		if !more {
			return out, nil
		}
	}
}

// first asks for the first page under the organisation, then under the user: the package's
// owner may be either, and only a 404 says which it is not.
func (g *GitHubPackages) first(ctx context.Context) (*http.Response, error) {
	g.mu.Lock()
	scope := g.scope
	g.mu.Unlock()
	scopes := []string{"orgs", "users"}
	if scope != "" {
		scopes = []string{scope}
	}
	var last error
	for _, s := range scopes {
		resp, err := g.do(ctx, http.MethodGet, fmt.Sprintf("%s?per_page=%d&state=active", g.base(s), ghPerPage))
		var he *ghError
		if errors.As(err, &he) && he.status == http.StatusNotFound {
			last = err
			continue
		}
		if err == nil {
			g.mu.Lock()
			g.scope = s
			g.mu.Unlock()
		}
		return resp, err
	}
	return nil, last
}

// DeleteVersion deletes one version by id. A version already gone is no error.
func (g *GitHubPackages) DeleteVersion(ctx context.Context, v PackageVersion) error {
	g.mu.Lock()
	scope := g.scope
	g.mu.Unlock()
	if scope == "" {
		// Versions came from elsewhere: learn whose package it is first.
		resp, err := g.first(ctx)
		if err != nil {
			return fmt.Errorf("deleting version %d of %s: %w", v.ID, g, err)
		}
		resp.Body.Close()
		g.mu.Lock()
		scope = g.scope
		g.mu.Unlock()
	}
	resp, err := g.do(ctx, http.MethodDelete, fmt.Sprintf("%s/%d", g.base(scope), v.ID))
	var he *ghError
	switch {
	case errors.As(err, &he) && he.status == http.StatusNotFound:
		return nil
	case errors.As(err, &he) && he.status < 500 && (strings.Contains(he.message, "5000 downloads") || strings.Contains(he.message, "5,000 downloads")):
		return fmt.Errorf("deleting version %d (%s) of %s: %w", v.ID, v.Digest, g, ErrTooManyDownloads)
	case err != nil:
		return fmt.Errorf("deleting version %d (%s) of %s: %w", v.ID, v.Digest, g, err)
	}
	resp.Body.Close()
	g.logf("deleted package version %d of %s (%s, tags %s): restorable by id within 30 days", v.ID, g, v.Digest, strings.Join(v.Tags, ","))
	return nil
}

// ghError is an answer of the API that is not a success.
type ghError struct {
	status  int
	message string
}

func (e *ghError) Error() string {
	msg := fmt.Sprintf("GitHub API answered %d", e.status)
	if e.message != "" {
		msg += ": " + e.message
	}
	switch e.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += " (the token needs `permissions: packages: write` and admin on the package: Package settings → Manage Actions access → Admin)"
	}
	return msg
}

// do sends one request, waiting out rate limits (Retry-After, x-ratelimit-remaining 0 until
// x-ratelimit-reset, a minute for a secondary limit that names no time) and retrying 5xx
// answers, ghMaxAttempts times at most. A success (2xx) is returned with its body open.
func (g *GitHubPackages) do(ctx context.Context, method, u string) (*http.Response, error) {
	var last error
	for attempt := 0; attempt < ghMaxAttempts; attempt++ {
		g.mu.Lock()
		wait := g.resumes.Sub(g.now())
		g.mu.Unlock()
		if wait > 0 {
			if err := g.waitFor(ctx, wait, "the primary rate limit ran out"); err != nil {
				return nil, err
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/vnd.github+json")
		req.Header.Set("Authorization", "Bearer "+g.token)
		req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
		resp, err := g.http.Do(req)
		if err != nil {
			last = err
			if err := g.waitFor(ctx, time.Duration(1<<attempt)*time.Second, "the request failed"); err != nil {
				return nil, err
			}
			continue
		}
		g.noteLimit(resp.Header)
		if resp.StatusCode < 300 {
			return resp, nil
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		var msg struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &msg)
		he := &ghError{status: resp.StatusCode, message: msg.Message}
		wait, limited := g.rateWait(resp)
		switch {
		case limited:
			last = he
			if err := g.waitFor(ctx, wait, "rate limited"); err != nil {
				return nil, err
			}
		case resp.StatusCode >= 500:
			last = he
			if err := g.waitFor(ctx, time.Duration(1<<attempt)*time.Second, "the API failed"); err != nil {
				return nil, err
			}
		default:
			return nil, he
		}
	}
	return nil, fmt.Errorf("%w (after %d attempts: re-run prune later; it resumes where it stopped)", last, ghMaxAttempts)
}

// noteLimit remembers a primary rate limit that ran out, so that no request is sent before it
// resets.
func (g *GitHubPackages) noteLimit(h http.Header) {
	if h.Get("x-ratelimit-remaining") != "0" {
		return
	}
	if reset, err := strconv.ParseInt(h.Get("x-ratelimit-reset"), 10, 64); err == nil {
		g.mu.Lock()
		g.resumes = time.Unix(reset, 0)
		g.mu.Unlock()
	}
}

// rateWait says whether an answer is a rate limit (403 or 429 with the headers GitHub sends,
// or a message that says so), and how long to wait.
func (g *GitHubPackages) rateWait(resp *http.Response) (time.Duration, bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			return time.Duration(n) * time.Second, true
		}
	}
	if resp.Header.Get("x-ratelimit-remaining") == "0" {
		if reset, err := strconv.ParseInt(resp.Header.Get("x-ratelimit-reset"), 10, 64); err == nil {
			return max(time.Unix(reset, 0).Sub(g.now()), 0) + time.Second, true
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return ghSecondaryWait, true
	}
	return 0, false
}

func (g *GitHubPackages) waitFor(ctx context.Context, d time.Duration, why string) error {
	if d > ghMaxWait {
		return fmt.Errorf("%s: GitHub asks to wait %s, more than the %s prune waits: re-run it later", why, d.Round(time.Second), ghMaxWait)
	}
	g.logf("%s: %s, waiting %s", g, why, d.Round(time.Second))
	return g.sleep(ctx, d)
}

// ghcrPruner is a Pruner on ghcr.io: reads and tag lists through the OCI API, deletes through
// the GitHub Packages API, since ghcr.io answers the OCI DELETE with 405.
type ghcrPruner struct {
	Pruner
	gh *GitHubPackages

	mu       sync.Mutex
	rest     bool                       // the OCI DELETE answered 405: use the REST API
	versions map[v1.Hash]PackageVersion // by digest, listed once and again on a miss
}

// WithGitHubPackages returns p with its deletes sent to the GitHub Packages API.
func WithGitHubPackages(p Pruner, gh *GitHubPackages) Pruner { return &ghcrPruner{Pruner: p, gh: gh} }

func (p *ghcrPruner) version(ctx context.Context, d v1.Hash, relist bool) (PackageVersion, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.versions == nil || relist {
		vs, err := p.gh.Versions(ctx)
		if err != nil {
			return PackageVersion{}, false, err
		}
		p.versions = map[v1.Hash]PackageVersion{}
		for _, v := range vs {
			if h, err := v1.NewHash(v.Digest); err == nil {
				p.versions[h] = v
			}
		}
	}
	v, ok := p.versions[d]
	return v, ok, nil
}

// DeleteManifest tries the OCI API, and once the registry answered it with 405 (as ghcr.io
// does) deletes the package version of d instead: its tags go with it, as on distribution.
func (p *ghcrPruner) DeleteManifest(ctx context.Context, d v1.Hash) error {
	p.mu.Lock()
	rest := p.rest
	p.mu.Unlock()
	if !rest {
		err := p.Pruner.DeleteManifest(ctx, d)
		if !errors.Is(err, ErrDeleteUnsupported) {
			return err
		}
		p.mu.Lock()
		p.rest = true
		p.mu.Unlock()
	}
	v, ok, err := p.version(ctx, d, false)
	if err == nil && !ok {
		v, ok, err = p.version(ctx, d, true) // pushed since the listing
	}
	if err != nil {
		return err
	}
	if !ok {
		return nil // no such version: already gone
	}
	return p.gh.DeleteVersion(ctx, v)
}

// DeleteTag: GitHub deletes versions, not tags.
func (p *ghcrPruner) DeleteTag(_ context.Context, tag string) error {
	return fmt.Errorf("deleting the tag %q of %s: %w (GitHub deletes package versions only)", tag, p.gh, ErrTagDeleteUnsupported)
}

// PushTimes says when the registry last changed each digest (GitHub's updated_at of its
// package version): a version of an old commit pushed a moment ago is young by it, whatever its
// commit time says.
func (p *ghcrPruner) PushTimes(ctx context.Context) (map[v1.Hash]time.Time, error) {
	if _, _, err := p.version(ctx, v1.Hash{}, true); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[v1.Hash]time.Time, len(p.versions))
	for h, v := range p.versions {
		out[h] = v.UpdatedAt
	}
	return out, nil
}

// PushTimer is a Pruner that knows when each digest was pushed (ghcr.io does).
type PushTimer interface {
	PushTimes(ctx context.Context) (map[v1.Hash]time.Time, error)
}
