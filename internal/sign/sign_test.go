package sign_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/cosign"

	"github.com/fleetpush/fleetpush/internal/sign"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestExpectedIdentity(t *testing.T) {
	t.Parallel()
	const wf = "acme/d2-apps/.github/workflows/release.yaml"
	tests := []struct {
		name                                      string
		server, repo, workflowRef, ref, component string
		want                                      sign.Identity
		matches, rejects                          []string
	}{{
		name: "component release binds the component",
		repo: "acme/d2-apps", workflowRef: wf + "@refs/tags/frontend/v1.2.3", ref: "refs/tags/frontend/v1.2.3", component: "frontend",
		want: sign.Identity{
			Issuer:  `^https://token\.actions\.githubusercontent\.com$`,
			Subject: `^https://github\.com/acme/d2-apps/\.github/workflows/release\.yaml@refs/tags/frontend/v.*$`,
		},
		matches: []string{"https://github.com/acme/d2-apps/.github/workflows/release.yaml@refs/tags/frontend/v2.0.0"},
		rejects: []string{
			"https://github.com/acme/d2-apps/.github/workflows/release.yaml@refs/tags/backend/v2.0.0",
			"https://github.com/acme/d2-apps/.github/workflows/release.yaml@refs/heads/main",
			"https://github.com/acme/d2-other/.github/workflows/release.yaml@refs/tags/frontend/v2.0.0",
			"https://github.com/acme/d2-apps/.github/workflows/push.yaml@refs/tags/frontend/v2.0.0",
		},
	}, {
		name: "single-artifact release",
		repo: "acme/d2-fleet", workflowRef: "acme/d2-fleet/.github/workflows/release.yaml@refs/tags/v1.0.0", ref: "refs/tags/v1.0.0",
		want: sign.Identity{
			Issuer:  `^https://token\.actions\.githubusercontent\.com$`,
			Subject: `^https://github\.com/acme/d2-fleet/\.github/workflows/release\.yaml@refs/tags/v.*$`,
		},
	}, {
		name: "branch push is exact",
		repo: "acme/d2-apps", workflowRef: "acme/d2-apps/.github/workflows/push.yaml@refs/heads/main", ref: "refs/heads/main", component: "frontend",
		want: sign.Identity{
			Issuer:  `^https://token\.actions\.githubusercontent\.com$`,
			Subject: `^https://github\.com/acme/d2-apps/\.github/workflows/push\.yaml@refs/heads/main$`,
		},
		rejects: []string{"https://github.com/acme/d2-apps/.github/workflows/push.yaml@refs/heads/mainline"},
	}, {
		name: "no workflow ref: any workflow of the repository",
		repo: "acme/d2-apps", ref: "refs/heads/main",
		want: sign.Identity{
			Issuer:  `^https://token\.actions\.githubusercontent\.com$`,
			Subject: `^https://github\.com/acme/d2-apps/\.github/workflows/[^/@]+@refs/heads/main$`,
		},
	}, {
		name:   "enterprise server",
		server: "https://ghe.example.com/", repo: "acme/app", workflowRef: "acme/app/.github/workflows/push.yaml@refs/heads/main", ref: "refs/heads/main",
		want: sign.Identity{
			Issuer:  `^https://ghe\.example\.com/_services/token$`,
			Subject: `^https://ghe\.example\.com/acme/app/\.github/workflows/push\.yaml@refs/heads/main$`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := sign.ExpectedIdentity(tt.server, tt.repo, tt.workflowRef, tt.ref, tt.component)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ExpectedIdentity() (-want +got):\n%s", diff)
			}
			re := regexp.MustCompile(got.Subject)
			for _, s := range tt.matches {
				if !re.MatchString(s) {
					t.Errorf("subject %q does not match %q", got.Subject, s)
				}
			}
			for _, s := range tt.rejects {
				if re.MatchString(s) {
					t.Errorf("subject %q matches %q", got.Subject, s)
				}
			}
		})
	}
}

// memRegistry is go-containerregistry's in-memory registry, for the tests that need no
// Sigstore servers.
func memRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// pushRandom pushes a small random image to host/repo and returns its digest.
func pushRandom(t testing.TB, host, repo string) name.Digest {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/" + repo + ":tmp")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(h.String())
}

// signatureCount is the number of signature layers in the .sig manifest of d.
func signatureCount(t testing.TB, d name.Digest) int {
	t.Helper()
	tag := d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + ".sig")
	img, err := remote.Image(tag)
	if err != nil {
		return 0
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return len(m.Layers)
}

func writeKeyPair(t *testing.T, password string) (priv, pub string) {
	t.Helper()
	kb, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return []byte(password), nil })
	if err != nil {
		t.Fatal(err)
	}
	return string(kb.PrivateBytes), string(kb.PublicBytes)
}

