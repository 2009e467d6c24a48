package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// OCI 1.1 referrers: an artifact (a signature, an attestation) is an image manifest whose
// `subject` names the digest it is about. A registry that serves the referrers API
// (GET /v2/<name>/referrers/<digest>) indexes such manifests itself; for one that does not
// (distribution, ghcr.io), the client that pushes a referrer also maintains an image index
// tagged `sha256-<hex>` (the referrers tag schema) that lists the subject's referrers, and
// readers (Flux, cosign) fall back to that tag. Nothing in this file knows what the artifacts
// mean.

// MediaTypeEmptyJSON is the OCI empty descriptor's media type: the config of an artifact that
// has none.
const MediaTypeEmptyJSON = "application/vnd.oci.empty.v1+json"

// emptyJSON is the content of the OCI empty descriptor.
var emptyJSON = []byte("{}")

// referrersIndexLimit bounds the referrers index this package reads (a hostile registry could
// answer with an endless one) and writes; an index of this size lists thousands of referrers.
const referrersIndexLimit = 4 << 20

// maxReferrers bounds the referrers of one subject that are read or kept in the fallback index.
const maxReferrers = 1000

// Fallback-index writes: see addToFallbackIndex.
const (
	// fallbackAttempts bounds the rounds of one update. A round rewrites the index only when it
	// finds a referrer missing, which happens again only when another writer replaced the index
	// in between; a handful of concurrent runs settle within a few rounds.
	fallbackAttempts = 20
	// maxRepairs bounds how many malformed entries of someone else's index one update repairs,
	// and how many records missing from the index it reads (one manifest read each).
	maxRepairs = 64
	// refTagInfix joins the referrers tag and a referrer's digest in the tag that records the
	// referrer: sha256-<subject hex>.ref.<first refTagHex hex digits of the referrer's digest>.
	refTagInfix = ".ref."
	refTagHex   = 32
)

// Blob is one layer of a referrer, held in memory: signatures and attestations are small.
type Blob struct {
	MediaType string
	Data      []byte
	// Fresh says the registry cannot hold this blob yet (a signature just made): it is uploaded
	// without first asking whether it is there, which would cost a request for a certain no.
	Fresh bool
}

// Referrer is an artifact to attach to a subject.
type Referrer struct {
	// ArtifactType is the manifest's artifactType; it is also what the referrers index lists.
	ArtifactType string
	// ConfigArtifactType, when set, is written into the config descriptor's artifactType too,
	// for readers that look there (cosign writes its bundles that way).
	ConfigArtifactType string
	Layers             []Blob
	// Annotations of the manifest; the referrers index lists them too.
	Annotations map[string]string
}

// Referrers is the list of a subject's referrers.
type Referrers struct {
	Manifests []v1.Descriptor
	// API says the registry served the list through the referrers API; false means it came from
	// the referrers tag schema (`sha256-<hex>`), which this package maintains on push.
	API bool
}

// ReferrerClient lists, reads and pushes referrers. It keeps one registry connection setup (the
// ping and the token of each repository) for all its calls, and it reads and writes the
// referrers tag schema itself, with go-containerregistry's own tag fallback off. It is safe for
// concurrent use.
type ReferrerClient struct {
	opts []remote.Option
	// blobs uploads the referrers' blobs when set (see WithBlobWriter); else
	// go-containerregistry does.
	blobs BlobWriter
	// maxTagPages bounds a listing of the repository's tags (see WithMaxTagPages).
	maxTagPages int
}

// WithMaxTagPages bounds the pages of the tag listings the client makes (for the referrers tag
// schema's records), as the run's Client bounds its own (DefaultMaxTagPages when n <= 0). It
// returns c.
func (c *ReferrerClient) WithMaxTagPages(n int) *ReferrerClient {
	c.maxTagPages = n
	return c
}

// WithBlobWriter has the client upload blobs through w: the Client's own uploads, in fewer
// requests. It returns c.
func (c *ReferrerClient) WithBlobWriter(w BlobWriter) *ReferrerClient {
	c.blobs = w
	return c
}

// NewReferrerClient returns a client over the registry options opts (auth, transport). A Puller
// or Pusher shared through remote.Reuse in opts is not used: it carries its own tag fallback
// setting.
func NewReferrerClient(opts ...remote.Option) (*ReferrerClient, error) {
	base := append(slices.Clip(opts), remote.WithReferrersTagFallback(false),
		remote.Reuse((*remote.Puller)(nil)), remote.Reuse((*remote.Pusher)(nil)))
	puller, err := remote.NewPuller(base...)
	if err != nil {
		return nil, err
	}
	pusher, err := remote.NewPusher(base...)
	if err != nil {
		return nil, err
	}
	return &ReferrerClient{opts: append(base, remote.Reuse(puller), remote.Reuse(pusher))}, nil
}

