package registry

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fleetpush/fleetpush/internal/retry"
)

// LayoutScheme prefixes a target that is an OCI image layout folder.
const LayoutScheme = "oci-layout:"

// defaultPageSize for tag listing: ECR answers an error above 1000.
const defaultPageSize = 1000

// Credentials for the target registry. Empty means: GITHUB_TOKEN for ghcr.io, else the docker
// config (~/.docker/config.json and its credential helpers).
type Credentials struct {
	Username, Password string
	GitHubActor        string
	GitHubToken        string
}

// Client opens Stores with one transport, one keychain, shared counters, one authentication
// per registry and repository, and one rate-limit gate per registry host.
type Client struct {
	insecure    bool
	creds       Credentials
	base        http.RoundTripper
	stats       Stats
	ua          string
	retry       RetryPolicy
	logf        func(string, ...any)
	clock       retry.Clock
	concurrency int
	maxTagPages int
	maxBlob     int64
	mask        func(user, secret string) // told of every credential the docker config gives

	gate     *retry.Gate       // shared by every transport of the client: a 429 slows them all
	budget   *retry.Budget     // the bytes of answers every transport of the client holds at once
	services *http.Transport   // the base of RetryTransport: verified TLS, pooled like the registry's
	rt       http.RoundTripper // user agent → retry → count → base: every attempt is counted
	pinged   http.RoundTripper // rt with each registry's ping answered once (see pingCache)
	auth     http.RoundTripper // the router, as go-containerregistry's authenticated transport
	http     *http.Client      // over auth, for the requests the client makes itself (blob uploads)

	mu         sync.Mutex
	repos      map[string]*repoState // registry/repository
	registries map[string]bool       // the registries of Repository calls: the only ones given credentials
}

// Stats counts what a client sent, for the report and the benchmarks.
type Stats struct {
	Requests      atomic.Int64
	BytesUploaded atomic.Int64
	BlobUploads   atomic.Int64 // blob PUTs (finished uploads)
}

// Option configures a Client.
type Option func(*Client)

// WithInsecure allows plain HTTP and unverified TLS for every registry, not just loopback.
func WithInsecure(on bool) Option { return func(c *Client) { c.insecure = on } }

// WithCredentials sets the credentials for the target registry.
func WithCredentials(cr Credentials) Option { return func(c *Client) { c.creds = cr } }

// WithTransport sets the base transport (tests use it to inject faults).
func WithTransport(t http.RoundTripper) Option { return func(c *Client) { c.base = t } }

// WithUserAgent names the client in registry logs.
func WithUserAgent(ua string) Option { return func(c *Client) { c.ua = ua } }

// WithConcurrency says how many components the caller works on at once, to size the pool of
// connections kept open per registry: each component may upload two blobs side by side, and
// reusing a connection saves its TCP and TLS handshakes.
func WithConcurrency(n int) Option { return func(c *Client) { c.concurrency = n } }

// WithMask hands the client a function it calls with each credential it reads from the docker
// config (and its credential helpers) before using it: the run masks them in its log, as it
// masks the credentials given as inputs.
func WithMask(mask func(user, secret string)) Option { return func(c *Client) { c.mask = mask } }

// WithMaxTagPages bounds the pages of one tag listing (DefaultMaxTagPages when n <= 0).
func WithMaxTagPages(n int) Option { return func(c *Client) { c.maxTagPages = n } }

// WithMaxBlob says how large an artifact may be uncompressed (max-size): a blob read from the
// registry is capped at what such an artifact weighs compressed (DefaultMaxBlob when n <= 0).
func WithMaxBlob(n int64) Option { return func(c *Client) { c.maxBlob = n } }

// WithBudget sets the bytes of answers the client's transports hold in memory at once
// (retry.DefaultBudget when n <= 0).
func WithBudget(n int64) Option { return func(c *Client) { c.budget = retry.NewBudget(n) } }

// Budget is the client's budget of answers in memory, for the report and tests.
func (c *Client) Budget() *retry.Budget { return c.budget }

// MaxTagPages is the client's bound on the pages of one tag listing, for the clients made from
// its RemoteOptions (see ReferrerClient.WithMaxTagPages).
func (c *Client) MaxTagPages() int { return c.maxTagPages }

// defaultConcurrency sizes the connection pool when WithConcurrency is not given.
const defaultConcurrency = 8

