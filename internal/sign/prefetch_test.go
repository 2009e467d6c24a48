package sign_test

import (
	"context"
	"testing"

	"github.com/fleetpush/fleetpush/internal/sign"
	"github.com/fleetpush/fleetpush/internal/testenv"
)

// TestPrefetchIsForItsDigestOnly: a run verifies the digest it built while it reads the tags
// (Prefetch), and the registry may hold another digest. What was read of the one must never
// decide the other: a signed digest's prefetch leaves an unsigned one to be signed (healed), an
// unsigned digest's prefetch leaves a signed one found signed, and the prefetched digest itself
// takes its prefetch (or, once dropped, reads again) with the same outcome.
func TestPrefetchIsForItsDigestOnly(t *testing.T) {
	env := testenv.Sigstore(t)
	host := testenv.Registry(t)
	ctx := context.Background()
	id := e2eIdentity(env, e2eRepo, e2eRef, "frontend")
	claims := testenv.GitHubClaims(e2eRepo, e2eWorkflow, e2eRef)
	repo := "acme/d2-apps/prefetch"
	signed, unsigned := pushRandom(t, host, repo), pushRandom(t, host, repo)

	s := keyless(t, env, env.OIDC.Grant(claims), id)
	if res, err := s.Sign(ctx, signed); err != nil || res.Status != sign.StatusNew {
		t.Fatalf("Sign(signed) = %+v, %v; want new", res, err)
	}

	// A fresh run: its signer has read nothing yet.
	s = keyless(t, env, env.OIDC.Grant(claims), id)
	pf, ok := s.(sign.Prefetcher)
	if !ok {
		t.Fatal("the keyless signer is no Prefetcher")
	}
	dropSigned := pf.Prefetch(ctx, signed)
	defer dropSigned()
	res, err := s.Sign(ctx, unsigned, sign.Reused(true))
	if err != nil || res.Status != sign.StatusHealed || res.Legacy != sign.AttachedNew || res.Bundle != sign.AttachedNew {
		t.Errorf("Sign(unsigned) beside the prefetch of a signed digest = %+v, %v; want healed, every format new", res, err)
	}

	// The prefetched digest takes its own prefetch: found signed, nothing added.
	res, err = s.Sign(ctx, signed, sign.Reused(true))
	if err != nil || res.Status != sign.StatusExisting || res.Legacy != sign.AttachedExisting || res.Bundle != sign.AttachedExisting || res.Verification == nil {
		t.Errorf("Sign(signed) after its prefetch = %+v, %v; want existing, verified", res, err)
	}

	// Another unsigned digest prefetched, then dropped: the signed one still reads its own.
	other := pushRandom(t, host, repo)
	drop := pf.Prefetch(ctx, other)
	res, err = s.Sign(ctx, signed, sign.Reused(true))
	if err != nil || res.Status != sign.StatusExisting {
		t.Errorf("Sign(signed) beside the prefetch of an unsigned digest = %+v, %v; want existing", res, err)
	}
	drop()
	res, err = s.Sign(ctx, other, sign.Reused(true))
	if err != nil || res.Status != sign.StatusHealed {
		t.Errorf("Sign(other) after its prefetch was dropped = %+v, %v; want healed", res, err)
	}
	if err := s.Verify(ctx, unsigned); err != nil {
		t.Errorf("Verify(unsigned) after it was healed: %v", err)
	}
}
