package registry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// The client authenticates once per registry and repository rather than once per call:
// go-containerregistry, left to itself, pings the registry and fetches a token for every
// Get/Write/List that does not share a Pusher or Puller, and a Pusher and a Puller each do
// their own. Here one router, handed to go-containerregistry as an already-authenticated
// transport.Wrapper, sends each request to its repository's authenticated transport, made once
// (one token for pull and push), over a ping answered once per registry.

// router sends a registry API request to the authenticated transport of its repository; any
// other request (a token realm, a redirect to blob storage) goes out as it is. Only the
// registries the client was asked to work with are authenticated to: a registry that redirects
// to another host must not get the client to hand that host the credentials (the keychain
// answers explicit credentials for any registry).
type router struct{ c *Client }

func (r router) RoundTrip(req *http.Request) (*http.Response, error) {
	repo, ok := repositoryOf(req.URL.Path)
	if !ok || !r.c.authenticates(req.URL.Host) {
		return r.c.rt.RoundTrip(req)
	}
	ref, err := r.c.parse(req.URL.Host + "/" + repo)
	if err != nil {
		return nil, err
	}
	st := r.c.stateOf(ref)
	if !st.made.Load() && (req.Method == http.MethodGet || req.Method == http.MethodHead) && req.Body == nil {
		return r.c.besidePing(req, st)
	}
	rt, err := st.transport(req.Context(), r.c)
	if err != nil {
		return nil, err
	}
	return rt.RoundTrip(req)
}

// besidePing sends a read of a repository whose authenticated transport is not made yet (the
// registry's ping, maybe a token) beside the making of it, while the registry's ping is yet
// to answer (once it has, a registry that wants credentials is known not to answer one read
// without them, and one that does not makes the transport at once), so that a registry that wants no
// credentials answers the read in the ping's round trip instead of after it. The read goes out
// without credentials, and only when the keychain holds none for the repository: it is then
// the very request the transport sends once the ping has answered 200 (no authentication, the
// scheme the request names), and its answer is taken. Any other outcome of the ping (a
// challenge: the registry wants a token or a password; another scheme; a failure) drops that
// answer, unread, and the request goes out through the transport as it always did.
func (c *Client) besidePing(req *http.Request, st *repoState) (*http.Response, error) {
	ctx := req.Context()
	if !c.pinged.(*pingCache).pending(req.URL) || !st.anonymous(ctx, c) {
		rt, err := st.transport(ctx, c)
		if err != nil {
			return nil, err
		}
		return rt.RoundTrip(req)
	}
	type answer struct {
		resp *http.Response
		err  error
	}
	sctx, cancel := context.WithCancel(ctx)
	got := make(chan answer, 1)
	go func() {
		resp, err := c.rt.RoundTrip(req.Clone(sctx))
		got <- answer{resp, err}
	}()
	rt, err := st.transport(ctx, c)
	if err == nil && c.pinged.(*pingCache).anonymous(req.URL) {
		a := <-got
		if a.resp == nil {
			cancel()
			return nil, a.err
		}
		a.resp.Body = cancelOnClose{a.resp.Body, cancel}
		return a.resp, a.err
	}
	// Its answer (a 401 by now: it took one round trip, the ping and the token two) is
	// closed before the request goes out again, so that the two never overlap.
	if a := <-got; a.resp != nil {
		a.resp.Body.Close()
	}
	cancel()
	if err != nil {
		return nil, err
	}
	return rt.RoundTrip(req)
}

// cancelOnClose ends a request's context once its answer's body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// anonymous reports whether the keychain holds no credentials for the repository, asked once.
func (st *repoState) anonymous(ctx context.Context, c *Client) bool {
	st.anonOnce.Do(func() {
		auth, err := authn.Resolve(ctx, c.keychain(), st.repo)
		if err != nil {
			return
		}
		if auth == authn.Anonymous {
			st.anon = true
			return
		}
		cfg, err := authn.Authorization(ctx, auth)
		st.anon = err == nil && *cfg == (authn.AuthConfig{})
	})
	return st.anon
}

// repositoryOf returns the repository a registry API path names: /v2/<name>/manifests/...,
// /blobs/..., /tags/list or /referrers/.... A repository name may itself hold these words, so
// the last one marks the end of the name.
func repositoryOf(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return "", false
	}
	end := -1
	for _, seg := range []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"} {
		end = max(end, strings.LastIndex(rest, seg))
	}
	if end <= 0 {
		return "", false
	}
	return rest[:end], true
}