// New returns a Client.
func New(opts ...Option) *Client {
	c := &Client{ua: "fleetpush", repos: map[string]*repoState{}, registries: map[string]bool{}}
	for _, o := range opts {
		o(c)
	}
	if c.concurrency <= 0 {
		c.concurrency = defaultConcurrency
	}
	if c.clock == nil {
		c.clock = retry.RealClock()
	}
	if c.maxTagPages <= 0 {
		c.maxTagPages = DefaultMaxTagPages
	}
	if c.maxBlob <= 0 {
		c.maxBlob = DefaultMaxBlob
	}
	if c.budget == nil {
		c.budget = retry.NewBudget(0)
	}
	c.services = pooled(c.concurrency)
	if c.base == nil {
		t := pooled(c.concurrency)
		if c.insecure {
			t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --insecure asks for it
		}
		c.base = t
	}
	c.gate = retry.NewGate(c.clock)
	c.rt = &userAgent{ua: c.ua, next: &answerCaps{maxBlob: c.maxBlob, next: retry.NewTransport(&countingTransport{base: c.base, stats: &c.stats}, c.retry,
		retry.WithLogf(c.logf), retry.WithClock(c.clock), retry.WithGate(c.gate), retry.WithBudget(c.budget))}}
	c.pinged = &pingCache{next: c.rt, got: map[string]*ping{}}
	c.auth = wrapped(router{c})
	c.http = &http.Client{Transport: c.auth, CheckRedirect: checkRedirect}
	return c
}

// pooled is http.DefaultTransport with HTTP/2 where the server offers it (one connection, many
// streams) and otherwise an idle pool large enough that no worker re-opens a connection: each
// component may have two blob uploads and a signature in flight. (http.DefaultTransport keeps
// two idle connections per host.)
func pooled(concurrency int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ForceAttemptHTTP2 = true
	t.MaxIdleConnsPerHost = 4 * concurrency
	t.MaxIdleConns = max(t.MaxIdleConns, 8*concurrency)
	return t
}

// Stats returns the client's counters.
func (c *Client) Stats() *Stats { return &c.stats }

// Open returns the Store for ref: "oci-layout:DIR" or a registry repository.
func (c *Client) Open(ref string) (Store, error) {
	if dir, ok := strings.CutPrefix(ref, LayoutScheme); ok {
		return OpenLayout(dir)
	}
	repo, err := c.Repository(ref)
	if err != nil {
		return nil, err
	}
	return &remoteStore{repo: repo, c: c}, nil
}

// Repository parses ref with the client's plain-HTTP policy. Its registry is then one the client
// authenticates to (see router).
func (c *Client) Repository(ref string) (name.Repository, error) {
	repo, err := c.parse(ref)
	if err != nil {
		return name.Repository{}, err
	}
	c.mu.Lock()
	c.registries[repo.RegistryStr()] = true
	c.mu.Unlock()
	return repo, nil
}

// Warm makes the authenticated transport of the repository at ref (the registry's ping, a
// token) in the background, so that the repository's first request does not wait for them; a
// request that comes first waits for it instead of asking twice. A failure is dropped: the
// first request tries again and reports it. An OCI layout folder needs nothing.
func (c *Client) Warm(ctx context.Context, ref string) {
	if strings.HasPrefix(ref, LayoutScheme) {
		return
	}
	repo, err := c.Repository(ref)
	if err != nil {
		return
	}
	go func() { _, _ = c.stateOf(repo).transport(ctx, c) }()
}

// authenticates reports whether host is a registry the client was asked to work with.
func (c *Client) authenticates(host string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.registries[host]
}

func (c *Client) parse(ref string) (name.Repository, error) {
	var nopts []name.Option
	if c.insecure || isLoopback(registryHost(ref)) {
		nopts = append(nopts, name.Insecure)
	}
	repo, err := name.NewRepository(ref, nopts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("repository %q: %w", ref, err)
	}
	return repo, nil
}

// RemoteOptions are the go-containerregistry options every call uses: the client's transport
// (authenticated once per repository, counted, retried under this client's policy in place of
// go-containerregistry's own, see noGGCRRetry) and the page size. The signer uses them too, so
// signatures travel the same transport.
//
// The slice is clipped to its length: callers (cosign's WithMoreRemoteOptions among them) append
// to it from concurrent goroutines, which must each get a copy rather than write into shared
// spare capacity.
func (c *Client) RemoteOptions() []remote.Option {
	return slices.Clip(append([]remote.Option{
		remote.WithTransport(c.auth),
		remote.WithUserAgent(c.ua),
		remote.WithPageSize(defaultPageSize),
	}, noGGCRRetry...))
}

// RetryTransport retries with this client's policy over a transport of its own, logging to logf:
// for the other services of a run (the OIDC token service, Fulcio, Rekor), which share neither
// the registry's credentials, its counters nor the verification --insecure turns off. It shares
// the client's rate-limit gate, clock and memory budget, and caps every answer at 4 MiB.
func (c *Client) RetryTransport(logf func(string, ...any)) http.RoundTripper {
	return &answerCaps{fixed: serviceAnswerLimit, next: retry.NewTransport(c.services, c.retry,
		retry.WithLogf(logf), retry.WithClock(c.clock), retry.WithGate(c.gate), retry.WithBudget(c.budget))}
}

