package sign_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/fleetpush/fleetpush/internal/sign"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// The end-to-end tests run the real Fulcio, Rekor (over Trillian and MariaDB) and CNCF
// distribution registry on loopback; only GitHub's token service is a stand-in.

const (
	e2eRepo     = "acme/d2-apps"
	e2eWorkflow = "release.yaml"
	e2eRef      = "refs/tags/frontend/v1.2.3"
)

// e2eIdentity is the identity a release of frontend from acme/d2-apps must carry, with the
// stand-in's issuer in place of GitHub's.
func e2eIdentity(env *testenv.SigstoreEnv, repo, ref, component string) sign.Identity {
	id := sign.ExpectedIdentity("https://github.com", repo, repo+"/.github/workflows/"+e2eWorkflow+"@"+ref, ref, component)
	id.Issuer = "^" + regexp.QuoteMeta(env.OIDC.URL) + "$"
	return id
}

// keyless is a fresh run's Signer: its own token grant, the stack's trust root.
func keyless(t testing.TB, env *testenv.SigstoreEnv, grant *testenv.Grant, id sign.Identity, edit ...func(*sign.Options)) sign.Signer {
	t.Helper()
	o := sign.Options{
		Mode:           sign.ModeKeyless,
		FulcioURL:      env.FulcioURL,
		RekorURL:       env.RekorURL,
		FulcioRoot:     env.FulcioRootFile,
		RekorPublicKey: env.RekorPublicKey,
		TLogUpload:     true,
		Expected:       id,
		Logf:           t.Logf,
	}
	if grant != nil {
		o.TokenRequestURL, o.TokenRequestToken = grant.RequestURL, grant.RequestToken
	}
	for _, e := range edit {
		e(&o)
	}
	s, err := sign.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKeylessEndToEnd(t *testing.T) {
	env := testenv.Sigstore(t)
	host := testenv.Registry(t)
	ctx := context.Background()
	id := e2eIdentity(env, e2eRepo, e2eRef, "frontend")
	claims := testenv.GitHubClaims(e2eRepo, e2eWorkflow, e2eRef)

	d := pushRandom(t, host, "acme/d2-apps/frontend")
	grant := env.OIDC.Grant(claims)
	s := keyless(t, env, grant, id)
	res, err := s.Sign(ctx, d)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	wantIdentity := "https://github.com/" + e2eRepo + "/.github/workflows/" + e2eWorkflow + "@" + e2eRef
	if res.Status != sign.StatusNew || res.Identity != wantIdentity || res.RekorLogIndex < 0 {
		t.Errorf("Sign() = %+v, want new, %s, a log index", res, wantIdentity)
	}
	if err := s.Verify(ctx, d); err != nil {
		t.Fatalf("Verify with the right identity: %v", err)
	}
	if !strings.Contains(s.Snippet(), "subject: '"+id.Subject+"'") || !strings.Contains(s.Snippet(), "provider: cosign") {
		t.Errorf("Snippet() = %q", s.Snippet())
	}

	t.Run("rejected", func(t *testing.T) {
		// Verify checks the bundle (Flux's order): sigstore-go's words; the legacy signature
		// is cosign's.
		const noIdentity = "no matching CertificateIdentity|none of the expected identities matched"
		otherRoot, otherKey := testRoot(t)
		tests := []struct {
			name   string
			id     sign.Identity
			edit   func(*sign.Options)
			reason string
		}{
			{name: "wrong ref", id: e2eIdentity(env, e2eRepo, "refs/tags/backend/v1.2.3", "backend"), reason: noIdentity},
			{name: "branch ref", id: e2eIdentity(env, e2eRepo, "refs/heads/main", ""), reason: noIdentity},
			{name: "wrong repository", id: e2eIdentity(env, "acme/d2-infra", e2eRef, "frontend"), reason: noIdentity},
			{name: "wrong issuer", id: sign.Identity{Issuer: `^https://token\.actions\.githubusercontent\.com$`, Subject: id.Subject}, reason: noIdentity},
			{name: "wrong root", id: id, edit: func(o *sign.Options) { o.FulcioRoot = otherRoot }, reason: "does not chain to the trust root|signed by unknown authority"},
			{name: "foreign rekor key", id: id, edit: func(o *sign.Options) { o.RekorPublicKey = otherKey }, reason: "is from a log of the trust root|rekor log public key not found"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				v := keyless(t, env, nil, tt.id, func(o *sign.Options) {
					if tt.edit != nil {
						tt.edit(o)
					}
				})
				err := v.Verify(ctx, d)
				if !errors.Is(err, sign.ErrVerify) {
					t.Fatalf("Verify() = %v, want ErrVerify", err)
				}
				if !regexp.MustCompile(tt.reason).MatchString(err.Error()) {
					t.Errorf("Verify() = %v, want it rejected for %q", err, tt.reason)
				}
			})
		}
	})

	t.Run("signature without a log entry is rejected", func(t *testing.T) {
		unlogged := pushRandom(t, host, "acme/d2-apps/unlogged")
		off := keyless(t, env, env.OIDC.Grant(claims), id, func(o *sign.Options) { o.TLogUpload = false })
		res, err := off.Sign(ctx, unlogged)
		if err != nil {
			t.Fatal(err)
		}
		if res.RekorLogIndex != -1 {
			t.Errorf("Sign() = %+v, want no log index", res)
		}
		// The verifier of a normal run requires the log, as Flux does.
		if err := s.Verify(ctx, unlogged); !errors.Is(err, sign.ErrVerify) || !strings.Contains(err.Error(), "transparency log") {
			t.Errorf("Verify() = %v, want ErrVerify for the missing log entry", err)
		}
	})

	t.Run("re-run adds no signature", func(t *testing.T) {
		again := env.OIDC.Grant(claims)
		res, err := keyless(t, env, again, id).Sign(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != sign.StatusExisting || res.Identity != wantIdentity || res.RekorLogIndex < 0 {
			t.Errorf("Sign() = %+v, want existing", res)
		}
		if n := signatureCount(t, d); n != 1 {
			t.Errorf("signatures = %d, want 1", n)
		}
		if n := again.Requests(); n != 0 {
			t.Errorf("a re-run with nothing to sign requested %d tokens, want 0", n)
		}
	})

	t.Run("unsigned digest of a killed run is healed", func(t *testing.T) {
		left := pushRandom(t, host, "acme/d2-apps/backend")
		if err := s.Verify(ctx, left); !errors.Is(err, sign.ErrVerify) {
			t.Fatalf("Verify(unsigned) = %v, want ErrVerify", err)
		}
		res, err := keyless(t, env, env.OIDC.Grant(claims), id).Sign(ctx, left, sign.Reused(true))
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != sign.StatusHealed {
			t.Errorf("Sign() status = %q, want healed", res.Status)
		}
		if err := s.Verify(ctx, left); err != nil {
			t.Errorf("Verify(healed): %v", err)
		}
	})

	// The D2 flow: the push workflow signs a digest on main; the release of the same content
	// reuses that digest and must add its own signature, which production clusters require.
	t.Run("release of a digest signed on main adds the release identity", func(t *testing.T) {
		shared := pushRandom(t, host, "acme/d2-apps/shared")
		mainID := e2eIdentity(env, e2eRepo, "refs/heads/main", "")
		onMain := keyless(t, env, env.OIDC.Grant(testenv.GitHubClaims(e2eRepo, e2eWorkflow, "refs/heads/main")), mainID)
		if _, err := onMain.Sign(ctx, shared); err != nil {
			t.Fatal(err)
		}
		release := keyless(t, env, env.OIDC.Grant(claims), id)
		if err := release.Verify(ctx, shared); !errors.Is(err, sign.ErrVerify) {
			t.Fatalf("release Verify before signing = %v, want ErrVerify", err)
		}
		res, err := release.Sign(ctx, shared, sign.Reused(true))
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != sign.StatusHealed || res.Identity != wantIdentity {
			t.Errorf("Sign() = %+v, want healed as %s", res, wantIdentity)
		}
		for _, v := range []sign.Signer{onMain, release} {
			if err := v.Verify(ctx, shared); err != nil {
				t.Errorf("Verify: %v", err)
			}
		}
		if n := signatureCount(t, shared); n != 2 {
			t.Errorf("signatures = %d, want 2", n)
		}
	})

	t.Run("certificate for another identity is refused before writing", func(t *testing.T) {
		other := pushRandom(t, host, "acme/d2-apps/other")
		wrong := env.OIDC.Grant(testenv.GitHubClaims(e2eRepo, e2eWorkflow, "refs/heads/feature"))
		_, err := keyless(t, env, wrong, id).Sign(ctx, other)
		if err == nil || !strings.Contains(err.Error(), "does not match the expected subject") {
			t.Errorf("Sign() = %v, want a subject mismatch", err)
		}
		if n := signatureCount(t, other); n != 0 {
			t.Errorf("signatures = %d, want 0", n)
		}
	})

	t.Run("missing digest costs no token", func(t *testing.T) {
		g := env.OIDC.Grant(claims)
		gone := d.Context().Digest("sha256:" + strings.Repeat("2", 64))
		_, err := keyless(t, env, g, id).Sign(ctx, gone)
		if err == nil || !strings.Contains(err.Error(), "not in the registry") {
			t.Errorf("Sign() = %v, want an error saying the digest is not in the registry", err)
		}
		if n := g.Requests(); n != 0 {
			t.Errorf("tokens requested = %d, want 0", n)
		}
	})

	t.Run("no token permission", func(t *testing.T) {
		other := pushRandom(t, host, "acme/d2-apps/other2")
		bad := &testenv.Grant{RequestURL: grant.RequestURL, RequestToken: "not-a-grant"}
		_, err := keyless(t, env, bad, id).Sign(ctx, other)
		if !errors.Is(err, sign.ErrNoIDToken) || !strings.Contains(err.Error(), "id-token: write") {
			t.Errorf("Sign() = %v, want ErrNoIDToken with the permissions YAML", err)
		}
	})
}

// TestKeylessManyComponents: 50 components cost one token and one certificate, and are
// signed concurrently.
func TestKeylessManyComponents(t *testing.T) {
	env := testenv.Sigstore(t)
	host := testenv.Registry(t)
	ctx := context.Background()
	id := e2eIdentity(env, e2eRepo, "refs/heads/main", "")
	grant := env.OIDC.Grant(testenv.GitHubClaims(e2eRepo, e2eWorkflow, "refs/heads/main"))
	s := keyless(t, env, grant, id)

	digests := make([]name.Digest, 50)
	for i := range digests {
		digests[i] = pushRandom(t, host, fmt.Sprintf("acme/d2-apps/c%02d", i))
	}
	certsBefore, err := env.FulcioCertificates()
	if err != nil {
		t.Fatal(err)
	}
	results, err := signAll(ctx, s, digests)
	if err != nil {
		t.Fatal(err)
	}
	certsAfter, err := env.FulcioCertificates()
	if err != nil {
		t.Fatal(err)
	}
	if n := grant.Requests(); n != 1 {
		t.Errorf("OIDC tokens requested = %d, want 1", n)
	}
	if n := certsAfter - certsBefore; n != 1 {
		t.Errorf("Fulcio certificates issued = %d, want 1", n)
	}
	seen := map[int64]bool{}
	for i, r := range results {
		if r.Status != sign.StatusNew || r.RekorLogIndex < 0 || seen[r.RekorLogIndex] {
			t.Errorf("result %d = %+v", i, r)
		}
		seen[r.RekorLogIndex] = true
		if err := s.Verify(ctx, digests[i]); err != nil {
			t.Errorf("Verify(%s): %v", digests[i], err)
		}
	}
}

// signAll signs digests concurrently, as the pipeline does for its components.
func signAll(ctx context.Context, s sign.Signer, digests []name.Digest, opts ...sign.SignOption) ([]sign.Result, error) {
	return signPool(ctx, s, digests, len(digests), opts...)
}

// signPool signs digests with at most workers at a time, as the pipeline's pool does.
func signPool(ctx context.Context, s sign.Signer, digests []name.Digest, workers int, opts ...sign.SignOption) ([]sign.Result, error) {
	results := make([]sign.Result, len(digests))
	errs := make([]error, len(digests))
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, d := range digests {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i], errs[i] = s.Sign(ctx, d, opts...)
		}()
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

// TestKeyModeWithRekor: a cosign key's signatures are recorded in the log too when tlog-upload
// is on, and checked against the log's key (rekor-public-key), as `cosign verify --key` does.
func TestKeyModeWithRekor(t *testing.T) {
	env := testenv.Sigstore(t)
	host := testenv.Registry(t)
	ctx := context.Background()
	key, _ := writeKeyPair(t, "pw")
	s, err := sign.New(ctx, sign.Options{Mode: sign.ModeKey, Key: key, KeyPassword: "pw", RekorURL: env.RekorURL, RekorPublicKey: env.RekorPublicKeyFile, TLogUpload: true})
	if err != nil {
		t.Fatal(err)
	}
	d := pushRandom(t, host, "acme/d2-apps/keyed")
	res, err := s.Sign(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sign.StatusNew || res.RekorLogIndex < 0 {
		t.Errorf("Sign() = %+v, want new with a log index", res)
	}
	if err := s.Verify(ctx, d); err != nil {
		t.Errorf("Verify: %v", err)
	}

	// Another log key than the log's: its entries are from no trusted log. Verify refuses the
	// signature, and Sign refuses to store one before anything is written.
	_, otherKey := testRoot(t)
	v, err := sign.New(ctx, sign.Options{Mode: sign.ModeKey, Key: key, KeyPassword: "pw", RekorURL: env.RekorURL, RekorPublicKey: otherKey, TLogUpload: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(ctx, d); !errors.Is(err, sign.ErrVerify) {
		t.Errorf("Verify with another log key = %v, want ErrVerify", err)
	}
	d2 := pushRandom(t, host, "acme/d2-apps/keyed-untrusted")
	if _, err := v.Sign(ctx, d2); err == nil || !strings.Contains(err.Error(), "trusted log key") {
		t.Errorf("Sign with another log key = %v, want a refusal naming the log key", err)
	}
	if n, m := signatureCount(t, d2), referrerCount(t, d2); n+m != 0 {
		t.Errorf("stored %d legacy signatures and %d referrers, want none", n, m)
	}
}

// BenchmarkSign50 signs 50 freshly pushed digests per iteration against the loopback stack, as
// a publish run does: a look for an earlier signature, then one token and one certificate for
// all, 50 signature pushes and (with tlog) 50 Rekor entries, all concurrent.
func BenchmarkSign50(b *testing.B) {
	env := testenv.Sigstore(b)
	host := testenv.Registry(b)
	ctx := context.Background()
	id := e2eIdentity(env, e2eRepo, "refs/heads/main", "")
	claims := testenv.GitHubClaims(e2eRepo, e2eWorkflow, "refs/heads/main")
	for _, tlog := range []bool{true, false} {
		b.Run(fmt.Sprintf("tlog=%t", tlog), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				digests := make([]name.Digest, 50)
				for j := range digests {
					digests[j] = pushRandom(b, host, fmt.Sprintf("acme/d2-apps/b%t-%d-c%02d", tlog, i, j))
				}
				s := keyless(b, env, env.OIDC.Grant(claims), id, func(o *sign.Options) {
					o.Logf = nil
					o.TLogUpload = tlog
				})
				b.StartTimer()
				if _, err := signAll(ctx, s, digests); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