func TestKeyMode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := memRegistry(t)
	key, pub := writeKeyPair(t, "s3cret")
	keyFile := t.TempDir() + "/cosign.key"
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := sign.New(ctx, sign.Options{Mode: sign.ModeKey, Key: keyFile, KeyPassword: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sign.PublicKey(key, "s3cret"); err != nil || string(got) != pub {
		t.Errorf("PublicKey() = %q, %v; want %q", got, err, pub)
	}
	d := pushRandom(t, host, "acme/app/frontend")

	if err := s.Verify(ctx, d); !errors.Is(err, sign.ErrVerify) {
		t.Fatalf("Verify(unsigned) = %v, want ErrVerify", err)
	}
	gone := d.Context().Digest("sha256:" + strings.Repeat("1", 64))
	if err := s.Verify(ctx, gone); !errors.Is(err, sign.ErrVerify) || !strings.Contains(err.Error(), "not in the registry") {
		t.Errorf("Verify(missing digest) = %v, want ErrVerify saying it is not in the registry", err)
	}
	if _, err := s.Sign(ctx, gone); err == nil || !strings.Contains(err.Error(), "not in the registry") {
		t.Errorf("Sign(missing digest) = %v, want an error saying it is not in the registry", err)
	}
	res, err := s.Sign(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	want := sign.Result{Status: sign.StatusNew, Identity: "key", RekorLogIndex: -1, Legacy: sign.AttachedNew, Bundle: sign.AttachedNew,
		Verification: &sign.Verification{Format: sign.FormatBundle, Identity: "key"}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("first Sign (-want +got):\n%s", diff)
	}
	if err := s.Verify(ctx, d); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	res, err = s.Sign(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sign.StatusExisting {
		t.Errorf("second Sign status = %q, want %q", res.Status, sign.StatusExisting)
	}
	if n := signatureCount(t, d); n != 1 {
		t.Errorf("signatures after re-run = %d, want 1", n)
	}

	// Another key neither verifies the signature nor counts it as existing.
	otherKey, _ := writeKeyPair(t, "other")
	other, err := sign.New(ctx, sign.Options{Mode: sign.ModeKey, Key: otherKey, KeyPassword: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Verify(ctx, d); !errors.Is(err, sign.ErrVerify) {
		t.Errorf("Verify with another key = %v, want ErrVerify", err)
	}
	if !strings.Contains(s.Snippet(), "secretRef:") {
		t.Errorf("key Snippet() = %q, want a secretRef", s.Snippet())
	}
	if _, err := sign.New(ctx, sign.Options{Mode: sign.ModeKey, Key: keyFile, KeyPassword: "wrong"}); err == nil || !strings.Contains(err.Error(), "COSIGN_PASSWORD") {
		t.Errorf("New with a wrong password = %v, want a hint at COSIGN_PASSWORD", err)
	}
}

func TestNoneMode(t *testing.T) {
	t.Parallel()
	s, err := sign.New(context.Background(), sign.Options{Mode: sign.ModeNone})
	if err != nil {
		t.Fatal(err)
	}
	d, err := name.NewDigest("127.0.0.1:1/a@sha256:" + strings.Repeat("0", 64))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Sign(context.Background(), d)
	if err != nil || res.Status != sign.StatusUnsigned || res.RekorLogIndex != -1 {
		t.Errorf("Sign() = %+v, %v", res, err)
	}
	if _, err := sign.New(context.Background(), sign.Options{Mode: "sometimes"}); err == nil {
		t.Error("New(mode sometimes) succeeded")
	}
}

// TestMissingIDTokenPermission: a workflow without `permissions: id-token: write` has no
// ACTIONS_ID_TOKEN_REQUEST_* variables; the error must say what to add.
func TestMissingIDTokenPermission(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := memRegistry(t)
	d := pushRandom(t, host, "acme/app/frontend")
	root, rekorKey := testRoot(t)
	s, err := sign.New(ctx, sign.Options{
		Mode:           sign.ModeKeyless,
		FulcioURL:      "http://127.0.0.1:1",
		RekorURL:       "http://127.0.0.1:1",
		FulcioRoot:     root,
		RekorPublicKey: rekorKey,
		TLogUpload:     true,
		Expected:       sign.ExpectedIdentity("", "acme/app", "", "refs/heads/main", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Sign(ctx, d)
	if !errors.Is(err, sign.ErrNoIDToken) {
		t.Fatalf("Sign() = %v, want ErrNoIDToken", err)
	}
	for _, want := range []string{"permissions:", "id-token: write", "sign: key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if n := signatureCount(t, d); n != 0 {
		t.Errorf("signatures = %d, want 0", n)
	}
}