// ListReferrers is ReferrerClient.List with a client of its own.
func ListReferrers(ctx context.Context, subject name.Digest, opts ...remote.Option) (Referrers, error) {
	c, err := NewReferrerClient(opts...)
	if err != nil {
		return Referrers{}, err
	}
	return c.List(ctx, subject)
}

// PushReferrers is ReferrerClient.Push with a client of its own.
func PushReferrers(ctx context.Context, subject name.Digest, subjectDesc v1.Descriptor, rs []Referrer, opts ...remote.Option) ([]v1.Descriptor, error) {
	c, err := NewReferrerClient(opts...)
	if err != nil {
		return nil, err
	}
	return c.Push(ctx, subject, subjectDesc, rs)
}

// FetchManifest is ReferrerClient.FetchManifest with a client of its own.
func FetchManifest(ctx context.Context, ref name.Digest, limit int64, opts ...remote.Option) ([]byte, types.MediaType, error) {
	c, err := NewReferrerClient(opts...)
	if err != nil {
		return nil, "", err
	}
	return c.FetchManifest(ctx, ref, limit)
}

// FetchBlob is ReferrerClient.FetchBlob with a client of its own.
func FetchBlob(ctx context.Context, repo name.Repository, desc v1.Descriptor, limit int64, opts ...remote.Option) ([]byte, error) {
	c, err := NewReferrerClient(opts...)
	if err != nil {
		return nil, err
	}
	return c.FetchBlob(ctx, repo, desc, limit)
}

// List returns the referrers of subject: from the registry's referrers API when it serves one,
// else from the referrers tag schema. A subject without referrers gives an empty list. At most
// maxReferrers are returned; a longer list is an error rather than a silent cut, since a
// verifier must not miss one.
func (c *ReferrerClient) List(ctx context.Context, subject name.Digest) (Referrers, error) {
	lctx, rec := withLinkRecorder(ctx)
	o := withContext(lctx, c.opts)
	// The referrers tag schema's index is read beside the API, unless the registry is known
	// to serve the API: its answer then costs no round trip of its own on a registry without
	// the API, and one request that is thrown away on one with it, the first time.
	var fallback <-chan indexRead
	if !knownWithAPI(subject.RegistryStr()) {
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		fallback = c.readFallbackAhead(fctx, subject)
	}
	// The API is asked every time, whatever a push learnt: a verifier must not miss referrers
	// a registry indexed itself on the strength of a hint.
	idx, err := remote.Referrers(subject, o...)
	switch {
	case err == nil:
		im, err := idx.IndexManifest()
		if err != nil {
			return Referrers{}, fmt.Errorf("reading the referrers of %q: %w", subject, err)
		}
		manifests := im.Manifests
		if link, page := rec.get(); link != "" {
			// The registry pages its list; go-containerregistry read the first page only.
			if manifests, err = c.referrerPages(ctx, subject, manifests, link, page); err != nil {
				return Referrers{}, err
			}
		}
		if len(manifests) > maxReferrers {
			return Referrers{}, fmt.Errorf("reading the referrers of %q: the registry lists %d, more than the %d this tool reads", subject, len(manifests), maxReferrers)
		}
		rememberAPI(subject.RegistryStr(), true)
		return Referrers{Manifests: manifests, API: true}, nil
	case !noReferrersAPI(err):
		return Referrers{}, fmt.Errorf("reading the referrers of %q: %w", subject, explain(err))
	}
	rememberAPI(subject.RegistryStr(), false)
	var im *v1.IndexManifest
	if fallback != nil {
		r := <-fallback
		im, err = r.im, r.err
	} else {
		im, err = readFallbackIndex(ctx, subject, o)
	}
	if err != nil {
		return Referrers{}, err
	}
	return Referrers{Manifests: im.Manifests}, nil
}

