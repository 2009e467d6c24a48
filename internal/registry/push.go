package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Pushing writes blobs itself rather than through remote.Write, which spends requests the client
// can do without: a HEAD of the manifest before putting it (the caller has just read the digest
// as absent, and a PUT by digest is idempotent), a HEAD of every blob even in a repository the
// registry has just said does not exist, and a three-request upload (POST, PATCH, PUT) where
// the OCI distribution spec's monolithic upload takes two (POST, then PUT with the body), as
// oras does. What the client learns (a blob uploaded or found) it remembers per repository, so
// a second push of the same config or layer to it sends nothing.

// blob is one blob of an image: its descriptor and how to read it (again, for a retry).
type blob struct {
	desc v1.Descriptor
	open func() (io.ReadCloser, error)
	// fresh: the repository cannot hold it yet; it is uploaded without asking.
	fresh bool
}

func blobsOf(img v1.Image, m *Manifest) ([]blob, error) {
	if m.Parsed == nil {
		return nil, errors.New("not an image manifest")
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	out := []blob{{desc: m.Parsed.Config, open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(cfg)), nil }}}
	for _, l := range m.Parsed.Layers {
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return nil, err
		}
		out = append(out, blob{desc: l, open: layer.Compressed})
	}
	return out, nil
}

func (s *remoteStore) pushImage(ctx context.Context, img v1.Image, m *Manifest) error {
	st := s.c.stateOf(s.repo)
	blobs, err := blobsOf(img, m)
	if err != nil {
		return err
	}
	for try := 0; ; try++ {
		if err := s.uploadAll(ctx, st, blobs); err != nil {
			return err
		}
		err := remote.Put(s.repo.Digest(m.Digest.String()), rawManifest{m}, s.opts(ctx)...)
		if err == nil {
			st.setAbsent(false)
			return nil
		}
		if try > 0 || !blobUnknown(err) {
			return err
		}
		// The registry lacks a blob the client believed it had (deleted meanwhile, or a
		// repository written by someone else since it was absent): check them all once more.
		st.forget()
	}
}

// uploadAll uploads the blobs side by side; the first failure cancels the others.
func (s *remoteStore) uploadAll(ctx context.Context, st *repoState, blobs []blob) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, b := range blobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.upload(ctx, st, b); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	return first
}

// BlobWriter uploads blobs to the repositories of a Client the way Push uploads an artifact's:
// a blob the client already saw in the repository is not sent again, and an upload is a POST
// and a PUT with the body (go-containerregistry's remote.WriteLayer spends a HEAD, a POST, a
// PATCH and a PUT). The signer writes its signatures and bundles through it.
type BlobWriter interface {
	// WriteBlob makes sure repo holds data as the blob desc describes. fresh says the registry
	// cannot hold it yet (a signature just made): it is uploaded without asking first.
	WriteBlob(ctx context.Context, repo name.Repository, desc v1.Descriptor, data []byte, fresh bool) error
	// PutManifest stores the manifest raw at ref with one PUT and returns the registry's
	// OCI-Subject header, "" when it sent none. A registry that serves the referrers API must
	// send the subject's digest there for a manifest with a subject, so its absence means the
	// referrers tag schema is the reader's only way to find the manifest (the distribution
	// spec's rule; it spares the GET of the referrers API go-containerregistry makes after
	// each such PUT).
	PutManifest(ctx context.Context, ref name.Reference, raw []byte, mediaType types.MediaType) (subject string, err error)
}

// BlobWriter returns the client's BlobWriter. Only repositories of the client's registries
// (those Open or Repository was called for) are given its credentials.
func (c *Client) BlobWriter() BlobWriter { return blobWriter{c} }

type blobWriter struct{ c *Client }

func (w blobWriter) WriteBlob(ctx context.Context, repo name.Repository, desc v1.Descriptor, data []byte, fresh bool) error {
	if int64(len(data)) != desc.Size {
		return fmt.Errorf("writing the blob %s: %d bytes, the descriptor says %d", desc.Digest, len(data), desc.Size)
	}
	s := &remoteStore{repo: repo, c: w.c}
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	// A small blob (the empty config of a referrer) is sent without asking first: a signing run
	// writes it into a repository that rarely holds it, and the answer would cost as much.
	fresh = fresh || desc.Size <= smallBlob
	if err := s.upload(ctx, w.c.stateOf(repo), blob{desc: desc, open: open, fresh: fresh}); err != nil {
		return fmt.Errorf("uploading %s to %q: %w", desc.Digest, repo, explain(err))
	}
	return nil
}

func (w blobWriter) PutManifest(ctx context.Context, ref name.Reference, raw []byte, mediaType types.MediaType) (string, error) {
	s := &remoteStore{repo: ref.Context(), c: w.c}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.url("manifests/"+ref.Identifier()).String(), bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", string(mediaType))
	resp, err := w.c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK, http.StatusCreated, http.StatusAccepted); err != nil {
		return "", err
	}
	return resp.Header.Get("OCI-Subject"), nil
}

// smallBlob is the size up to which WriteBlob uploads a blob without asking whether the
// repository holds it: the answer costs a request, as does sending it again.
const smallBlob = 4 << 10

