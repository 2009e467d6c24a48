package registry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
)

// repoBlobs makes go-containerregistry's in-memory registry keep blobs per repository, as
// distribution does (its blob store is global: a blob pushed to one repository would answer a
// HEAD in every other, hiding the uploads a real registry needs). It tracks which repository
// received which blob and answers HEAD/GET of a blob another repository holds with 404, and a
// cross-repository mount with 201 only when the source holds the blob.
type repoBlobs struct {
	next http.Handler

	mu  sync.Mutex
	has map[string]map[string]bool // repo -> digest -> present
}

var (
	blobPath   = regexp.MustCompile(`^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$`)
	uploadPath = regexp.MustCompile(`^/v2/(.+)/blobs/uploads/`)
)

func newRepoBlobs(next http.Handler) *repoBlobs {
	return &repoBlobs{next: next, has: map[string]map[string]bool{}}
}

func (b *repoBlobs) add(repo, d string) {
	if b.has[repo] == nil {
		b.has[repo] = map[string]bool{}
	}
	b.has[repo][d] = true
}

func (b *repoBlobs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m := blobPath.FindStringSubmatch(r.URL.Path); m != nil && (r.Method == http.MethodHead || r.Method == http.MethodGet) {
		b.mu.Lock()
		ok := b.has[m[1]][m[2]]
		b.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			if r.Method == http.MethodGet {
				fmt.Fprint(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`)
			}
			return
		}
	}
	if m := uploadPath.FindStringSubmatch(r.URL.Path); m != nil {
		repo := m[1]
		q := r.URL.Query()
		if r.Method == http.MethodPost && q.Get("mount") != "" {
			b.mu.Lock()
			from, d := q.Get("from"), q.Get("mount")
			ok := from != "" && b.has[from][d]
			if ok {
				b.add(repo, d)
			}
			b.mu.Unlock()
			if ok {
				w.Header().Set("Docker-Content-Digest", d)
				w.WriteHeader(http.StatusCreated)
				return
			}
			// As distribution: a mount that cannot be made starts an ordinary upload.
			r = r.Clone(r.Context())
			r.URL.RawQuery = ""
		}
		if r.Method == http.MethodPut && q.Get("digest") != "" {
			rec := &statusRecorder{ResponseWriter: w}
			b.next.ServeHTTP(rec, r)
			if rec.code == http.StatusCreated {
				b.mu.Lock()
				b.add(repo, q.Get("digest"))
				b.mu.Unlock()
			}
			return
		}
	}
	b.next.ServeHTTP(w, r)
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// tokenAuth puts a bearer-token handshake in front of a registry, as ghcr.io and Docker Hub
// have: /v2/ and every repository request answer 401 with a challenge until they carry a token,
// which /token hands out for the requested scopes. It counts the tokens it issued.
type tokenAuth struct {
	next http.Handler

	mu     sync.Mutex
	tokens int
	scopes []string // the scope parameters of every token request
}

func (a *tokenAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		a.mu.Lock()
		a.tokens++
		a.scopes = append(a.scopes, strings.Join(r.URL.Query()["scope"], " "))
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"token": "t0k3n", "expires_in": 300})
		return
	}
	if r.Header.Get("Authorization") != "Bearer t0k3n" {
		challenge := fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, r.Host)
		if m := regexp.MustCompile(`^/v2/(.+)/(manifests|blobs|tags)/`).FindStringSubmatch(r.URL.Path); m != nil {
			challenge += fmt.Sprintf(`,scope="repository:%s:pull,push"`, m[1])
		}
		w.Header().Set("WWW-Authenticate", challenge)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		return
	}
	a.next.ServeHTTP(w, r)
}

func (a *tokenAuth) issued() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tokens
}