// referrerPages follows the pages of a referrers list after the first (first, whose answer
// carried link), under a pageGuard, through the client's own registry transport (credentials,
// retries, the manifest cap and the answer budget).
func (c *ReferrerClient) referrerPages(ctx context.Context, subject name.Digest, first []v1.Descriptor, link string, page *url.URL) ([]v1.Descriptor, error) {
	what := "the referrers of " + subject.String()
	bw, ok := c.blobs.(blobWriter)
	if !ok || page == nil {
		return nil, fmt.Errorf("reading %s: the registry splits the list into pages, which this client cannot follow: a signature on a later page would be missed", what)
	}
	g := newPageGuard(what, maxReferrerPages)
	all := first
	next, err := nextLink(link, page)
	for {
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", what, err)
		}
		digests := make([]string, len(all))
		for i, d := range all {
			digests[i] = d.Digest.String()
		}
		if len(all) > maxReferrers {
			return all, nil // refused by the caller, with the count
		}
		_, more, gerr := g.add(digests, next)
		if gerr != nil {
			return nil, gerr
		}
		if !more {
			return dedupe(all), nil
		}
		req, rerr := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if rerr != nil {
			return nil, fmt.Errorf("reading %s: %w", what, rerr)
		}
		req.Header.Set("Accept", string(types.OCIImageIndex))
		resp, rerr := bw.c.http.Do(req)
		if rerr != nil {
			return nil, fmt.Errorf("reading %s: %w", what, explain(rerr))
		}
		var im v1.IndexManifest
		derr := json.NewDecoder(resp.Body).Decode(&im)
		resp.Body.Close()
		switch {
		case resp.StatusCode != http.StatusOK:
			return nil, fmt.Errorf("reading %s: page %d: the registry answered %s", what, g.pages+1, resp.Status)
		case derr != nil:
			return nil, fmt.Errorf("reading %s: page %d is not an OCI index: %w", what, g.pages+1, explain(derr))
		}
		all = append(all, im.Manifests...)
		next, err = nextLink(resp.Header.Get("Link"), resp.Request.URL)
	}
}

