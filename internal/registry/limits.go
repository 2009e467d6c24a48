package registry

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/fleetpush/fleetpush/internal/retry"
)

// Caps on what one answer may weigh, by what the request reads. Past a cap, the answer is
// refused from its Content-Length before a byte is read, or cut as it passes the cap.
const (
	// ManifestLimit caps a manifest or index (and a referrers list, which is an index): the
	// CNCF distribution registry refuses to store a manifest over 4 MiB, and real ones weigh a
	// few kilobytes (a Flux artifact's is under 1 KiB). go-containerregistry alone reads up to
	// 100 MiB.
	ManifestLimit = 4 << 20
	// tagPageLimit caps one page of a tag list: 1000 tags of at most 128 characters, JSON-quoted,
	// are about 130 KiB.
	tagPageLimit = 1 << 20
	// serviceAnswerLimit caps every answer of the other services a run talks to (the OIDC token
	// service, Fulcio, Rekor) and the registry's answers not named above (errors, tokens,
	// upload answers): their largest, a Rekor entry with its attestation, is kilobytes.
	serviceAnswerLimit = 4 << 20
)

// DefaultMaxBlob caps a blob read from a registry when the client is not told the artifact size
// bound (see WithMaxBlob): the default max-size.
const DefaultMaxBlob = 100 << 20

// BlobLimit is the most a blob of an artifact of at most maxSize uncompressed bytes may weigh
// compressed: gzip adds at most about 0.03% to incompressible content, and tar a 512-byte
// header and padding per entry (counted generously by an eighth of the size plus 1 MiB). Every
// read of a published layer is bounded by it, from a registry or an OCI layout folder.
func BlobLimit(maxSize int64) int64 { return maxSize + maxSize/8 + 1<<20 }

// answerCaps gives each registry request the cap of what it reads (see retry.WithAnswerLimit),
// by what the request is: a manifest, a tag page, a blob, anything else. It decides per request,
// whatever the context carries: a token or a redirect fetched on behalf of a blob request is not
// a blob.
type answerCaps struct {
	next    http.RoundTripper
	maxBlob int64
	fixed   int64 // when set, every request gets this cap (the services of a run)
}

func (a *answerCaps) RoundTrip(req *http.Request) (*http.Response, error) {
	limit := a.fixed
	if limit == 0 {
		limit = a.limitOf(req)
	}
	resp, err := a.next.RoundTrip(req.WithContext(retry.WithAnswerLimit(req.Context(), limit)))
	if err == nil {
		if rec, ok := req.Context().Value(linkKey{}).(*linkRecorder); ok && strings.Contains(req.URL.Path, "/referrers/") {
			rec.set(resp.Header.Get("Link"), req.URL)
		}
	}
	return resp, err
}

// linkRecorder keeps the Link header of a referrers answer that go-containerregistry read (it
// ignores the header, and with it every page after the first).
type linkRecorder struct {
	mu   sync.Mutex
	link string
	page *url.URL
}

type linkKey struct{}

func withLinkRecorder(ctx context.Context) (context.Context, *linkRecorder) {
	rec := &linkRecorder{}
	return context.WithValue(ctx, linkKey{}, rec), rec
}

func (r *linkRecorder) set(link string, page *url.URL) {
	r.mu.Lock()
	r.link, r.page = link, page
	r.mu.Unlock()
}

func (r *linkRecorder) get() (string, *url.URL) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.link, r.page
}

// limitOf is the cap of a registry API request, from its path (/v2/<name>/<kind>/<reference>).
func (a *answerCaps) limitOf(req *http.Request) int64 {
	p := req.URL.Path
	switch {
	case strings.HasSuffix(p, "/tags/list"):
		return tagPageLimit
	case strings.Contains(p, "/manifests/"), strings.Contains(p, "/referrers/"):
		return ManifestLimit
	case req.Method == http.MethodGet && strings.Contains(p, "/blobs/") && !strings.Contains(p, "/blobs/uploads/"):
		return BlobLimit(a.maxBlob)
	}
	return serviceAnswerLimit
}
