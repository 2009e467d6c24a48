package app

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/fleetpush/fleetpush/internal/report"
	"github.com/fleetpush/fleetpush/internal/sign"
)

// idSigners stand for keyless signing: a digest is signed for the identity (subject pattern) the
// signer was made for, and verifies only for that identity.
type idSigners struct {
	mu     sync.Mutex
	signed map[string]string // repo@digest → subject pattern
}

type idSigner struct {
	s       *idSigners
	subject string
}

func (s *idSigners) factory(_ context.Context, o sign.Options) (sign.Signer, error) {
	return &idSigner{s: s, subject: o.Expected.Subject}, nil
}

func idKey(ref name.Digest) string { return ref.Context().RepositoryStr() + "@" + ref.DigestStr() }

func (g *idSigner) Sign(_ context.Context, ref name.Digest, _ ...sign.SignOption) (sign.Result, error) {
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	if g.s.signed[idKey(ref)] == g.subject {
		return sign.Result{Status: sign.StatusExisting, Identity: g.subject, RekorLogIndex: -1}, nil
	}
	g.s.signed[idKey(ref)] = g.subject
	return sign.Result{Status: sign.StatusNew, Identity: g.subject, RekorLogIndex: -1}, nil
}

func (g *idSigner) Verify(_ context.Context, ref name.Digest) error {
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	if got := g.s.signed[idKey(ref)]; got != g.subject {
		return fmt.Errorf("%s: %w: signed for %q, not %q", ref, sign.ErrVerify, got, g.subject)
	}
	return nil
}

func (g *idSigner) Verification(ctx context.Context, ref name.Digest) (sign.Verification, error) {
	if err := g.Verify(ctx, ref); err != nil {
		return sign.Verification{}, err
	}
	return sign.Verification{Format: sign.FormatLegacy, Identity: g.subject}, nil
}

func (g *idSigner) Snippet() string { return "verify:\n  provider: cosign\n" }

// TestVerifyPromotedLatest: after promote --channel latest, latest holds a release signed by the
// release workflow; verify checks it for that identity (and latest-stable as before), while a
// latest that is a main build is still checked for the main branch's.
func TestVerifyPromotedLatest(t *testing.T) {
	t.Parallel()
	e := newMemEnv(t)
	ids := &idSigners{signed: map[string]string{}}
	opts := []Option{WithSigner(ids.factory), WithClock(stoppedClock{})}
	base := []string{"--source", e.repo.Dir, "--repository", e.host + "/acme/apps", "--sign", "key", "--cosign-key", "fake"}
	runIt := func(args ...string) (int, map[string]report.Result, string) {
		return publishJSONWith(t, nil, opts, append(args, base...)...)
	}
	code, _, stderr := runIt("publish", "--components", "frontend", "--ref", "refs/heads/main")
	mustCode(t, code, ExitOK, stderr)
	e.repo.Git("tag", "frontend/v1.0.0")
	code, _, stderr = runIt("publish", "--ref", "refs/tags/frontend/v1.0.0")
	mustCode(t, code, ExitOK, stderr)
	e.repo.Write("components/frontend/base/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: frontend\ndata:\n  k: v\n")
	e.repo.Commit("frontend: extra")
	code, _, stderr = runIt("publish", "--components", "frontend", "--ref", "refs/heads/main")
	mustCode(t, code, ExitOK, stderr)

	verify := func() report.Result {
		t.Helper()
		code, rs, stderr := runIt("verify", "--components", "frontend")
		mustCode(t, code, ExitOK, stderr)
		return rs["frontend"]
	}
	if r := verify(); r.Status != report.Verified || strings.Join(r.Tags, ",") != "latest,latest-stable" {
		t.Fatalf("verify before the rollback = %+v, want latest and latest-stable verified", r)
	}
	code, _, stderr = runIt("promote", "--components", "frontend", "--version", "v1.0.0", "--channel", "latest")
	mustCode(t, code, ExitOK, stderr)
	if r := verify(); r.Status != report.Verified || strings.Join(r.Tags, ",") != "latest,latest-stable" {
		t.Errorf("verify after promote --channel latest = %+v, want latest verified as the release it holds", r)
	}
}
