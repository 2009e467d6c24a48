package registry

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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

// Client opens Stores with one transport, one keychain and shared counters.
type Client struct {
	insecure bool
	creds    Credentials
	base     http.RoundTripper
	stats    Stats
	ua       string
	retry    RetryPolicy
	logf     func(string, ...any)
	rt       http.RoundTripper // retry → count → base: every attempt is counted

	mu      sync.Mutex
	pushers map[string]*remote.Pusher
	pullers map[string]*remote.Puller
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

// New returns a Client.
func New(opts ...Option) *Client {
	c := &Client{ua: "fleetpush", pushers: map[string]*remote.Pusher{}, pullers: map[string]*remote.Puller{}}
	for _, o := range opts {
		o(c)
	}
	if c.base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 32
		if c.insecure {
			t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --insecure asks for it
		}
		c.base = t
	}
	c.rt = NewRetryTransport(&countingTransport{base: c.base, stats: &c.stats}, c.retry, c.logf)
	return c
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

// Repository parses ref with the client's plain-HTTP policy.
func (c *Client) Repository(ref string) (name.Repository, error) {
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

// RemoteOptions are the go-containerregistry options every call uses: auth, transport, user agent,
// and this client's retries in place of go-containerregistry's own (see noGGCRRetry). The signer
// uses them too, so signatures travel the same authenticated, counted, retried transport.
//
// The slice is clipped to its length: callers (cosign's WithMoreRemoteOptions among them) append
// to it from concurrent goroutines, which must each get a copy rather than write into shared
// spare capacity.
func (c *Client) RemoteOptions() []remote.Option {
	return slices.Clip(append([]remote.Option{
		remote.WithAuthFromKeychain(c.keychain()),
		remote.WithTransport(c.rt),
		remote.WithUserAgent(c.ua),
		remote.WithPageSize(defaultPageSize),
	}, noGGCRRetry...))
}

// RetryTransport retries with this client's policy over http.DefaultTransport, logging to logf:
// for the other services of a run (the OIDC token service, Fulcio, Rekor), which share neither
// the registry's credentials, its counters nor the verification --insecure turns off.
func (c *Client) RetryTransport(logf func(string, ...any)) http.RoundTripper {
	return NewRetryTransport(http.DefaultTransport, c.retry, logf)
}

// reuse returns options with a Pusher/Puller shared per registry, so the token handshake and ping
// happen once per repository scope rather than once per call.
func (c *Client) reuse(repo name.Repository) []remote.Option {
	key := repo.RegistryStr() + "/" + repo.RepositoryStr()
	c.mu.Lock()
	defer c.mu.Unlock()
	opts := c.RemoteOptions()
	p, ok := c.pushers[key]
	if !ok {
		var err error
		if p, err = remote.NewPusher(opts...); err == nil {
			c.pushers[key] = p
		}
	}
	g, ok := c.pullers[key]
	if !ok {
		var err error
		if g, err = remote.NewPuller(opts...); err == nil {
			c.pullers[key] = g
		}
	}
	if p != nil {
		opts = append(opts, remote.Reuse(p))
	}
	if g != nil {
		opts = append(opts, remote.Reuse(g))
	}
	return opts
}

func (c *Client) keychain() authn.Keychain {
	return keychain{creds: c.creds}
}

// keychain answers explicit credentials first, then GITHUB_TOKEN for ghcr.io, then the docker
// config. Credentials never leave this type except in the Authorization header.
type keychain struct{ creds Credentials }

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
	return authn.DefaultKeychain.Resolve(r)
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