// upload makes sure the repository holds b: known present, present (HEAD, unless the
// repository was just said not to exist or b is fresh), or uploaded.
func (s *remoteStore) upload(ctx context.Context, st *repoState, b blob) error {
	d := b.desc.Digest
	if st.has(d) {
		return nil
	}
	if !st.isAbsent() && !b.fresh {
		ok, err := s.blobExists(ctx, d)
		if err != nil {
			return err
		}
		if ok {
			st.add(d)
			return nil
		}
	}
	loc, reserved := st.takeSession()
	if loc == nil {
		var err error
		if loc, err = s.startUpload(ctx); err != nil {
			return err
		}
	}
	err := s.putBlob(ctx, loc, b)
	if err != nil && reserved && !errors.Is(err, ctx.Err()) {
		// A session opened ahead may have gone stale (registries expire idle sessions):
		// once more through a new one.
		if loc, err = s.startUpload(ctx); err != nil {
			return err
		}
		err = s.putBlob(ctx, loc, b)
	}
	if err != nil {
		return err
	}
	st.add(d)
	return nil
}

// putBlob sends b's data to the upload session at loc, completing it.
func (s *remoteStore) putBlob(ctx context.Context, loc *url.URL, b blob) error {
	d := b.desc.Digest
	q := loc.Query()
	q.Set("digest", d.String())
	loc.RawQuery = q.Encode()
	body, err := b.open()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, loc.String(), body)
	if err != nil {
		body.Close()
		return err
	}
	req.ContentLength = b.desc.Size
	req.GetBody = b.open
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := s.c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return transport.CheckError(resp, http.StatusCreated)
}

// Reserve opens n upload sessions in repo in the background, for blobs whose data does not exist
// yet (a signature waiting on its transparency log entry): their uploads then cost the PUT
// alone. A session not taken is left to the registry to expire, so n should be what will be
// uploaded; a session that fails to open is replaced by a new one at upload time.
func (w blobWriter) Reserve(ctx context.Context, repo name.Repository, n int) {
	if n <= 0 {
		return
	}
	st := w.c.stateOf(repo)
	s := &remoteStore{repo: repo, c: w.c}
	st.mu.Lock()
	if st.sessions == nil {
		st.sessions = make(chan *url.URL, 64)
	}
	// Counted when reserved, not when opened: sessions still opening hold their place, so
	// that no opener ever waits for room in the channel.
	n = min(n, cap(st.sessions)-st.reserved)
	st.reserved += n
	ch := st.sessions
	st.mu.Unlock()
	for range n {
		go func() {
			loc, err := s.startUpload(ctx)
			if err != nil {
				loc = nil
			}
			ch <- loc
		}()
	}
}

// takeSession takes a session Reserve has opened, without waiting for one still opening: nil
// (not reserved) when none is ready, or the one taken failed to open.
func (st *repoState) takeSession() (*url.URL, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	select {
	case loc := <-st.sessions: // a nil channel: never ready
		st.reserved--
		return loc, loc != nil
	default:
		return nil, false
	}
}

func (s *remoteStore) url(path string) *url.URL {
	return &url.URL{Scheme: s.repo.Scheme(), Host: s.repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/%s", s.repo.RepositoryStr(), path)}
}

func (s *remoteStore) blobExists(ctx context.Context, d v1.Hash) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, s.url("blobs/"+d.String()).String(), nil)
	if err != nil {
		return false, err
	}
	resp, err := s.c.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK, http.StatusNotFound); err != nil {
		return false, err
	}
	return resp.StatusCode == http.StatusOK, nil
}

// startUpload opens an upload session and returns where to PUT the blob.
func (s *remoteStore) startUpload(ctx context.Context) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url("blobs/uploads/").String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusAccepted); err != nil {
		return nil, err
	}
	return uploadLocation(resp)
}

// uploadLocation resolves the Location of an upload session. A registry may send the upload to
// another host (blob storage), but not to a private or link-local address by IP: a hostile
// registry must not turn the client against the runner's own network with the blob as the body.
func uploadLocation(resp *http.Response) (*url.URL, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, errors.New("the registry started an upload but sent no Location to send it to")
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("the registry sent an upload Location that is no URL: %w", err)
	}
	u = resp.Request.URL.ResolveReference(u)
	if err := sameOrPublicHost(resp.Request.URL, u); err != nil {
		return nil, err
	}
	return u, nil
}

// checkRedirect follows redirects as net/http does, but not from the registry to a private or
// link-local address on another host.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return sameOrPublicHost(via[0].URL, req.URL)
}

func sameOrPublicHost(from, to *url.URL) error {
	if to.Scheme != "http" && to.Scheme != "https" {
		return fmt.Errorf("the registry sent the client to a %q URL", to.Scheme)
	}
	if to.Hostname() == from.Hostname() {
		return nil
	}
	ip := net.ParseIP(to.Hostname())
	if ip != nil && (ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified()) {
		return fmt.Errorf("the registry sent the client to %s, a private address on another host: refused", to.Host)
	}
	return nil
}

// blobUnknown reports whether err is a manifest PUT refused for a missing blob.
func blobUnknown(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		for _, d := range te.Errors {
			if d.Code == transport.BlobUnknownErrorCode || d.Code == transport.ManifestBlobUnknownErrorCode {
				return true
			}
		}
	}
	return false
}

// compile-time check that a Store can name digests for the signer.
var _ interface{ Reference(v1.Hash) name.Digest } = (*remoteStore)(nil)
