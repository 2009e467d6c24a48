package registry

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"localhost:5000", true},
		{"127.0.0.1", true},
		{"127.0.0.1:5000", true},
		{"127.1.2.3:80", true},
		{"[::1]:5000", true},
		{"[::1]", true},
		{"::1", true},
		{"ghcr.io", false},
		{"registry.example.com:5000", false},
		{"localhost.example.com", false},
		{"mylocalhost:5000", false},
		{"10.0.0.1:5000", false},
		{"192.168.1.10", false},
		{"0.0.0.0:5000", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			if got := isLoopback(tt.host); got != tt.want {
				t.Errorf("isLoopback(%q) = %v, want %v", tt.host, got, tt.want)
			}
		})
	}
}

// TestRepositoryScheme: plain HTTP for loopback always, for anything with --insecure, HTTPS
// otherwise.
func TestRepositoryScheme(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref      string
		insecure bool
		want     string
	}{
		{"127.0.0.1:5000/acme/apps", false, "http"},
		{"localhost:5000/acme/apps", false, "http"},
		{"localhost/acme/apps", false, "http"},
		{"[::1]:5000/acme/apps", false, "http"},
		{"ghcr.io/acme/apps", false, "https"},
		{"registry.internal:5000/acme/apps", false, "https"},
		{"registry.internal:5000/acme/apps", true, "http"},
		{"ghcr.io/acme/apps", true, "http"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s insecure=%v", tt.ref, tt.insecure), func(t *testing.T) {
			t.Parallel()
			repo, err := New(WithInsecure(tt.insecure)).Repository(tt.ref)
			if err != nil {
				t.Fatalf("Repository(%q) = %v", tt.ref, err)
			}
			if got := repo.Scheme(); got != tt.want {
				t.Errorf("Repository(%q).Scheme() = %q, want %q", tt.ref, got, tt.want)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	_, err := New().Open("ghcr.io/Acme/Apps")
	if err == nil || !strings.HasPrefix(err.Error(), `repository "ghcr.io/Acme/Apps": `) {
		t.Errorf("Open(upper case) = %v, want an error naming the repository", err)
	}
}

// TestKeychain: explicit credentials win; ghcr.io takes GITHUB_TOKEN (and only ghcr.io: the
// token must never reach another registry); everything else falls to the docker config.
// Not parallel: the docker config is found through the environment.
func TestKeychain(t *testing.T) {
	home := t.TempDir()
	dockerDir := filepath.Join(home, "docker-config")
	if err := os.MkdirAll(dockerDir, 0o700); err != nil {
		t.Fatal(err)
	}
	auth := func(u, p string) string { return base64.StdEncoding.EncodeToString([]byte(u + ":" + p)) }
	config := fmt.Sprintf(`{"auths": {
		"registry.example.com": {"auth": %q},
		"ghcr.io": {"auth": %q}
	}}`, auth("docker-user", "docker-pass"), auth("ghcr-docker-user", "ghcr-docker-pass"))
	if err := os.WriteFile(filepath.Join(dockerDir, "config.json"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", dockerDir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "xdg"))
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("REGISTRY_AUTH_FILE", "")

	explicit := Credentials{Username: "robot", Password: "s3cret", GitHubActor: "octocat", GitHubToken: "ghs_token"}
	tests := []struct {
		name     string
		creds    Credentials
		registry string
		want     authn.AuthConfig // zero = anonymous
	}{
		{"explicit credentials win on ghcr.io over GITHUB_TOKEN", explicit, "ghcr.io", authn.AuthConfig{Username: "robot", Password: "s3cret"}},
		{"explicit credentials win over the docker config", explicit, "registry.example.com", authn.AuthConfig{Username: "robot", Password: "s3cret"}},
		{"explicit password alone (a token)", Credentials{Password: "tok"}, "registry.example.com", authn.AuthConfig{Password: "tok"}},
		{"explicit password alone on ghcr.io: the user is GITHUB_ACTOR", Credentials{Password: "pat", GitHubActor: "octocat", GitHubToken: "ghs_token"}, "ghcr.io", authn.AuthConfig{Username: "octocat", Password: "pat"}},
		{"explicit password alone on ghcr.io, no actor", Credentials{Password: "pat"}, "ghcr.io", authn.AuthConfig{Username: "x-access-token", Password: "pat"}},
		{"ghcr.io with GITHUB_TOKEN and GITHUB_ACTOR", Credentials{GitHubActor: "octocat", GitHubToken: "ghs_token"}, "ghcr.io", authn.AuthConfig{Username: "octocat", Password: "ghs_token"}},
		{"ghcr.io with GITHUB_TOKEN, no actor", Credentials{GitHubToken: "ghs_token"}, "ghcr.io", authn.AuthConfig{Username: "x-access-token", Password: "ghs_token"}},
		{"ghcr.io without a token: the docker config", Credentials{GitHubActor: "octocat"}, "ghcr.io", authn.AuthConfig{Username: "ghcr-docker-user", Password: "ghcr-docker-pass"}},
		{"GITHUB_TOKEN is not sent to other registries", Credentials{GitHubActor: "octocat", GitHubToken: "ghs_token"}, "registry.example.com", authn.AuthConfig{Username: "docker-user", Password: "docker-pass"}},
		{"GITHUB_TOKEN is not sent to a ghcr.io look-alike", Credentials{GitHubToken: "ghs_token"}, "ghcr.io.example.com", authn.AuthConfig{}},
		{"a registry unknown to the docker config: anonymous", Credentials{}, "quay.io", authn.AuthConfig{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, err := name.NewRepository(tt.registry + "/acme/apps")
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(WithCredentials(tt.creds)).keychain().Resolve(repo)
			if err != nil {
				t.Fatalf("Resolve(%s) = %v", tt.registry, err)
			}
			got, err := a.Authorization()
			if err != nil {
				t.Fatalf("Authorization() = %v", err)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("Resolve(%s) mismatch (-want +got):\n%s", tt.registry, diff)
			}
		})
	}
}

// TestCredentialsReachTheRegistry: the keychain is the one every call uses, end to end, against
// a registry that demands basic auth. Not parallel: without explicit credentials the docker
// config is read, so it is pointed at an empty folder.
func TestCredentialsReachTheRegistry(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", filepath.Join(home, "none"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "xdg"))
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("REGISTRY_AUTH_FILE", "")

	host := memRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "robot" || p != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	tests := []struct {
		name    string
		creds   Credentials
		wantErr bool
	}{
		{"right credentials", Credentials{Username: "robot", Password: "s3cret"}, false},
		{"wrong password", Credentials{Username: "robot", Password: "nope"}, true},
		{"none", Credentials{}, true},
		{"GITHUB_TOKEN is not used off ghcr.io", Credentials{GitHubActor: "robot", GitHubToken: "s3cret"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(WithCredentials(tt.creds)).Open(host + "/acme/apps/frontend")
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Push(t.Context(), fluxImage(t, "auth"))
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("Push error = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if !strings.Contains(err.Error(), "`permissions: packages: write`") {
				t.Errorf("Push error %q lacks the permissions hint", err)
			}
			for _, secret := range []string{"s3cret", "nope"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Push error %q shows a secret", err)
				}
			}
		})
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	plain := errors.New("connection refused")
	tests := []struct {
		name     string
		err      error
		wantHint string // "" = returned as it is
	}{
		{"401", &transport.Error{StatusCode: http.StatusUnauthorized}, "(the registry refused the credentials: check registry-username/registry-password or the docker config; on ghcr.io the workflow needs `permissions: packages: write`)"},
		{"403", &transport.Error{StatusCode: http.StatusForbidden}, "(no write access: on ghcr.io the workflow needs `permissions: packages: write` and the package must grant this repository access)"},
		{"403 wrapped", fmt.Errorf("put: %w", &transport.Error{StatusCode: http.StatusForbidden}), "`permissions: packages: write`"},
		{"404", &transport.Error{StatusCode: http.StatusNotFound}, ""},
		{"500", &transport.Error{StatusCode: http.StatusInternalServerError}, "(the registry kept failing after retries: re-run the job; it resumes where this run stopped, nothing half-written is tagged)"},
		{"429", &transport.Error{StatusCode: http.StatusTooManyRequests}, "(the registry kept rate-limiting after retries: re-run the job later; it resumes where this run stopped)"},
		{"400", &transport.Error{StatusCode: http.StatusBadRequest}, ""},
		{"not a registry error", plain, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := explain(tt.err)
			if !errors.Is(got, tt.err) {
				t.Errorf("explain(%v) = %v does not wrap the original", tt.err, got)
			}
			if tt.wantHint == "" {
				if got != tt.err {
					t.Errorf("explain(%v) = %q, want it unchanged", tt.err, got)
				}
				return
			}
			if !strings.HasPrefix(got.Error(), tt.err.Error()) || !strings.Contains(got.Error(), tt.wantHint) {
				t.Errorf("explain(%v) = %q, want the original followed by %q", tt.err, got, tt.wantHint)
			}
		})
	}
}

func TestIsNotFound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"404", &transport.Error{StatusCode: http.StatusNotFound}, true},
		{"manifest unknown with another status", &transport.Error{StatusCode: http.StatusBadRequest,
			Errors: []transport.Diagnostic{{Code: transport.ManifestUnknownErrorCode}}}, true},
		{"name unknown", &transport.Error{StatusCode: http.StatusBadRequest,
			Errors: []transport.Diagnostic{{Code: transport.NameUnknownErrorCode}}}, true},
		{"wrapped 404", fmt.Errorf("get: %w", &transport.Error{StatusCode: http.StatusNotFound}), true},
		{"401", &transport.Error{StatusCode: http.StatusUnauthorized,
			Errors: []transport.Diagnostic{{Code: transport.UnauthorizedErrorCode}}}, false},
		{"blob unknown is not a missing manifest", &transport.Error{StatusCode: http.StatusBadRequest,
			Errors: []transport.Diagnostic{{Code: transport.BlobUnknownErrorCode}}}, false},
		{"plain error", errors.New("not found"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := IsNotFound(tt.err); got != tt.want {
				t.Errorf("IsNotFound(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCountingTransport(t *testing.T) {
	t.Parallel()
	type req struct {
		method, url string
		length      int64
	}
	type counts struct{ Requests, BytesUploaded, BlobUploads int64 }
	tests := []struct {
		name string
		reqs []req
		want counts
	}{
		{
			name: "reads count requests only",
			reqs: []req{{"GET", "/v2/", 0}, {"HEAD", "/v2/a/blobs/sha256:1", 0}, {"GET", "/v2/a/manifests/latest", 0}},
			want: counts{Requests: 3},
		},
		{
			name: "a blob upload: start, send, commit",
			reqs: []req{
				{"POST", "/v2/a/blobs/uploads/", 0},
				{"PATCH", "/v2/a/blobs/uploads/123", 1000},
				{"PUT", "/v2/a/blobs/uploads/123?digest=sha256:1", 0},
			},
			want: counts{Requests: 3, BytesUploaded: 1000, BlobUploads: 1},
		},
		{
			name: "a monolithic blob upload",
			reqs: []req{{"PUT", "/v2/a/blobs/uploads/9?digest=sha256:2", 300}},
			want: counts{Requests: 1, BytesUploaded: 300, BlobUploads: 1},
		},
		{
			name: "a manifest put is bytes, not a blob upload",
			reqs: []req{{"PUT", "/v2/a/manifests/latest", 500}},
			want: counts{Requests: 1, BytesUploaded: 500},
		},
		{
			name: "unknown length is not counted as bytes",
			reqs: []req{{"PATCH", "/v2/a/blobs/uploads/1", -1}},
			want: counts{Requests: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var reached int
			c := New(WithTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
				reached++
				return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
			})))
			rt := &countingTransport{base: c.base, stats: c.Stats()}
			for _, r := range tt.reqs {
				hr, err := http.NewRequest(r.method, "http://127.0.0.1:5000"+r.url, nil)
				if err != nil {
					t.Fatal(err)
				}
				hr.ContentLength = r.length
				resp, err := rt.RoundTrip(hr)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			st := c.Stats()
			got := counts{st.Requests.Load(), st.BytesUploaded.Load(), st.BlobUploads.Load()}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("counts mismatch (-want +got):\n%s", diff)
			}
			if reached != len(tt.reqs) {
				t.Errorf("%d requests reached the base transport, want %d", reached, len(tt.reqs))
			}
		})
	}
}

func TestManifestHelpers(t *testing.T) {
	t.Parallel()
	img := fluxImage(t, "content")
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseManifest(raw, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Digest, digestOf(t, img); got != want {
		t.Errorf("Digest = %s, want %s", got, want)
	}
	if got, want := m.MediaType, "application/vnd.oci.image.manifest.v1+json"; got != want {
		t.Errorf("MediaType (from the manifest) = %q, want %q", got, want)
	}
	if got, ok := m.LayerDigest(); !ok || got != layerDigestOf(t, img) {
		t.Errorf("LayerDigest() = %s, %v", got, ok)
	}
	if got, want := m.Annotation("org.opencontainers.image.source"), "https://github.com/acme/apps"; got != want {
		t.Errorf("Annotation = %q, want %q", got, want)
	}
	if got := m.Annotation("absent"); got != "" {
		t.Errorf("Annotation(absent) = %q", got)
	}
	wantSize := int64(len(raw)) + m.Parsed.Config.Size + m.Parsed.Layers[0].Size
	if got := m.Size(); got != wantSize {
		t.Errorf("Size() = %d, want %d", got, wantSize)
	}

	// An index is not a single-layer artifact.
	index := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)
	im, err := parseManifest(index, "")
	if err != nil {
		t.Fatal(err)
	}
	if im.Parsed != nil {
		t.Errorf("an index parsed as an image manifest")
	}
	if _, ok := im.LayerDigest(); ok {
		t.Errorf("LayerDigest() of an index is ok")
	}
	if got, want := im.Size(), int64(len(index)); got != want {
		t.Errorf("Size() of an index = %d, want %d", got, want)
	}
	if got, want := im.MediaType, "application/vnd.oci.image.index.v1+json"; got != want {
		t.Errorf("MediaType of an index = %q, want %q", got, want)
	}

	// A media type given by the registry wins over the body's.
	given, err := parseManifest(raw, "application/vnd.custom")
	if err != nil || given.MediaType != "application/vnd.custom" {
		t.Errorf("parseManifest with a media type = %v, %v", given, err)
	}

	if _, err := parseManifest([]byte("not json"), ""); err == nil || !strings.HasPrefix(err.Error(), "parsing manifest sha256:") {
		t.Errorf("parseManifest(garbage) = %v, want an error naming the digest", err)
	}

	var none *Manifest
	if _, ok := none.LayerDigest(); ok || none.Annotation("x") != "" || none.Size() != 0 {
		t.Errorf("nil Manifest helpers are not zero")
	}
	if (&Manifest{Parsed: &v1.Manifest{}}).Annotation("x") != "" {
		t.Errorf("Annotation on a manifest without annotations is not empty")
	}
}
