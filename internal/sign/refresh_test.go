package sign

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestCertificateRefresh: a run longer than the certificate's life gets a new token and
// certificate instead of signing with an expired one. A margin longer than Fulcio's 10 minutes
// makes every certificate look about to expire.
func TestCertificateRefresh(t *testing.T) {
	env := testenv.Sigstore(t)
	host := testenv.Registry(t)
	ctx := context.Background()
	grant := env.OIDC.Grant(testenv.GitHubClaims("acme/app", "push.yaml", "refs/heads/main"))
	id := ExpectedIdentity("", "acme/app", "acme/app/.github/workflows/push.yaml@refs/heads/main", "refs/heads/main", "")
	id.Issuer = "^" + regexp.QuoteMeta(env.OIDC.URL) + "$"
	s, err := newCosignSigner(Options{
		Mode: ModeKeyless, FulcioURL: env.FulcioURL, RekorURL: env.RekorURL,
		FulcioRoot: env.FulcioRoot, RekorPublicKey: env.RekorPublicKeyFile, TLogUpload: true,
		TokenRequestURL: grant.RequestURL, TokenRequestToken: grant.RequestToken,
		Expected: id, Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.margin = 11 * time.Minute

	for i := range 2 {
		img, err := random.Image(32, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(host + "/acme/app/refresh:tmp")
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		h, _ := img.Digest()
		d := ref.Context().Digest(h.String())
		if _, err := s.Sign(ctx, d); err != nil {
			t.Fatalf("Sign %d: %v", i, err)
		}
		if err := s.Verify(ctx, d); err != nil {
			t.Fatalf("Verify %d: %v", i, err)
		}
	}
	if n := grant.Requests(); n != 2 {
		t.Errorf("tokens requested = %d, want 2 (one per expiring certificate)", n)
	}
}