// Push uploads each referrer as an image manifest whose subject is the manifest
// subject names, and makes them discoverable: a registry with the referrers API indexes them
// itself; for one without, they are added to the referrers tag schema index, without losing an
// entry that a concurrent writer adds (see addToFallbackIndex). It returns the descriptors of
// the pushed manifests, as a referrers list shows them. Pushing a referrer that is already
// there changes nothing.
//
// subjectDesc is the subject's descriptor (media type, size), which the caller usually holds
// already; a zero one is read from the registry.
func (c *ReferrerClient) Push(ctx context.Context, subject name.Digest, subjectDesc v1.Descriptor, rs []Referrer) ([]v1.Descriptor, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	o := withContext(ctx, c.opts)
	if subjectDesc.Digest.Hex == "" {
		d, err := remote.Head(subject, o...)
		if err != nil {
			return nil, fmt.Errorf("reading %q: %w", subject, explain(err))
		}
		subjectDesc = *d
	}
	repo := subject.Context()

	// The manifests, and the blobs they name.
	empty := static.NewLayer(emptyJSON, MediaTypeEmptyJSON)
	blobs := map[v1.Hash]Blob{mustDigest(empty): {MediaType: MediaTypeEmptyJSON, Data: emptyJSON}}
	descs := make([]v1.Descriptor, len(rs))
	raws := make([][]byte, len(rs))
	for i, r := range rs {
		m := referrerManifest{Manifest: v1.Manifest{
			SchemaVersion: 2,
			MediaType:     types.OCIManifestSchema1,
			Config: v1.Descriptor{
				MediaType:    MediaTypeEmptyJSON,
				ArtifactType: r.ConfigArtifactType,
				Digest:       mustDigest(empty),
				Size:         int64(len(emptyJSON)),
			},
			Subject: &v1.Descriptor{
				MediaType: subjectDesc.MediaType,
				Digest:    subjectDesc.Digest,
				Size:      subjectDesc.Size,
			},
			Annotations: r.Annotations,
		}, ArtifactType: r.ArtifactType}
		for _, b := range r.Layers {
			d := mustDigest(static.NewLayer(b.Data, types.MediaType(b.MediaType)))
			blobs[d] = b
			m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.MediaType(b.MediaType), Digest: d, Size: int64(len(b.Data))})
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		h, size, err := v1.SHA256(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		raws[i] = raw
		descs[i] = v1.Descriptor{
			MediaType:    types.OCIManifestSchema1,
			Digest:       h,
			Size:         size,
			ArtifactType: r.ArtifactType,
			Annotations:  r.Annotations,
		}
	}

	// Beside the blob uploads, what the manifests' PUTs would otherwise wait for: whether the
	// registry serves the referrers API (unless known: asked once per registry), and the
	// referrers tag schema's index as it stands (unless the registry is known to serve the
	// API), the first read of addToFallbackIndex. Both are reads; the answers only choose
	// where the manifests go first (the PUT's own answer still decides, see below) and start
	// the index update from a read that may be a little older, which its next round repairs.
	host := subject.RegistryStr()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel() // a Push that fails early leaves no read behind
	probe := make(chan apiAnswer, 1)
	if !knownWithAPI(host) && !knownWithoutAPI(host) {
		go func() {
			_, err := remote.Referrers(subject, withContext(pctx, c.opts)...)
			switch {
			case err == nil:
				probe <- apiServed
			case noReferrersAPI(err):
				probe <- apiMissing
			default:
				probe <- apiUnknown // asked again after the PUTs, as without the probe
			}
		}()
	} else {
		probe <- apiUnknown
	}
	var index <-chan indexRead // nil: not read
	if !knownWithAPI(host) {
		index = c.readFallbackAhead(pctx, subject)
	}

	// The blobs first, side by side: a manifest may only name blobs the registry holds.
	g, gctx := errgroup.WithContext(ctx)
	for d, b := range blobs {
		g.Go(func() error {
			if c.blobs != nil {
				desc := v1.Descriptor{MediaType: types.MediaType(b.MediaType), Digest: d, Size: int64(len(b.Data))}
				return c.blobs.WriteBlob(gctx, repo, desc, b.Data, b.Fresh)
			}
			var l v1.Layer = static.NewLayer(b.Data, types.MediaType(b.MediaType))
			if b.Fresh {
				l = &freshBlob{Layer: l}
			}
			if err := remote.WriteLayer(repo, l, withContext(gctx, c.opts)...); err != nil {
				return fmt.Errorf("uploading a referrer blob to %q: %w", repo, explain(err))
			}
			return nil
		})
	}
	err := g.Wait()
	probed := <-probe
	if probed == apiMissing {
		rememberAPI(host, false)
	}
	if err != nil {
		return nil, err
	}

	// go-containerregistry, on a registry without the referrers API, would follow each manifest
	// PUT with its own update of the fallback index: read, append, write, with nothing to stop a
	// concurrent writer's update from overwriting it. It is switched off in this client; it then
	// reports the missing API as an error after the manifest is stored, and the index is updated
	// below instead. On a registry known to lack the API, each manifest is stored by its record
	// tag at once (which stores it by digest as well); that knowledge is only a hint: the answer
	// of the PUT decides.
	noAPI := make([]bool, len(raws))
	g, gctx = errgroup.WithContext(ctx)
	for i, raw := range raws {
		g.Go(func() error {
			o := withContext(gctx, c.opts)
			byTag := knownWithoutAPI(host)
			var ref name.Reference = repo.Digest(descs[i].Digest.String())
			if byTag {
				ref = refTag(subject, descs[i].Digest)
			}
			put := func(ref name.Reference) (api bool, err error) {
				if c.blobs != nil {
					// The registry indexed the manifest as a referrer of this subject only if
					// it names the subject back.
					got, err := c.blobs.PutManifest(gctx, ref, raw, types.OCIManifestSchema1)
					return err == nil && got == subjectDesc.Digest.String(), err
				}
				err = remote.Put(ref, rawTaggable{raw: raw, mediaType: types.OCIManifestSchema1}, o...)
				if noReferrersAPI(err) {
					return false, nil
				}
				return err == nil, err
			}
			api, err := put(ref)
			if err != nil {
				return fmt.Errorf("pushing the referrer %q: %w", ref, explain(err))
			}
			if !api && c.blobs != nil {
				// No OCI-Subject header: a registry without the API, or one that serves it
				// but does not say so (go-containerregistry's own); the probe may have
				// answered already.
				if probed == apiServed {
					api = true
				} else if api, err = c.hasAPI(gctx, subject); err != nil {
					return fmt.Errorf("asking %s whether it serves the referrers API: %w", host, explain(err))
				}
			}
			switch {
			case api:
				rememberAPI(host, true)
				return nil
			}
			rememberAPI(host, false)
			noAPI[i] = true
			if !byTag {
				if _, err := put(refTag(subject, descs[i].Digest)); err != nil {
					return fmt.Errorf("pushing the referrer %q: %w", ref, explain(err))
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var fallback []v1.Descriptor
	for i, d := range descs {
		if noAPI[i] {
			fallback = append(fallback, d)
		}
	}
	if len(fallback) > 0 {
		var first *v1.IndexManifest
		if index != nil {
			if r := <-index; r.err == nil {
				first = r.im
			}
		}
		if err := addToFallbackIndex(ctx, subject, fallback, first, c.maxTagPages, withContext(ctx, c.opts)); err != nil {
			return nil, err
		}
	}
	return descs, nil
}

// indexRead is a read of a referrers tag schema index.
type indexRead struct {
	im  *v1.IndexManifest
	err error
}

// readFallbackAhead reads subject's referrers tag schema index in the background; the channel
// hands over the answer once (it never blocks the reader, who may abandon it by cancelling ctx).
func (c *ReferrerClient) readFallbackAhead(ctx context.Context, subject name.Digest) <-chan indexRead {
	ch := make(chan indexRead, 1)
	go func() {
		im, err := readFallbackIndex(ctx, subject, withContext(ctx, c.opts))
		ch <- indexRead{im, err}
	}()
	return ch
}

// hasAPI says whether subject's registry serves the referrers API, for a manifest PUT it
// answered without the OCI-Subject header: not when it said so earlier in the run (then the
// referrers tag schema is written, which a registry with the API merely does not need), else
// what a GET of subject's referrers answers.
func (c *ReferrerClient) hasAPI(ctx context.Context, subject name.Digest) (bool, error) {
	if knownWithoutAPI(subject.RegistryStr()) {
		return false, nil
	}
	_, err := remote.Referrers(subject, withContext(ctx, c.opts)...)
	switch {
	case err == nil:
		return true, nil
	case noReferrersAPI(err):
		return false, nil
	}
	return false, err
}

// FetchManifest reads the manifest at ref, refusing one larger than limit bytes.
func (c *ReferrerClient) FetchManifest(ctx context.Context, ref name.Digest, limit int64) ([]byte, types.MediaType, error) {
	d, err := remote.Get(ref, withContext(ctx, c.opts)...)
	if err != nil {
		return nil, "", fmt.Errorf("reading %q: %w", ref, explain(err))
	}
	if int64(len(d.Manifest)) > limit {
		return nil, "", fmt.Errorf("reading %q: the manifest is %d bytes, more than the %d expected", ref, len(d.Manifest), limit)
	}
	return d.Manifest, d.MediaType, nil
}

// FetchBlob reads the blob desc describes from repo, refusing one larger than limit bytes or
// whose content does not match the descriptor.
func (c *ReferrerClient) FetchBlob(ctx context.Context, repo name.Repository, desc v1.Descriptor, limit int64) ([]byte, error) {
	if desc.Size > limit || desc.Size < 0 {
		return nil, fmt.Errorf("reading %q: the blob is %d bytes, more than the %d expected", repo.Digest(desc.Digest.String()), desc.Size, limit)
	}
	return c.fetchBlob(ctx, repo, desc.Digest, desc.Size, limit)
}

// FetchBlobOf reads the blob of digest h from repo, whatever its size up to limit bytes,
// refusing one larger or whose content does not match h.
func (c *ReferrerClient) FetchBlobOf(ctx context.Context, repo name.Repository, h v1.Hash, limit int64) ([]byte, error) {
	return c.fetchBlob(ctx, repo, h, -1, limit)
}

// fetchBlob reads the blob h of size bytes (-1: any size up to limit) from repo.
func (c *ReferrerClient) fetchBlob(ctx context.Context, repo name.Repository, h v1.Hash, size, limit int64) ([]byte, error) {
	ref := repo.Digest(h.String())
	if h.Algorithm != "sha256" {
		return nil, fmt.Errorf("reading %q: unsupported digest algorithm %q", ref, h.Algorithm)
	}
	l, err := remote.Layer(ref, withContext(ctx, c.opts)...)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", ref, explain(err))
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", ref, explain(err))
	}
	defer rc.Close()
	want := size
	if want < 0 {
		want = limit
	}
	b, err := io.ReadAll(io.LimitReader(rc, want+1))
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", ref, explain(err))
	}
	if size < 0 && int64(len(b)) > limit {
		return nil, fmt.Errorf("reading %q: the blob is more than the %d bytes expected", ref, limit)
	}
	sum := sha256.Sum256(b)
	if (size >= 0 && int64(len(b)) != size) || hex.EncodeToString(sum[:]) != h.Hex {
		return nil, fmt.Errorf("reading %q: the registry answered other content than the digest names", ref)
	}
	return b, nil
}

// addToFallbackIndex adds add to the referrers tag schema index of subject.
//
// Registries offer no conditional write of a tag: two writers that each read the index and write
// it back with their own entry added lose one of the two. So each referrer pushed here is also
// recorded under a tag of its own (refTag: nobody else writes it, so it cannot be lost), and the
// index is a view of those records that every writer repairs. A writer lists the record tags
// and reads the index; when a recorded referrer is missing from the index (its own, or
// another's that a concurrent overwrite dropped), it writes the index with what is missing
// added, and looks again; it stops once a look finds nothing missing. Whoever lands the last
// write of the index looks after it, and that look lists every record made before it (a record
// made after it belongs to a writer that looks later still and would write again): the last
// index holds every record. Entries of the index without a record (written by other tools) are
// kept, but are only as safe as those tools make them.
//
// The index written is always well formed: schema 2, the OCI index media type, each entry with
// the manifest's media type, digest, size, artifactType and annotations (cosign#4641: an index
// without them hides what its entries are). Entries of an existing index that lack them are
// repaired from their manifests when those can be read.
//
// first, when not nil, is the index as read by the caller before: the first round starts from it
// instead of reading it again.
func addToFallbackIndex(ctx context.Context, subject name.Digest, add []v1.Descriptor, first *v1.IndexManifest, maxTagPages int, opts []remote.Option) error {
	tag := fallbackTag(subject)
	known := map[string]v1.Descriptor{} // record tag -> descriptor, for records already read
	for _, d := range add {
		known[refTag(subject, d.Digest).TagStr()] = d
	}
	backoff := time.Millisecond
	for attempt := 1; ; attempt++ {
		reads := 0 // records read this round
		// The first round only adds this writer's referrers; the rounds after a write list the
		// records, which is what makes the last write complete.
		var records []string
		var im *v1.IndexManifest
		var err error
		switch {
		case attempt == 1 && first != nil:
			im = first
		case attempt == 1:
			im, err = readFallbackIndex(ctx, subject, opts)
		default:
			// The records and the index side by side: two reads, one round trip.
			var lerr error
			listed := make(chan struct{})
			go func() {
				defer close(listed)
				records, lerr = listRecords(ctx, subject, maxTagPages, opts)
			}()
			im, err = readFallbackIndex(ctx, subject, opts)
			<-listed
			if lerr != nil {
				return lerr
			}
		}
		if err != nil {
			return err
		}
		var missing []v1.Descriptor
		for _, rt := range records {
			if slices.ContainsFunc(im.Manifests, func(d v1.Descriptor) bool { return refTag(subject, d.Digest).TagStr() == rt }) {
				continue
			}
			d, ok := known[rt]
			if !ok {
				if reads == maxRepairs {
					// Enough for one round (each read is a request); the next round, after
					// this one's write, reads on.
					continue
				}
				reads++
				d, err = readRecord(ctx, subject.Context().Tag(rt), opts)
				if IsNotFound(err) {
					// Listed but not readable yet: its writer is still storing it, and looks
					// at the index itself once it has.
					continue
				}
				if err != nil {
					return err
				}
				known[rt] = d
			}
			missing = append(missing, d)
		}
		// A record tag can lag behind on a registry whose listing is eventually consistent:
		// this writer's own referrers are added whether their records are listed yet or not.
		for _, d := range missingFrom(im.Manifests, add) {
			if !slices.ContainsFunc(missing, func(m v1.Descriptor) bool { return m.Digest == d.Digest }) {
				missing = append(missing, d)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if attempt > fallbackAttempts {
			return fmt.Errorf("updating the referrers index %q: other writers kept replacing it (%d tries); re-run the job, it adds what is missing", tag, fallbackAttempts)
		}
		if attempt > 1 {
			// Another writer replaced the index in between: wait a little, randomly, so that
			// two writers do not keep meeting in the same window.
			if err := pause(ctx, backoff+time.Duration(rand.Int64N(int64(backoff)))); err != nil {
				return err
			}
			backoff = min(2*backoff, 100*time.Millisecond)
		}
		next := mergeIndex(ctx, subject.Context(), im, missing, opts)
		b, err := json.Marshal(next)
		if err != nil {
			return err
		}
		if len(b) > referrersIndexLimit || len(next.Manifests) > maxReferrers {
			return fmt.Errorf("updating the referrers index %q: it would list %d referrers (%d bytes), more than this tool writes", tag, len(next.Manifests), len(b))
		}
		if err := remote.Put(tag, rawTaggable{raw: b, mediaType: types.OCIImageIndex}, opts...); err != nil {
			return fmt.Errorf("updating the referrers index %q: %w", tag, explain(err))
		}
		if attempt == 1 {
			indexWritten(ctx)
		}
	}
}

type indexWrittenKey struct{}

// WithIndexWritten returns ctx carrying f, which a push of referrers through the fallback index
// calls once its first write of the index has landed, before the look that checks it: what
// waits only on the signatures being stored may start then, beside that look.
func WithIndexWritten(ctx context.Context, f func()) context.Context {
	return context.WithValue(ctx, indexWrittenKey{}, f)
}

func indexWritten(ctx context.Context) {
	if f, ok := ctx.Value(indexWrittenKey{}).(func()); ok {
		f()
	}
}

// listRecords lists the record tags (refTag) of subject's referrers.
func listRecords(ctx context.Context, subject name.Digest, maxTagPages int, opts []remote.Option) ([]string, error) {
	tags, err := listTags(ctx, subject.Context(), maxTagPages, withContext(ctx, opts))
	if err != nil && !IsNotFound(err) {
		return nil, fmt.Errorf("listing the tags of %q: %w", subject.Context(), explain(err))
	}
	prefix := fallbackTag(subject).TagStr() + refTagInfix
	var records []string
	for _, t := range tags {
		if strings.HasPrefix(t, prefix) && len(t) == len(prefix)+refTagHex {
			records = append(records, t)
		}
	}
	if len(records) > maxReferrers {
		return nil, fmt.Errorf("listing the referrers of %q: %d, more than the %d this tool reads", subject, len(records), maxReferrers)
	}
	return records, nil
}

// readRecord reads the manifest a record tag points at and describes it as an index entry.
func readRecord(ctx context.Context, tag name.Tag, opts []remote.Option) (v1.Descriptor, error) {
	d, err := remote.Get(tag, withContext(ctx, opts)...)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading the referrer %q: %w", tag, explain(err))
	}
	if len(d.Manifest) > referrersIndexLimit {
		return v1.Descriptor{}, fmt.Errorf("reading the referrer %q: %d bytes, more than the %d this tool reads", tag, len(d.Manifest), referrersIndexLimit)
	}
	desc := v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: int64(len(d.Manifest))}
	return describeReferrer(desc, d.Manifest), nil
}

// readFallbackIndex reads the index at subject's referrers tag, or an empty one when the tag does
// not exist. It refuses anything else at that tag rather than overwrite it.
func readFallbackIndex(ctx context.Context, subject name.Digest, opts []remote.Option) (*v1.IndexManifest, error) {
	tag := fallbackTag(subject)
	d, err := remote.Get(tag, withContext(ctx, opts)...)
	if IsNotFound(err) {
		return &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the referrers index %q: %w", tag, explain(err))
	}
	if len(d.Manifest) > referrersIndexLimit {
		return nil, fmt.Errorf("reading the referrers index %q: %d bytes, more than the %d this tool reads", tag, len(d.Manifest), referrersIndexLimit)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(d.Manifest, &im); err != nil || im.SchemaVersion != 2 ||
		(im.MediaType != types.OCIImageIndex && d.MediaType != types.OCIImageIndex) {
		return nil, fmt.Errorf("the tag %q holds something other than an OCI image index, where the referrers tag schema lists the signatures and attestations of %s: delete the tag (the next run re-adds what it signs) or fix it by hand", tag, subject.DigestStr())
	}
	if len(im.Manifests) > maxReferrers {
		return nil, fmt.Errorf("reading the referrers index %q: it lists %d referrers, more than the %d this tool reads", tag, len(im.Manifests), maxReferrers)
	}
	return &im, nil
}

// mergeIndex returns im with add appended, in a stable order, with the media type every entry
// needs, and with entries that lack their artifactType repaired from their manifests.
func mergeIndex(ctx context.Context, repo name.Repository, im *v1.IndexManifest, add []v1.Descriptor, opts []remote.Option) *v1.IndexManifest {
	next := &v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Annotations:   im.Annotations,
	}
	repairs := 0
	for _, d := range im.Manifests {
		if d.ArtifactType == "" && repairs < maxRepairs {
			repairs++
			d = repairDescriptor(ctx, repo, d, opts)
		}
		next.Manifests = append(next.Manifests, d)
	}
	next.Manifests = append(next.Manifests, add...)
	next.Manifests = dedupe(next.Manifests)
	return next
}

// repairDescriptor fills in the artifactType, annotations and media type of an index entry
// from the manifest it names, as the referrers API would list it. An entry whose manifest cannot
// be read is kept as it is: it is someone else's.
func repairDescriptor(ctx context.Context, repo name.Repository, d v1.Descriptor, opts []remote.Option) v1.Descriptor {
	m, err := remote.Get(repo.Digest(d.Digest.String()), withContext(ctx, opts)...)
	if err != nil || len(m.Manifest) > referrersIndexLimit {
		return d
	}
	raw, mt := m.Manifest, m.MediaType
	if d.MediaType == "" {
		d.MediaType = mt
	}
	return describeReferrer(d, raw)
}

// describeReferrer fills in the artifactType (the manifest's, else its config's media type) and the
// annotations of d from the manifest raw, as the referrers API lists a referrer.
func describeReferrer(d v1.Descriptor, raw []byte) v1.Descriptor {
	var m struct {
		ArtifactType string            `json:"artifactType"`
		Annotations  map[string]string `json:"annotations"`
		Config       struct {
			MediaType types.MediaType `json:"mediaType"`
		} `json:"config"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return d
	}
	d.ArtifactType = m.ArtifactType
	if d.ArtifactType == "" {
		d.ArtifactType = string(m.Config.MediaType)
	}
	if d.Annotations == nil {
		d.Annotations = m.Annotations
	}
	return d
}

// dedupe keeps the first entry of each digest and sorts by digest, so that the same set of
// referrers always gives the same index (and an unchanged one is not written again).
func dedupe(ds []v1.Descriptor) []v1.Descriptor {
	seen := map[v1.Hash]bool{}
	out := ds[:0:0]
	for _, d := range ds {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b v1.Descriptor) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
	return out
}

func missingFrom(have, want []v1.Descriptor) []v1.Descriptor {
	var missing []v1.Descriptor
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h v1.Descriptor) bool { return h.Digest == w.Digest }) {
			missing = append(missing, w)
		}
	}
	return missing
}

// noReferrersAPI recognises go-containerregistry's answer when the registry lacks the referrers
// API and the tag fallback is switched off. It is a plain error, unlike every answer of the
// registry (a *transport.Error); the text is pinned by this package's tests.
func noReferrersAPI(err error) bool {
	var te *transport.Error
	return err != nil && !errors.As(err, &te) && strings.Contains(err.Error(), "does not support the Referrers API")
}

// withoutAPI remembers, per registry host, that it answered without the referrers API, so that
// pushes to it store each referrer under its record tag at once rather than by digest first,
// and do not ask the API again after a PUT without the OCI-Subject header. It is a hint for
// pushes only, wrong at worst in the safe direction (a tag schema index a registry with the API
// does not need); listings always ask the API.
var withoutAPI sync.Map

func knownWithoutAPI(host string) bool {
	v, ok := withoutAPI.Load(host)
	return ok && v.(bool)
}

// apiAnswer is what a question about the referrers API answered.
type apiAnswer int

const (
	apiUnknown apiAnswer = iota // not asked, or no clear answer
	apiServed
	apiMissing
)

// knownWithAPI says the registry answered with the referrers API earlier in the run.
func knownWithAPI(host string) bool {
	v, ok := withoutAPI.Load(host)
	return ok && !v.(bool)
}

func rememberAPI(host string, api bool) { withoutAPI.Store(host, !api) }

// fallbackTag is the referrers tag schema's tag for d: its algorithm and hex joined by a dash.
func fallbackTag(d name.Digest) name.Tag {
	return d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1))
}

// refTag is the tag that records referrer r of subject for the fallback index.
func refTag(subject name.Digest, r v1.Hash) name.Tag {
	h := r.Hex
	if len(h) > refTagHex {
		h = h[:refTagHex]
	}
	return subject.Context().Tag(fallbackTag(subject).TagStr() + refTagInfix + h)
}

// FallbackTag is the tag of the referrers tag schema for d (`sha256-<hex>`).
func FallbackTag(d name.Digest) name.Tag { return fallbackTag(d) }

// freshBlob is a layer whose digest go-containerregistry does not see until it reads the content:
// it then uploads it without the existence check it makes for a layer of known digest.
type freshBlob struct {
	v1.Layer
	read atomic.Bool
}

func (f *freshBlob) Digest() (v1.Hash, error) {
	if !f.read.Load() {
		return v1.Hash{}, stream.ErrNotComputed
	}
	return f.Layer.Digest()
}

func (f *freshBlob) Compressed() (io.ReadCloser, error) {
	f.read.Store(true)
	return f.Layer.Compressed()
}

// referrerManifest is an image manifest with the OCI 1.1 artifactType, which v1.Manifest lacks.
type referrerManifest struct {
	v1.Manifest
	ArtifactType string `json:"artifactType,omitempty"`
}

// rawTaggable pushes bytes as they are.
type rawTaggable struct {
	raw       []byte
	mediaType types.MediaType
}

func (r rawTaggable) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawTaggable) MediaType() (types.MediaType, error) { return r.mediaType, nil }

func withContext(ctx context.Context, opts []remote.Option) []remote.Option {
	return append(opts[:len(opts):len(opts)], remote.WithContext(ctx))
}

// pause waits d, or less when ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func mustDigest(l v1.Layer) v1.Hash {
	d, err := l.Digest()
	if err != nil {
		// A static layer's digest is computed from bytes in memory and cannot fail.
		panic(err)
	}
	return d
}

// IsAttachmentTag reports whether tag is one of the tags that hold what is attached to a digest
// rather than an artifact: cosign's `sha256-<hex>.sig` (and `.att`, `.sbom`), the referrers
// tag schema's index `sha256-<hex>`, and the `sha256-<hex>.ref.<hex>` tags that record its
// entries. Listings of a repository's artifacts leave them out.
func IsAttachmentTag(tag string) bool {
	rest, ok := strings.CutPrefix(tag, "sha256-")
	if !ok || len(rest) < 64 || strings.Trim(rest[:64], "0123456789abcdef") != "" {
		return false
	}
	switch suffix := rest[64:]; {
	case suffix == "", suffix == ".sig", suffix == ".att", suffix == ".sbom":
		return true
	case strings.HasPrefix(suffix, refTagInfix):
		return true
	}
	return false
}