// reuse returns the options of a call on repo. Authentication is shared per repository by the
// client's transport, so these are the client's options.
func (c *Client) reuse(name.Repository) []remote.Option { return c.RemoteOptions() }

// repoState is what the client knows of one repository during a run.
type repoState struct {
	repo name.Repository

	rtMu sync.Mutex
	rt   http.RoundTripper // authenticated, made on first use
	made atomic.Bool       // rt is made

	anonOnce sync.Once
	anon     bool // the keychain holds no credentials for the repository

	mu     sync.Mutex
	absent bool             // the registry said it does not exist, and nothing was written since
	blobs  map[v1.Hash]bool // blobs known to be in it

	// sessions are upload sessions opened ahead of their blobs (Reserve), each sending its
	// Location, or nil when the POST failed, once; reserved counts those sent or still opening.
	sessions chan *url.URL
	reserved int
}

// stateOf returns what the client knows of repo, keyed by registry host and repository path:
// the key of a Store's repository and of a request's URL alike.
func (c *Client) stateOf(repo name.Repository) *repoState {
	key := repo.RegistryStr() + "/" + repo.RepositoryStr()
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.repos[key]
	if !ok {
		st = &repoState{repo: repo, blobs: map[v1.Hash]bool{}}
		c.repos[key] = st
	}
	return st
}

func (st *repoState) setAbsent(on bool) {
	st.mu.Lock()
	st.absent = on
	st.mu.Unlock()
}

func (st *repoState) isAbsent() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.absent
}

func (st *repoState) has(d v1.Hash) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.blobs[d]
}

func (st *repoState) add(d v1.Hash) {
	st.mu.Lock()
	st.blobs[d] = true
	st.mu.Unlock()
}

// forget drops what the client believed about the repository's blobs.
func (st *repoState) forget() {
	st.mu.Lock()
	st.blobs = map[v1.Hash]bool{}
	st.absent = false
	st.mu.Unlock()
}

func (c *Client) keychain() authn.Keychain {
	return keychain{creds: c.creds, mask: c.mask}
}

// keychain answers explicit credentials first, then GITHUB_TOKEN for ghcr.io, then the docker
// config. Credentials never leave this type except in the Authorization header.
type keychain struct {
	creds Credentials
	mask  func(user, secret string)
}

func (k keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	ghcr := r.RegistryStr() == "ghcr.io"
	if k.creds.Username != "" || k.creds.Password != "" {
		user := k.creds.Username
		if user == "" && ghcr {
			// registry-username defaults to GITHUB_ACTOR on ghcr.io, as the input documents, so a
			// PAT given alone as registry-password goes with a user name rather than an empty one.
			user = k.githubUser()
		}
		return authn.FromConfig(authn.AuthConfig{Username: user, Password: k.creds.Password}), nil
	}
	if ghcr && k.creds.GitHubToken != "" {
		return authn.FromConfig(authn.AuthConfig{Username: k.githubUser(), Password: k.creds.GitHubToken}), nil
	}
	cfg, ok, err := dockerConfigAuth(r, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("reading the docker config's credentials for %s: %w", r.RegistryStr(), err)
	}
	if !ok {
		return authn.Anonymous, nil
	}
	// Mask the docker config's secrets now, before any request (or error quoting one) can carry
	// them.
	if k.mask != nil {
		for _, s := range []string{cfg.Password, cfg.IdentityToken, cfg.RegistryToken, cfg.Auth} {
			if s != "" {
				k.mask(cfg.Username, s)
			}
		}
	}
	return authn.FromConfig(cfg), nil
}

func (k keychain) githubUser() string {
	if k.creds.GitHubActor != "" {
		return k.creds.GitHubActor
	}
	return "x-access-token"
}

func registryHost(ref string) string {
	host, _, _ := strings.Cut(ref, "/")
	return host
}

// isLoopback: a registry on this machine may speak plain HTTP without --insecure.
func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

type countingTransport struct {
	base  http.RoundTripper
	stats *Stats
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.stats.Requests.Add(1)
	if req.ContentLength > 0 {
		t.stats.BytesUploaded.Add(req.ContentLength)
	}
	if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/blobs/uploads/") {
		t.stats.BlobUploads.Add(1)
	}
	return t.base.RoundTrip(req)
}

// userAgent names the client in each request, ahead of what go-containerregistry adds.
type userAgent struct {
	ua   string
	next http.RoundTripper
}

func (u *userAgent) RoundTrip(req *http.Request) (*http.Response, error) {
	if cur := req.Header.Get("User-Agent"); !strings.HasPrefix(cur, u.ua) {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", strings.TrimSpace(u.ua+" "+cur))
	}
	return u.next.RoundTrip(req)
}