// wrapped hands rt to go-containerregistry as authenticated already, so that it neither pings,
// nor fetches tokens, nor wraps its own retries around it. transport.Wrapper has no exported
// constructor; this one adds anonymous (no) credentials and nothing else.
func wrapped(rt http.RoundTripper) http.RoundTripper {
	w, err := transport.FromToken(name.Registry{}, authn.Anonymous, rt, &transport.Challenge{Scheme: "basic"}, nil)
	if err != nil {
		return rt // unreachable for a basic challenge
	}
	return w
}

// transport returns the repository's authenticated transport, making it on first use: a token
// for pull and push, or for pull alone when the registry refuses push (a read-only token).
func (st *repoState) transport(ctx context.Context, c *Client) (http.RoundTripper, error) {
	st.rtMu.Lock()
	defer st.rtMu.Unlock()
	if st.rt != nil {
		return st.rt, nil
	}
	auth, err := authn.Resolve(ctx, c.keychain(), st.repo)
	if err != nil {
		return nil, err
	}
	rt, err := transport.NewWithContext(ctx, st.repo.Registry, auth, c.pinged, []string{st.repo.Scope(transport.PushScope)})
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		rt, err = transport.NewWithContext(ctx, st.repo.Registry, auth, c.pinged, []string{st.repo.Scope(transport.PullScope)})
	}
	if err != nil {
		return nil, err
	}
	st.rt = rt
	st.made.Store(true)
	return rt, nil
}

// pingCache answers go-containerregistry's ping (an unauthenticated GET /v2/, which tells
// whether and how to authenticate, and over which scheme) from the first answer per registry:
// a registry's challenge does not change within a run. Concurrent first pings wait for one.
type pingCache struct {
	next http.RoundTripper

	mu  sync.Mutex
	got map[string]*ping // scheme://host
}

type ping struct {
	mu     sync.Mutex // held while the first ping is on its way
	status int
	header http.Header
	ok     bool
}

// pingBodyLimit bounds the part of a ping's answer read (it is discarded).
const pingBodyLimit = 64 << 10

func (p *pingCache) entry(key string) *ping {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.got[key]
	if !ok {
		e = &ping{}
		p.got[key] = e
	}
	return e
}

func (p *pingCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.URL.Path != "/v2/" || req.Header.Get("Authorization") != "" {
		return p.next.RoundTrip(req)
	}
	// A registry that answered over plain HTTP speaks plain HTTP: go-containerregistry tries
	// https first for an insecure registry, which would cost a failed request per repository.
	if req.URL.Scheme == "https" {
		if e := p.entry("http://" + req.URL.Host); e.answered() {
			return nil, errPlainHTTP
		}
	}
	e := p.entry(req.URL.Scheme + "://" + req.URL.Host)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ok {
		return e.replay(req), nil
	}
	resp, err := p.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		return resp, nil // an error the caller reports; asked again next time
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, pingBodyLimit))
	resp.Body.Close()
	e.status, e.header, e.ok = resp.StatusCode, resp.Header.Clone(), true
	return e.replay(req), nil
}

// pending reports whether the registry of u has not answered its ping over u's scheme yet.
func (p *pingCache) pending(u *url.URL) bool {
	e := p.entry(u.Scheme + "://" + u.Host)
	if !e.mu.TryLock() {
		return true // the first ping is on its way
	}
	defer e.mu.Unlock()
	return !e.ok
}

// anonymous reports whether the registry of u answered its ping 200 over u's scheme, and not
// over the other one: go-containerregistry's transport then sends u's requests as they are,
// over that scheme, without credentials (when it has none).
func (p *pingCache) anonymous(u *url.URL) bool {
	other := map[string]string{"http": "https", "https": "http"}[u.Scheme]
	if other == "" {
		return false
	}
	if p.entry(other + "://" + u.Host).answered() {
		return false
	}
	e := p.entry(u.Scheme + "://" + u.Host)
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ok && e.status == http.StatusOK
}

func (e *ping) answered() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ok
}

func (e *ping) replay(req *http.Request) *http.Response {
	return &http.Response{
		Status:     http.StatusText(e.status),
		StatusCode: e.status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  e.header.Clone(),
		Body:    http.NoBody,
		Request: req,
	}
}

var errPlainHTTP = errors.New("the registry answered over plain HTTP before")
